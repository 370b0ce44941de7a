//! C2SP tlog-tiles: paths, the spec's tile-count examples, tile contents, entry bundles, and
//! a `TileSet` built from the tiles of a tree reproducing its roots and proofs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use tanji_ledger::{
    consistency_proof, encode_tile_index, entry_bundle, inclusion_proof, leaf_hash, new_tiles,
    parse_entry_bundle, root, tile_bytes, tiles_for_size, Hash, MemoryTree, NodeSource, TileError,
    TileRef, TileSet, TreeError,
};

fn tree(n: u64) -> MemoryTree {
    MemoryTree::from_leaf_hashes((0..n).map(|i| leaf_hash(&i.to_le_bytes())))
}

fn tile_set(tree: &MemoryTree, size: u64) -> TileSet {
    let mut set = TileSet::new();
    for tile in tiles_for_size(size) {
        set.insert(tile, tile_bytes(tree, &tile).unwrap()).unwrap();
    }
    set
}

/// Summarises tiles as (level, full count, partial width or 0) per level.
fn summary(tiles: &[TileRef]) -> Vec<(u8, usize, u16)> {
    let mut out: Vec<(u8, usize, u16)> = Vec::new();
    for t in tiles {
        if out.last().is_none_or(|l| l.0 != t.level) {
            out.push((t.level, 0, 0));
        }
        let last = out.last_mut().unwrap();
        if t.width == 256 {
            assert_eq!(t.index, last.1 as u64, "full tiles in index order");
            last.1 += 1;
        } else {
            assert_eq!(t.index, last.1 as u64, "partial tile after the full ones");
            last.2 = t.width;
        }
    }
    out
}

#[test]
fn paths() {
    assert_eq!(encode_tile_index(0), "000");
    assert_eq!(encode_tile_index(999), "999");
    assert_eq!(encode_tile_index(1000), "x001/000");
    assert_eq!(encode_tile_index(1234067), "x001/x234/067");
    assert_eq!(
        encode_tile_index(u64::MAX),
        "x018/x446/x744/x073/x709/x551/615"
    );
    let t = TileRef {
        level: 4,
        index: 1234067,
        width: 256,
    };
    assert_eq!(t.path(), "tile/4/x001/x234/067");
    let t = TileRef {
        level: 0,
        index: 1234067,
        width: 1,
    };
    assert_eq!(t.path(), "tile/0/x001/x234/067.p/1");
    assert_eq!(t.entries_path(), "tile/entries/x001/x234/067.p/1");
    assert_eq!(
        TileRef { width: 256, ..t }.entries_path(),
        "tile/entries/x001/x234/067"
    );

    for tile in [
        TileRef {
            level: 0,
            index: 0,
            width: 256,
        },
        TileRef {
            level: 2,
            index: 1000,
            width: 17,
        },
        TileRef {
            level: 7,
            index: 0,
            width: 255,
        },
        TileRef {
            level: 0,
            index: u64::MAX / 256,
            width: 256,
        },
    ] {
        assert_eq!(TileRef::from_path(&tile.path()).unwrap(), tile);
        if tile.level == 0 {
            assert_eq!(
                TileRef::from_entries_path(&tile.entries_path()).unwrap(),
                tile
            );
        }
    }
    for bad in [
        "tile/0/x001/x234/067.p/256",
        "tile/0/x001/x234/067.p/0",
        "tile/0/x001/x234/067.p/01",
        "tile/0/001/x234/067",
        "tile/0/x001/234/067",
        "tile/0/x000/067",
        "tile/0/67",
        "tile/00/067",
        "tile/8/000",
        "tile/7/001",
        "tile/-1/000",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/entries/000",
        "tiles/0/000",
        "tile/0/000/",
    ] {
        assert!(TileRef::from_path(bad).is_err(), "{bad} parsed");
    }
    assert!(TileRef::from_entries_path("tile/entries/000.p/3").is_ok());
    assert!(TileRef::from_entries_path("tile/0/000").is_err());
}

