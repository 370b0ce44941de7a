#![no_main]
//! `tanji_fuzzing::factor_series_csv` under libFuzzer.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tanji_fuzzing::factor_series_csv(data);
});
