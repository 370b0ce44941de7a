#![no_main]
//! `tanji_fuzzing::server_config` under libFuzzer.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tanji_fuzzing::server_config(data);
});
