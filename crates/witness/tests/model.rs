//! Model test of the witness: random sequences of checkpoints of one origin — consistent
//! growth, forks (other entries after a common prefix, so another root at a size), repeated
//! and stale submissions with right or wrong old sizes and proofs — and restarts that reopen
//! the witness's directory.
//!
//! Properties, checked against a naive reference (every history's leaves, roots recomputed
//! with `MemoryTree`):
//! - safety: the witness never cosigns two checkpoints of the origin that are not consistent
//!   (the smaller one's root is the root of the larger one's first leaves), and its state only
//!   moves forward, across restarts;
//! - liveness: a checkpoint that extends what it cosigned last, sent with the right old size and
//!   proof, is cosigned;
//! - every cosignature it returns verifies with its key over the checkpoint it was asked for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use tanji_ledger::{
    consistency_proof, leaf_hash, sign_checkpoint, verify_cosignatures, Checkpoint, Hash,
    MemoryTree, Note, NoteSigner,
};
use tanji_witness::{AddCheckpoint, Witness};

const ORIGIN: &str = "tanji.test/model-park";

/// One step of a run.
#[derive(Debug, Clone)]
enum Step {
    /// History `h` grows by `n` entries.
    Grow { h: usize, n: u8 },
    /// History `h` becomes a fork of history `of`: its first `at`‰ entries, then its own.
    Fork { h: usize, of: usize, at: u16, n: u8 },
    /// History `h`'s current checkpoint is submitted with an old size chosen by `old`.
    Submit { h: usize, old: OldSize },
    /// The witness process restarts: its directory is opened again.
    Restart,
}

/// Which old size (and proof) a submission carries.
#[derive(Debug, Clone)]
enum OldSize {
    /// The size the witness cosigned last, with a proof from the submitted history.
    Latest,
    /// Some size up to the checkpoint's (‰ of it), with a proof from the submitted history.
    Any(u16),
    /// The latest size, with a proof whose first hash is altered.
    BadProof,
}

const HISTORIES: usize = 3;

fn step() -> impl Strategy<Value = Step> {
    let h = 0..HISTORIES;
    prop_oneof![
        3 => (h.clone(), 1u8..12).prop_map(|(h, n)| Step::Grow { h, n }),
        1 => (h.clone(), 0..HISTORIES, 0u16..=1000, 1u8..8)
            .prop_map(|(h, of, at, n)| Step::Fork { h, of, at, n }),
        4 => (h, prop_oneof![
            3 => Just(OldSize::Latest),
            2 => (0u16..=1000).prop_map(OldSize::Any),
            1 => Just(OldSize::BadProof),
        ])
            .prop_map(|(h, old)| Step::Submit { h, old }),
        1 => Just(Step::Restart),
    ]
}

/// A log history: its leaf hashes.
#[derive(Debug, Clone, Default)]
struct History {
    leaves: Vec<Hash>,
}

impl History {
    fn root_at(&self, size: u64) -> Hash {
        MemoryTree::from_leaf_hashes(self.leaves[..size as usize].iter().copied()).root()
    }

    fn tree(&self) -> MemoryTree {
        MemoryTree::from_leaf_hashes(self.leaves.iter().copied())
    }
}

/// A checkpoint the witness cosigned, with the leaves it commits to.
struct Cosigned {
    size: u64,
    root: Hash,
    leaves: Vec<Hash>,
}

/// Whether `a` and `b` can both be views of one append-only log.
fn consistent(a: &Cosigned, b: &Cosigned) -> bool {
    let (small, large) = if a.size <= b.size { (a, b) } else { (b, a) };
    let prefix = &large.leaves[..small.size as usize];
    MemoryTree::from_leaf_hashes(prefix.iter().copied()).root() == small.root
}

