//! Every fuzz target's committed corpus (`fuzz/corpus/<target>/`) through the target's check,
//! on stable Rust: what the fuzzer found interesting stays a plain test, and a crash input
//! added to a corpus fails `cargo test` until it is fixed.

use std::path::{Path, PathBuf};

use tanji_fuzzing::{Outcome, TARGETS};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

/// The files of one target's corpus, sorted by name.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = corpus_dir().join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; every target needs a corpus", dir.display()));
    let mut files: Vec<(PathBuf, Vec<u8>)> = entries
        .map(|e| {
            let path = e
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, data)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_runs_clean_and_reaches_a_successful_parse() {
    for (target, check) in TARGETS {
        let files = corpus(target);
        assert!(!files.is_empty(), "fuzz/corpus/{target} is empty");
        let parsed = files
            .iter()
            .filter(|(path, data)| {
                let outcome = std::panic::catch_unwind(|| check(data)).unwrap_or_else(|_| {
                    panic!("{target}: {} breaks a property (see above)", path.display())
                });
                outcome == Outcome::Parsed
            })
            .count();
        assert!(
            parsed > 0,
            "{target}: none of the {} corpus files parses, so the round-trip checks never run",
            files.len()
        );
    }
}

#[test]
fn every_target_has_a_fuzz_target_and_every_fuzz_target_a_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".rs")
                .map(String::from)
        })
        .collect();
    on_disk.sort();
    let mut named: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    named.sort();
    assert_eq!(
        on_disk, named,
        "fuzz/fuzz_targets and tanji_fuzzing::TARGETS differ"
    );
    let manifest = std::fs::read_to_string(dir.join("../Cargo.toml")).unwrap_or_default();
    for n in &named {
        assert!(
            manifest.contains(&format!("name = \"{n}\"")),
            "fuzz/Cargo.toml has no [[bin]] {n}"
        );
    }
}

#[test]
fn outcomes_tell_a_parse_from_a_refusal() {
    // The corpus test relies on these: a parse is reported as one, a refusal as a refusal.
    let ok =
        std::fs::read(corpus_dir().join("upload_json/formats-upload.json")).unwrap_or_default();
    assert_eq!(tanji_fuzzing::upload_json(&ok), Outcome::Parsed);
    assert_eq!(tanji_fuzzing::upload_json(b"{}"), Outcome::Refused);
    assert_eq!(tanji_fuzzing::tile_path(b"tile/0/001"), Outcome::Parsed);
    assert_eq!(tanji_fuzzing::tile_path(b"tile/0/1"), Outcome::Refused);
}
