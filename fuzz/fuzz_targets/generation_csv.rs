#![no_main]
//! `tanji_fuzzing::generation_csv` under libFuzzer.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tanji_fuzzing::generation_csv(data);
});