fn run(steps: Vec<Step>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("witness");
    let log = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[42; 32])).unwrap();
    let mut witness = Witness::create(&dir, "witness.test/model").unwrap();
    assert!(witness.add_log(ORIGIN, &log.verifier()).unwrap());
    let key = witness.verifier();

    let mut histories = vec![History::default(); HISTORIES];
    let mut minted = 0u64;
    let mut cosigned: Vec<Cosigned> = Vec::new();
    let mut now = 1_790_812_800u64;
    for step in steps {
        now += 1;
        match step {
            Step::Grow { h, n } => {
                for _ in 0..n {
                    minted += 1;
                    histories[h].leaves.push(leaf_hash(&minted.to_be_bytes()));
                }
            }
            Step::Fork { h, of, at, n } => {
                let base = &histories[of].leaves;
                let keep = base.len() * usize::from(at) / 1000;
                let mut leaves = base[..keep].to_vec();
                for _ in 0..n {
                    minted += 1;
                    leaves.push(leaf_hash(&minted.to_be_bytes()));
                }
                histories[h] = History { leaves };
            }
            Step::Restart => {
                let before = witness.log(ORIGIN).unwrap().unwrap();
                drop(witness);
                witness = Witness::open(&dir).unwrap();
                let after = witness.log(ORIGIN).unwrap().unwrap();
                assert_eq!((before.size, before.root), (after.size, after.root));
                assert_eq!(witness.verifier().to_string(), key.to_string());
            }
            Step::Submit { h, old } => {
                let hist = &histories[h];
                let size = hist.leaves.len() as u64;
                let cp = Checkpoint {
                    origin: ORIGIN.into(),
                    size,
                    root: hist.root_at(size),
                    extensions: Vec::new(),
                };
                let note = sign_checkpoint(&cp, &log).unwrap();
                let state = witness.log(ORIGIN).unwrap().unwrap();
                let old_size = match old {
                    OldSize::Latest | OldSize::BadProof => state.size.min(size),
                    OldSize::Any(per_mille) => size * u64::from(per_mille) / 1000,
                };
                let mut proof = if old_size == 0 {
                    Vec::new()
                } else {
                    consistency_proof(&hist.tree(), old_size, size).unwrap()
                };
                let tampered = matches!(old, OldSize::BadProof) && !proof.is_empty();
                if tampered {
                    proof[0][0] ^= 1;
                }
                let request = AddCheckpoint {
                    old_size,
                    proof,
                    checkpoint: note.clone(),
                };
                // The submitted history extends what the witness cosigned last.
                let extends = size >= state.size
                    && state
                        .root
                        .is_none_or(|r| state.size == 0 || hist.root_at(state.size) == r);
                let expected = extends && old_size == state.size && !tampered;
                match witness.add_checkpoint(request.to_body().as_bytes(), now) {
                    Ok(line) => {
                        let signed = Note::parse(&format!("{note}{line}")).unwrap();
                        let found =
                            verify_cosignatures(&signed, std::slice::from_ref(&key)).unwrap();
                        assert_eq!(found.len(), 1, "the cosignature does not verify");
                        assert_eq!(found[0].timestamp, now);
                        let new = Cosigned {
                            size,
                            root: cp.root,
                            leaves: hist.leaves.clone(),
                        };
                        for earlier in &cosigned {
                            assert!(
                                earlier.size <= new.size,
                                "cosigned size {} after size {}",
                                new.size,
                                earlier.size
                            );
                            assert!(
                                consistent(earlier, &new),
                                "cosigned size {} with a root inconsistent with the cosigned size {}",
                                new.size,
                                earlier.size
                            );
                        }
                        cosigned.push(new);
                    }
                    Err(e) => {
                        assert!(
                            !expected,
                            "a checkpoint of size {size} extending the cosigned size {} with the right proof was refused: {e}",
                            state.size
                        );
                        assert!(
                            [403, 404, 409, 422, 400].contains(&e.status()),
                            "status {} for {e}",
                            e.status()
                        );
                        let after = witness.log(ORIGIN).unwrap().unwrap();
                        assert_eq!(
                            (after.size, after.root),
                            (state.size, state.root),
                            "a refused checkpoint changed the state"
                        );
                    }
                }
                if expected {
                    let after = witness.log(ORIGIN).unwrap().unwrap();
                    assert_eq!((after.size, after.root), (size, Some(cp.root)));
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn never_cosigns_two_inconsistent_checkpoints(steps in prop::collection::vec(step(), 1..40)) {
        run(steps);
    }
}

/// A fixed run that must see every kind of answer: cosigned growth, a fork refused at a
/// larger size and at the same size, and a restart in between.
#[test]
fn a_fork_is_refused_before_and_after_a_restart() {
    run(vec![
        Step::Grow { h: 0, n: 5 },
        Step::Submit {
            h: 0,
            old: OldSize::Latest,
        },
        Step::Fork {
            h: 1,
            of: 0,
            at: 600,
            n: 4,
        },
        Step::Grow { h: 0, n: 2 },
        Step::Submit {
            h: 1,
            old: OldSize::Latest,
        },
        Step::Restart,
        Step::Submit {
            h: 1,
            old: OldSize::Latest,
        },
        Step::Submit {
            h: 0,
            old: OldSize::Latest,
        },
        Step::Submit {
            h: 0,
            old: OldSize::BadProof,
        },
    ]);
}
