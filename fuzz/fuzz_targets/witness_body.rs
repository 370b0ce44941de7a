#![no_main]
//! `tanji_fuzzing::witness_body` under libFuzzer.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tanji_fuzzing::witness_body(data);
});