#[test]
fn spec_tile_counts() {
    // tlog-tiles.md: "a tree of size 70,000 will be represented by 273 full level 0 tiles, one
    // partial level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of
    // width 17, and one partial level 2 tile of width 1."
    assert_eq!(
        summary(&tiles_for_size(70_000)),
        vec![(0, 273, 112), (1, 1, 17), (2, 0, 1)]
    );
    // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
    // tile of width 1."
    assert_eq!(summary(&tiles_for_size(256)), vec![(0, 1, 0), (1, 0, 1)]);
    assert_eq!(summary(&tiles_for_size(257)), vec![(0, 1, 1), (1, 0, 1)]);
    assert_eq!(
        summary(&tiles_for_size(65_536)),
        vec![(0, 256, 0), (1, 1, 0), (2, 0, 1)]
    );
    assert_eq!(summary(&tiles_for_size(1)), vec![(0, 0, 1)]);
    assert!(tiles_for_size(0).is_empty());
    assert_eq!(
        new_tiles(u64::MAX - 1, u64::MAX),
        vec![TileRef {
            level: 0,
            index: u64::MAX / 256,
            width: 255
        },]
    );

    // Growing 70,000 -> 70,300: level 0 tile 273 becomes full and a partial tile 274 of width
    // 156 appears; level 1 gets a partial of width 18; the level 2 partial is unchanged.
    let grown = new_tiles(70_000, 70_300);
    let paths: Vec<String> = grown.iter().map(TileRef::path).collect();
    assert_eq!(paths, ["tile/0/273", "tile/0/274.p/156", "tile/1/001.p/18"]);
    assert!(new_tiles(5, 5).is_empty());
}

#[test]
fn tile_contents_and_set() {
    let t = tree(70_000);
    let full = TileRef {
        level: 1,
        index: 0,
        width: 256,
    };
    let bytes = tile_bytes(&t, &full).unwrap();
    assert_eq!(bytes.len(), 8192);
    // Hash i of a level 1 tile is the root of leaf tile i.
    for i in [0u64, 1, 255] {
        let want: Hash = t.node(8, i).unwrap();
        assert_eq!(&bytes[32 * i as usize..32 * (i as usize + 1)], &want);
        assert_eq!(
            want,
            tanji_ledger::subtree_hash(&t, 256 * i, 256 * (i + 1)).unwrap()
        );
    }
    assert!(matches!(
        tile_bytes(
            &t,
            &TileRef {
                level: 0,
                index: 0,
                width: 0
            }
        ),
        Err(TreeError::BadTile { .. })
    ));
    assert!(matches!(
        tile_bytes(
            &t,
            &TileRef {
                level: 8,
                index: 0,
                width: 1
            }
        ),
        Err(TreeError::BadTile { .. })
    ));
    // A tile beyond the tree is a source error.
    assert!(matches!(
        tile_bytes(
            &t,
            &TileRef {
                level: 0,
                index: 273,
                width: 256
            }
        ),
        Err(TreeError::Source(_))
    ));

    let mut set = TileSet::new();
    let partial = TileRef {
        level: 0,
        index: 0,
        width: 3,
    };
    set.insert(partial, tile_bytes(&t, &partial).unwrap())
        .unwrap();
    // Wrong length.
    assert!(matches!(
        set.insert(partial, vec![0; 95]),
        Err(TileError::WrongLength {
            expected: 96,
            actual: 95,
            ..
        })
    ));
    // A wider copy that agrees replaces it; one that disagrees is a conflict.
    let wider = TileRef {
        level: 0,
        index: 0,
        width: 256,
    };
    let mut wrong = tile_bytes(&t, &wider).unwrap();
    wrong[32 * 2] ^= 1;
    assert_eq!(
        set.insert(wider, wrong),
        Err(TileError::Conflict {
            path: "tile/0/000".into(),
            position: 2
        })
    );
    set.insert(wider, tile_bytes(&t, &wider).unwrap()).unwrap();
    set.insert(partial, tile_bytes(&t, &partial).unwrap())
        .unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.node(7, 1).unwrap(), t.node(7, 1).unwrap());
    let err = set.node(8, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "node at level 8, index 0 needs tile tile/1/000 of width at least 1, which is not in the tile set"
    );
}

