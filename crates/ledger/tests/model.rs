//! Model tests: the tree, the frontier and the proofs against a naive recursive RFC 6962
//! implementation over a `Vec` of leaf hashes (MTH, PATH and SUBPROOF written as in RFC 6962
//! §2.1, with slices and allocation everywhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use tanji_ledger::{
    consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash, root, subtree_hash,
    verify_consistency, verify_inclusion, Frontier, Hash, MemoryTree, NodeSource, ProofError,
    TreeError,
};

/// Largest power of two strictly less than `n` (n >= 2).
fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n == 1 {
        return vec![];
    }
    let k = k_of(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn leaves(seed: u64, n: usize) -> Vec<Hash> {
    (0..n as u64)
        .map(|i| leaf_hash(&[seed.to_be_bytes(), i.to_be_bytes()].concat()))
        .collect()
}

fn flip(h: &mut Hash, bit: usize) {
    h[(bit / 8) % 32] ^= 1 << (bit % 8);
}

#[test]
fn known_hashes() {
    // SHA-256("") and RFC 6962 leaf/node domain separation, checked against sha256sum.
    assert_eq!(
        hex::encode(empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex::encode(leaf_hash(b"")),
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    );
    let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
    assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
    assert_eq!(MemoryTree::new().root(), empty_root());
    assert_eq!(Frontier::new().root(), empty_root());
}

/// Exhaustive for every tree up to 70 leaves: every inclusion and consistency proof equals the
/// naive one and verifies.
#[test]
fn exhaustive_small_trees() {
    let d = leaves(7, 70);
    let tree = MemoryTree::from_leaf_hashes(d.iter().copied());
    for n in 1..=d.len() {
        let r = mth(&d[..n]);
        assert_eq!(root(&tree, n as u64).unwrap(), r);
        for m in 0..n {
            let p = inclusion_proof(&tree, m as u64, n as u64).unwrap();
            assert_eq!(p, path(m, &d[..n]), "PATH({m}, D[{n}])");
            verify_inclusion(&d[m], m as u64, n as u64, &p, &r).unwrap();
        }
        for m in 1..=n {
            let p = consistency_proof(&tree, m as u64, n as u64).unwrap();
            assert_eq!(p, subproof(m, &d[..n], true), "PROOF({m}, D[{n}])");
            verify_consistency(m as u64, n as u64, &mth(&d[..m]), &r, &p).unwrap();
        }
    }
}

#[test]
fn errors_carry_context() {
    let tree = MemoryTree::from_leaf_hashes(leaves(1, 9));
    let err = inclusion_proof(&tree, 17, 9).unwrap_err();
    assert!(matches!(
        err,
        TreeError::IndexOutOfRange { index: 17, size: 9 }
    ));
    assert_eq!(
        err.to_string(),
        "inclusion proof for leaf 17 in tree of size 9: index out of range"
    );
    assert!(matches!(
        consistency_proof(&tree, 0, 9),
        Err(TreeError::BadSizes {
            old_size: 0,
            new_size: 9
        })
    ));
    assert!(matches!(
        consistency_proof(&tree, 5, 4),
        Err(TreeError::BadSizes {
            old_size: 5,
            new_size: 4
        })
    ));
    assert!(matches!(
        subtree_hash(&tree, 5, 4),
        Err(TreeError::BadRange { start: 5, end: 4 })
    ));
    // Asking beyond what the source holds is a source error naming the node.
    let err = root(&tree, 10).unwrap_err();
    assert!(matches!(err, TreeError::Source(_)), "{err:?}");
    assert!(err.to_string().contains("level 1, index 4"), "{err}");
    assert_eq!(
        verify_inclusion(&leaf_hash(b"x"), 3, 8, &[], &empty_root()),
        Err(ProofError::InclusionProofLength {
            index: 3,
            size: 8,
            expected: 3,
            actual: 0
        })
    );
}

/// The frontier emits exactly the perfect nodes completed by each append.
fn check_frontier(d: &[Hash]) {
    let mut frontier = Frontier::new();
    let mut out = Vec::new();
    let mut tree = MemoryTree::new();
    for (i, leaf) in d.iter().enumerate() {
        out.clear();
        frontier.append(*leaf, &mut out);
        tree.push(*leaf);
        let size = i + 1;
        let mut want = vec![(0u8, i as u64, *leaf)];
        let mut level = 1;
        while size % (1 << level) == 0 {
            let w = 1 << level;
            want.push((level as u8, (size / w - 1) as u64, mth(&d[size - w..size])));
            level += 1;
        }
        assert_eq!(out, want, "append of leaf {i}");
        assert_eq!(frontier.size(), size as u64);
        assert_eq!(frontier.root(), mth(&d[..size]), "root at size {size}");
        assert_eq!(tree.root(), frontier.root());
        assert_eq!(tree.size(), size as u64);
    }
    // Restoring the frontier from stored nodes gives the same frontier.
    let restored = Frontier::from_source(&tree, d.len() as u64).unwrap();
    assert_eq!(restored, frontier);
    let subtrees: Vec<_> = restored.subtrees().collect();
    assert_eq!(subtrees.len(), d.len().count_ones() as usize);
    for (level, index, hash) in subtrees {
        assert_eq!(tree.node(level, index).unwrap(), hash);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn roots_and_nodes_match_naive(seed: u64, n in 0usize..300) {
        let d = leaves(seed, n);
        let tree = MemoryTree::from_leaf_hashes(d.iter().copied());
        for size in 0..=n {
            prop_assert_eq!(root(&tree, size as u64).unwrap(), mth(&d[..size]));
        }
        // Every perfect node is the MTH of its leaves.
        for level in 0..10u8 {
            let w = 1usize << level;
            for index in 0..n / w {
                prop_assert_eq!(tree.node(level, index as u64).unwrap(), mth(&d[index * w..(index + 1) * w]));
            }
            prop_assert!(tree.node(level, (n / w) as u64).is_err());
        }
        check_frontier(&d);
    }

    #[test]
    fn subtree_hash_of_any_range(seed: u64, n in 1usize..200, a: usize, b: usize) {
        let d = leaves(seed, n);
        let tree = MemoryTree::from_leaf_hashes(d.iter().copied());
        let (mut start, mut end) = (a % (n + 1), b % (n + 1));
        if start > end {
            std::mem::swap(&mut start, &mut end);
        }
        prop_assert_eq!(subtree_hash(&tree, start as u64, end as u64).unwrap(), mth(&d[start..end]));
    }

    #[test]
    fn inclusion_proofs_match_naive_and_reject_tampering(
        seed: u64, n in 1usize..1200, m: usize, bit: usize, pick: usize, other: usize,
    ) {
        let d = leaves(seed, n);
        let tree = MemoryTree::from_leaf_hashes(d.iter().copied());
        let m = m % n;
        let (size, r) = (n as u64, tree.root());
        let p = inclusion_proof(&tree, m as u64, size).unwrap();
        prop_assert_eq!(&p, &path(m, &d));
        prop_assert_eq!(verify_inclusion(&d[m], m as u64, size, &p, &r), Ok(()));

        // Wrong leaf, wrong root, wrong index: rejected.
        let mut bad_leaf = d[m];
        flip(&mut bad_leaf, bit);
        prop_assert!(verify_inclusion(&bad_leaf, m as u64, size, &p, &r).is_err());
        let mut bad_root = r;
        flip(&mut bad_root, bit);
        prop_assert!(verify_inclusion(&d[m], m as u64, size, &p, &bad_root).is_err());
        let other = other % n;
        if other != m {
            prop_assert!(verify_inclusion(&d[m], other as u64, size, &p, &r).is_err());
        }
        prop_assert!(verify_inclusion(&d[m], size + (other as u64), size, &p, &r).is_err());
        if !p.is_empty() {
            // A flipped bit in any proof hash, a dropped hash, or a swapped order: rejected.
            let mut bad = p.clone();
            flip(&mut bad[pick % p.len()], bit);
            prop_assert!(verify_inclusion(&d[m], m as u64, size, &bad, &r).is_err());
            let mut short = p.clone();
            short.remove(pick % p.len());
            prop_assert!(verify_inclusion(&d[m], m as u64, size, &short, &r).is_err());
            if p.len() > 1 {
                let mut swapped = p.clone();
                swapped.swap(0, p.len() - 1);
                if swapped != p {
                    prop_assert!(verify_inclusion(&d[m], m as u64, size, &swapped, &r).is_err());
                }
            }
        }
        let mut long = p.clone();
        long.insert(pick % (p.len() + 1), r);
        prop_assert!(verify_inclusion(&d[m], m as u64, size, &long, &r).is_err());
    }

    #[test]
    fn consistency_proofs_match_naive_and_reject_tampering(
        seed: u64, n in 1usize..1200, m: usize, bit: usize, pick: usize,
    ) {
        let d = leaves(seed, n);
        let tree = MemoryTree::from_leaf_hashes(d.iter().copied());
        let m = 1 + m % n;
        let (old_root, new_root) = (mth(&d[..m]), tree.root());
        let (m64, n64) = (m as u64, n as u64);
        let p = consistency_proof(&tree, m64, n64).unwrap();
        prop_assert_eq!(&p, &subproof(m, &d, true));
        prop_assert_eq!(verify_consistency(m64, n64, &old_root, &new_root, &p), Ok(()));

        let mut bad_old = old_root;
        flip(&mut bad_old, bit);
        prop_assert!(verify_consistency(m64, n64, &bad_old, &new_root, &p).is_err());
        let mut bad_new = new_root;
        flip(&mut bad_new, bit);
        prop_assert!(verify_consistency(m64, n64, &old_root, &bad_new, &p).is_err());
        prop_assert!(verify_consistency(0, n64, &empty_root(), &new_root, &[]).is_err());
        prop_assert!(verify_consistency(n64 + 1, n64, &old_root, &new_root, &p).is_err());
        if !p.is_empty() {
            let mut bad = p.clone();
            flip(&mut bad[pick % p.len()], bit);
            prop_assert!(verify_consistency(m64, n64, &old_root, &new_root, &bad).is_err());
            let mut short = p.clone();
            short.remove(pick % p.len());
            prop_assert!(verify_consistency(m64, n64, &old_root, &new_root, &short).is_err());
        }
        let mut long = p.clone();
        long.insert(pick % (p.len() + 1), new_root);
        prop_assert!(verify_consistency(m64, n64, &old_root, &new_root, &long).is_err());
    }
}
