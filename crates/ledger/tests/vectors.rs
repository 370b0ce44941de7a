//! Every RFC 6962 / RFC 9162 proof vector of transparency-dev/merkle (Apache-2.0, copied with
//! its LICENSE into `testdata/transparency-dev-merkle/`): happy paths must verify, every mutated
//! or "want error" case must be rejected.
//!
//! The vectors are written for an API taking byte slices; ours takes `[u8; 32]`. A leaf hash of
//! the wrong length cannot be passed at all (transparency-dev rejects it explicitly, "leafHash
//! has unexpected size"), so such cases must be want-error cases. A root or proof hash of the
//! wrong length can never equal a real hash but may equal another such value, so it is passed as
//! a stand-in: SHA-256 of a marker and the bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tanji_ledger::{verify_consistency, verify_inclusion, Hash};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/transparency-dev-merkle/testdata")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(json_files(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn bytes(v: &Value) -> Vec<u8> {
    BASE64.decode(v.as_str().unwrap()).unwrap()
}

/// A 32-byte value, or a stand-in that equals no real hash for other lengths.
fn hash_or_stand_in(b: &[u8]) -> Hash {
    Hash::try_from(b).unwrap_or_else(|_| {
        Sha256::new()
            .chain_update(b"tanji test stand-in for a non-32-byte hash:")
            .chain_update(b)
            .finalize()
            .into()
    })
}

fn proof(v: &Value) -> Vec<Hash> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(|h| hash_or_stand_in(&bytes(h))).collect(),
        other => panic!("proof is {other}"),
    }
}

#[test]
fn inclusion_vectors() {
    let files = json_files(&testdata().join("inclusion"));
    assert_eq!(files.len(), 98, "expected all 98 inclusion vectors");
    let (mut ok, mut rejected) = (0, 0);
    for file in files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let want_err = case["wantErr"].as_bool().unwrap();
        let index = case["leafIdx"].as_u64().unwrap();
        let size = case["treeSize"].as_u64().unwrap();
        let root = hash_or_stand_in(&bytes(&case["root"]));
        let proof = proof(&case["proof"]);
        let Ok(leaf) = Hash::try_from(bytes(&case["leafHash"])) else {
            assert!(
                want_err,
                "{}: leaf hash of wrong length but not want-error",
                file.display()
            );
            rejected += 1;
            continue;
        };
        let result = verify_inclusion(&leaf, index, size, &proof, &root);
        assert_eq!(
            result.is_err(),
            want_err,
            "{}: {} gave {result:?}",
            file.display(),
            case["desc"]
        );
        if want_err {
            rejected += 1;
        } else {
            ok += 1;
        }
    }
    assert_eq!((ok, rejected), (6, 92));
}

#[test]
fn consistency_vectors() {
    let files = json_files(&testdata().join("consistency"));
    assert_eq!(files.len(), 98, "expected all 98 consistency vectors");
    let (mut ok, mut rejected) = (0, 0);
    for file in files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let want_err = case["wantErr"].as_bool().unwrap();
        let result = verify_consistency(
            case["size1"].as_u64().unwrap(),
            case["size2"].as_u64().unwrap(),
            &hash_or_stand_in(&bytes(&case["root1"])),
            &hash_or_stand_in(&bytes(&case["root2"])),
            &proof(&case["proof"]),
        );
        assert_eq!(
            result.is_err(),
            want_err,
            "{}: {} gave {result:?}",
            file.display(),
            case["desc"]
        );
        if want_err {
            rejected += 1;
        } else {
            ok += 1;
        }
    }
    assert_eq!((ok, rejected), (6, 92));
}

/// The happy-path proofs come from the RFC 6962 reference tree of 8 leaves
/// `"", 0x00, 0x10, 0x2021, 0x3031, 0x40414243, 0x5051525354555657, 0x606162636465666768696a6b6c6d6e6f`;
/// our prover must produce exactly them.
#[test]
fn happy_paths_match_our_prover() {
    let leaves: [&[u8]; 8] = [
        b"",
        &[0x00],
        &[0x10],
        &[0x20, 0x21],
        &[0x30, 0x31],
        &[0x40, 0x41, 0x42, 0x43],
        &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        &[
            0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
            0x6e, 0x6f,
        ],
    ];
    let mut checked = 0;
    for dir in ["inclusion", "consistency"] {
        for file in json_files(&testdata().join(dir)) {
            if !file.ends_with("happy-path.json") {
                continue;
            }
            let case: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let want = proof(&case["proof"]);
            let got = if dir == "inclusion" {
                let size = case["treeSize"].as_u64().unwrap();
                let tree = tanji_ledger::MemoryTree::from_leaf_hashes(
                    leaves[..size as usize]
                        .iter()
                        .map(|l| tanji_ledger::leaf_hash(l)),
                );
                assert_eq!(tree.root(), hash_or_stand_in(&bytes(&case["root"])));
                tanji_ledger::inclusion_proof(&tree, case["leafIdx"].as_u64().unwrap(), size)
                    .unwrap()
            } else {
                let size2 = case["size2"].as_u64().unwrap();
                let tree = tanji_ledger::MemoryTree::from_leaf_hashes(
                    leaves[..size2 as usize]
                        .iter()
                        .map(|l| tanji_ledger::leaf_hash(l)),
                );
                assert_eq!(tree.root(), hash_or_stand_in(&bytes(&case["root2"])));
                tanji_ledger::consistency_proof(&tree, case["size1"].as_u64().unwrap(), size2)
                    .unwrap()
            };
            assert_eq!(got, want, "{}", file.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
}
