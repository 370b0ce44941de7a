#![no_main]
//! `tanji_fuzzing::exchanges_csv` under libFuzzer.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tanji_fuzzing::exchanges_csv(data);
});
