#![no_main]
//! `tanji_fuzzing::tile_path` under libFuzzer.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tanji_fuzzing::tile_path(data);
});
