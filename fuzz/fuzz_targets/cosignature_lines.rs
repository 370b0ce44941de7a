#![no_main]
//! `tanji_fuzzing::cosignature_lines` under libFuzzer.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tanji_fuzzing::cosignature_lines(data);
});
