//! Interoperability with an independent implementation: Cloudflare azul's `signed_note` and
//! `tlog_tiles` crates (ports of Go's golang.org/x/mod/sumdb/{note,tlog}).
//!
//! Note: `tlog_tiles` 0.2 uses the Go sumdb tile paths `tile/<H>/<L>/<N>`, which carry the tile
//! height; C2SP tlog-tiles dropped it (`tile/<L>/<N>`, height fixed at 8). Paths are compared
//! modulo that `8/` component.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use signed_note::{StandardSigner, StandardVerifier, VerifierList};
use tanji_ledger::{
    consistency_proof, inclusion_proof, leaf_hash, new_tiles, open_checkpoint, sign_checkpoint,
    tile_bytes, tiles_for_size, verify_consistency, verify_inclusion, Checkpoint, Frontier, Hash,
    MemoryTree, NodeSource, Note, NoteSigner, NoteVerifier, TileRef,
};
use tlog_tiles::{HashReader, Tile};

fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

fn theirs(h: Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(h)
}

/// azul's hash storage, served from our in-memory tree.
struct Reader<'a>(&'a MemoryTree);

impl HashReader for Reader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                let (level, n) = tlog_tiles::split_stored_hash_index(i);
                self.0
                    .node(level, n)
                    .map(tlog_tiles::Hash)
                    .map_err(|_| tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

#[test]
fn our_signed_checkpoint_is_accepted_by_azul() {
    let log = signer("tanji.example/park-7", 11);
    let vkey = log.verifier().to_string();
    // Same vkey text as azul derives from the public key.
    assert_eq!(
        vkey,
        signed_note::new_ed25519_verifier_key(log.name(), log.verifier().verifying_key())
    );

    let tree = MemoryTree::from_leaf_hashes((0..1000u32).map(|i| leaf_hash(&i.to_be_bytes())));
    let cp = Checkpoint {
        origin: "tanji.example/park-7".into(),
        size: tree.size(),
        root: tree.root(),
        extensions: vec![],
    };
    let signed = sign_checkpoint(&cp, &log).unwrap();

    let verifier = StandardVerifier::new(&vkey).unwrap();
    let note = signed_note::Note::from_bytes(signed.as_bytes()).unwrap();
    let (verified, unverified) = note
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    assert_eq!(verified.len(), 1);
    assert!(unverified.is_empty());
    assert_eq!(note.to_bytes(), signed.as_bytes());

    let their_cp = tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap();
    assert_eq!(their_cp.origin(), cp.origin);
    assert_eq!(their_cp.size(), cp.size);
    assert_eq!(their_cp.hash().0, cp.root);
    assert_eq!(their_cp.to_bytes(), cp.to_text().as_bytes());

    // A different key with the same name is unknown to azul too.
    let other =
        StandardVerifier::new(&signer("tanji.example/park-7", 12).verifier().to_string()).unwrap();
    assert!(note
        .verify(&VerifierList::new(vec![Box::new(other)]))
        .is_err());
}

#[test]
fn azul_signed_note_verifies_with_ours() {
    let ours = signer("witness.example/w1", 13);
    // Our secret key text is azul's (and Go's) format.
    let their_signer = StandardSigner::new(&ours.to_skey()).unwrap();
    let text = "example.com/log\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let mut their_note = signed_note::Note::new(text.as_bytes(), &[]).unwrap();
    their_note.add_sigs(&[&their_signer]).unwrap();
    let bytes = their_note.to_bytes();

    let note = Note::from_bytes(&bytes).unwrap();
    assert_eq!(note.to_string().as_bytes(), bytes.as_slice());
    let verifier: NoteVerifier = ours.verifier().to_string().parse().unwrap();
    assert_eq!(
        note.verify(std::slice::from_ref(&verifier)).unwrap(),
        vec![0]
    );
    let cp = open_checkpoint(std::str::from_utf8(&bytes).unwrap(), &verifier).unwrap();
    assert_eq!((cp.origin.as_str(), cp.size), ("example.com/log", 42));

    // Ed25519 is deterministic: both implementations produce the same signature line.
    assert_eq!(
        tanji_ledger::sign_note(text, &[&ours]).unwrap().as_bytes(),
        bytes.as_slice()
    );
}

#[test]
fn tree_hashes_and_proofs_agree_with_azul() {
    let n = 1100u64;
    let mut tree = MemoryTree::new();
    let mut frontier = Frontier::new();
    let mut out = Vec::new();
    for i in 0..n {
        let data = format!("record {i}");
        let h = leaf_hash(data.as_bytes());
        assert_eq!(tlog_tiles::record_hash(data.as_bytes()).0, h);
        // azul's "hashes to store when writing record i" are our newly completed nodes.
        let stored = tlog_tiles::stored_hashes(i, data.as_bytes(), &Reader(&tree)).unwrap();
        out.clear();
        frontier.append(h, &mut out);
        tree.push(h);
        let ours: Vec<tlog_tiles::Hash> = out.iter().map(|&(_, _, h)| theirs(h)).collect();
        assert_eq!(stored, ours, "record {i}");
        for &(level, index, _) in &out {
            assert!(
                tlog_tiles::stored_hash_index(level, index) < tlog_tiles::stored_hash_count(i + 1)
            );
        }
    }
    let r = Reader(&tree);
    for size in [1u64, 2, 3, 7, 8, 9, 255, 256, 257, 1000, 1100] {
        let root = tanji_ledger::root(&tree, size).unwrap();
        assert_eq!(tlog_tiles::tree_hash(size, &r).unwrap().0, root);
        for index in [0, size / 2, size - 1] {
            let theirs_p = tlog_tiles::prove_record(size, index, &r).unwrap();
            let ours_p = inclusion_proof(&tree, index, size).unwrap();
            assert_eq!(
                theirs_p,
                ours_p.iter().map(|&h| theirs(h)).collect::<Vec<_>>()
            );
            tlog_tiles::check_record(
                &ours_p.iter().map(|&h| theirs(h)).collect(),
                size,
                theirs(root),
                index,
                theirs(tree.node(0, index).unwrap()),
            )
            .unwrap();
            verify_inclusion(&tree.node(0, index).unwrap(), index, size, &ours_p, &root).unwrap();
        }
        for old in [1, size / 3 + 1, size - 1, size]
            .into_iter()
            .filter(|&o| o >= 1)
        {
            let old_root = tanji_ledger::root(&tree, old).unwrap();
            let theirs_p = tlog_tiles::prove_tree(size, old, &r).unwrap();
            let ours_p = consistency_proof(&tree, old, size).unwrap();
            assert_eq!(
                theirs_p,
                ours_p.iter().map(|&h| theirs(h)).collect::<Vec<_>>(),
                "{old} -> {size}"
            );
            tlog_tiles::check_tree(&theirs_p, size, theirs(root), old, theirs(old_root)).unwrap();
            verify_consistency(old, size, &old_root, &root, &ours_p).unwrap();
        }
    }
}

#[test]
fn tiles_agree_with_azul() {
    let tree = MemoryTree::from_leaf_hashes((0..70_000u32).map(|i| leaf_hash(&i.to_be_bytes())));
    let r = Reader(&tree);
    let as_theirs = |t: &TileRef| Tile::new(8, t.level, t.index, u32::from(t.width), false);
    for (old, new) in [
        (0, 1),
        (0, 256),
        (0, 257),
        (0, 65_536),
        (0, 70_000),
        (256, 70_000),
        (69_000, 70_000),
        (70_000, 70_000),
    ] {
        let ours = if old == 0 {
            tiles_for_size(new)
        } else {
            new_tiles(old, new)
        };
        let mut theirs_tiles = Tile::new_tiles(8, old, new);
        let mut ours_tiles: Vec<Tile> = ours.iter().map(as_theirs).collect();
        let key = |t: &Tile| (t.level(), t.level_index(), t.width());
        theirs_tiles.sort_by_key(key);
        ours_tiles.sort_by_key(key);
        assert_eq!(ours_tiles, theirs_tiles, "{old} -> {new}");
    }
    for t in tiles_for_size(70_000) {
        let theirs_t = as_theirs(&t);
        assert_eq!(theirs_t.path(), t.path().replacen("tile/", "tile/8/", 1));
        assert_eq!(Tile::from_path(&theirs_t.path()).unwrap(), theirs_t);
        assert_eq!(
            theirs_t.read_data(&r).unwrap(),
            tile_bytes(&tree, &t).unwrap(),
            "{}",
            t.path()
        );
    }
    let big = TileRef {
        level: 3,
        index: 1_234_067,
        width: 9,
    };
    assert_eq!(
        as_theirs(&big).path(),
        big.path().replacen("tile/", "tile/8/", 1)
    );
}