/// The tiles of a tree of `size` serve its root, and proofs equal to the full tree's.
fn check_tiles_reproduce(t: &MemoryTree, size: u64, probe: u64) {
    let set = tile_set(t, size);
    assert_eq!(
        root(&set, size).unwrap(),
        root(t, size).unwrap(),
        "root at {size}"
    );
    if size > 0 {
        let m = probe % size;
        assert_eq!(
            inclusion_proof(&set, m, size).unwrap(),
            inclusion_proof(t, m, size).unwrap()
        );
        let old = 1 + probe % size;
        assert_eq!(
            consistency_proof(&set, old, size).unwrap(),
            consistency_proof(t, old, size).unwrap()
        );
        // The frontier can be restored from tiles.
        let frontier = tanji_ledger::Frontier::from_source(&set, size).unwrap();
        assert_eq!(frontier.root(), root(t, size).unwrap());
    }
}

#[test]
fn tiles_reproduce_spot_sizes() {
    let t = tree(70_000);
    for size in [
        0, 1, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, 70_000,
    ] {
        check_tiles_reproduce(&t, size, size / 3 + 7);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn tiles_reproduce_random_sizes(size in 0u64..20_000, probe: u64) {
        let t = tree(size);
        check_tiles_reproduce(&t, size, probe);
        // Publishing incrementally gives the same tiles as publishing all at once.
        let mid = probe % (size + 1);
        let mut set = tile_set(&t, mid);
        for tile in new_tiles(mid, size) {
            set.insert(tile, tile_bytes(&t, &tile).unwrap()).unwrap();
        }
        prop_assert_eq!(root(&set, size).unwrap(), t.root());
    }

    #[test]
    fn entry_bundles_round_trip(entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..=256)) {
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let bundle = entry_bundle(&refs).unwrap();
        prop_assert_eq!(bundle.len(), entries.iter().map(|e| 2 + e.len()).sum::<usize>());
        prop_assert_eq!(parse_entry_bundle(&bundle).unwrap(), entries);
        // Any truncation is detected.
        let cut = bundle.len() - 1;
        let truncated = matches!(
            parse_entry_bundle(&bundle[..cut]),
            Err(TileError::TruncatedBundle { .. })
        );
        prop_assert!(truncated);
    }
}

#[test]
fn entry_bundle_limits() {
    assert_eq!(
        entry_bundle(&[b"ab", b""]).unwrap(),
        [0, 2, b'a', b'b', 0, 0]
    );
    let big = vec![0u8; 65_536];
    assert_eq!(
        entry_bundle(&[b"ok", &big]),
        Err(TileError::EntryTooLong {
            index: 1,
            len: 65_536
        })
    );
    assert_eq!(entry_bundle(&[&big[..65_535]]).unwrap().len(), 65_537);
    assert_eq!(
        entry_bundle(&[]),
        Err(TileError::BadEntryCount { count: 0 })
    );
    let many = vec![&b""[..]; 257];
    assert_eq!(
        entry_bundle(&many),
        Err(TileError::BadEntryCount { count: 257 })
    );
    assert_eq!(
        parse_entry_bundle(&[]),
        Err(TileError::BadEntryCount { count: 0 })
    );
    assert_eq!(
        parse_entry_bundle(&[0; 2 * 257]),
        Err(TileError::BadEntryCount { count: 257 })
    );
    assert_eq!(
        parse_entry_bundle(&[0, 5, 1, 2]),
        Err(TileError::TruncatedBundle {
            index: 0,
            offset: 0,
            needed: 7,
            available: 4
        })
    );
    assert_eq!(
        parse_entry_bundle(&[0, 0, 7]),
        Err(TileError::TruncatedBundle {
            index: 1,
            offset: 2,
            needed: 2,
            available: 1
        })
    );
}
