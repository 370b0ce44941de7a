#![no_main]
//! `tanji_fuzzing::import_csv` under libFuzzer.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tanji_fuzzing::import_csv(data);
});
