//! Interoperability: what `tanji log …` writes is checked with independent implementations of
//! the same specifications — Cloudflare azul's `signed_note` (C2SP signed-note) and
//! `tlog_tiles` (a port of Go's sumdb tlog: RFC 6962 hashing, proofs and tiles) — not with our
//! own `tanji-ledger`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine;
use common::{pg, s, sim_park_on, tanji, SimPark};
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{
    check_record, check_tree, record_hash, stored_hash_index, tree_hash, Checkpoint, Hash,
    HashReader, Tile, TileHashReader, TileReader,
};

const HEIGHT: u8 = 8;

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn hash(s: &str) -> Hash {
    Hash(b64(s).try_into().unwrap())
}

/// Opens a signed checkpoint with azul's signed_note and parses it with tlog_tiles.
fn open_checkpoint(note: &str, vkey: &str) -> Checkpoint {
    let verifier = StandardVerifier::new(vkey).unwrap_or_else(|e| panic!("vkey {vkey:?}: {e:?}"));
    let note = Note::from_bytes(note.as_bytes()).unwrap();
    let (verified, unverified) = note
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    assert_eq!(verified.len(), 1);
    assert!(unverified.is_empty());
    Checkpoint::from_bytes(note.text()).unwrap()
}

/// The value after `label` on the line that starts with it.
fn field<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in\n{out}"))
        .trim()
}

/// The indented base64 hashes after the line starting with `proof (`.
fn proof_hashes(out: &str) -> Vec<Hash> {
    out.lines()
        .skip_while(|l| !l.starts_with("proof ("))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(hash)
        .collect()
}

/// A tlog_tiles tile reader over an exported directory. tlog_tiles names tiles the Go sumdb
/// way, `tile/<H>/<L>/<N>[.p/<W>]`; C2SP tlog-tiles fixes H = 8 and drops it: `tile/<L>/<N>…`.
struct ExportedTiles(PathBuf);

impl ExportedTiles {
    fn c2sp_path(tile: &Tile) -> String {
        let go = tile.path();
        let rest = go
            .strip_prefix(&format!("tile/{HEIGHT}/"))
            .unwrap_or_else(|| panic!("unexpected tile path {go}"));
        format!("tile/{rest}")
    }
}

impl TileReader for ExportedTiles {
    fn height(&self) -> u8 {
        HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        Ok(tiles
            .iter()
            .map(|t| {
                let p = self.0.join(Self::c2sp_path(t));
                std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            })
            .collect())
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {}
}

/// Parses a C2SP entry bundle: each entry is a big-endian u16 length and that many bytes.
fn entry_bundle(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        assert!(rest.len() >= 2, "truncated length prefix");
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        assert!(rest.len() >= 2 + n, "truncated entry");
        out.push(rest[2..2 + n].to_vec());
        rest = &rest[2 + n..];
    }
    out
}

/// Every file under `dir`, relative, with '/' separators.
fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap();
                out.insert(
                    rel.components()
                        .map(|c| c.as_os_str().to_str().unwrap())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
    }
    out
}

fn checkpoint(dir: &Path) -> String {
    tanji(["log", "checkpoint", "--dir", s(dir)]).ok().stdout
}

/// A park of 20 enterprises × 15 days (300 uploads, plus the registrations: more than one full
/// tile of 256 leaves), ingested in two runs so there is an older checkpoint to prove from.
/// Returns the park, its key, and the first run's checkpoint.
fn park(store: Option<&str>) -> (SimPark, String, String) {
    let park = sim_park_on(store, 20, 15, 77);
    let text = std::fs::read_to_string(&park.uploads).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 3);
    let first = park.tmp.path().join("first.jsonl");
    let second = park.tmp.path().join("second.jsonl");
    std::fs::write(&first, a.join("\n") + "\n").unwrap();
    std::fs::write(&second, b.join("\n") + "\n").unwrap();
    tanji(["ingest", "--dir", s(&park.dir), s(&first)]).ok();
    let old = checkpoint(&park.dir);
    tanji(["ingest", "--dir", s(&park.dir), s(&second)]).ok();
    let vkey = tanji(["log", "key", "--dir", s(&park.dir)])
        .ok()
        .stdout
        .trim()
        .to_string();
    (park, vkey, old)
}

#[test]
fn checkpoints_tiles_and_proofs_verify_with_independent_implementations() {
    independent_implementations_verify(None);
}

/// The same for a park on PostgreSQL; SKIPPED when PostgreSQL is unreachable outside CI.
#[test]
fn a_park_on_postgres_verifies_with_independent_implementations() {
    let Some(url) = pg::url() else { return };
    let schema = pg::Schema::new(&url, "interop");
    independent_implementations_verify(Some(&schema.store_url()));
}

fn independent_implementations_verify(store: Option<&str>) {
    let (park, vkey, old_note) = park(store);
    let dir = &park.dir;

    // The checkpoint verifies with azul's signed_note, given only `tanji log key`'s text.
    let note = checkpoint(dir);
    let cp = open_checkpoint(&note, &vkey);
    let size = cp.size();
    let root = *cp.hash();
    assert_eq!(cp.origin(), "tanji/test-park");
    assert!(
        size > 256 + 64,
        "size {size}: want a full and a partial tile"
    );
    assert!(size % 256 != 0);
    // … and not with another key of the same name.
    let (_, other) = signed_note::generate_key(&mut rand_core::OsRng, "tanji/test-park");
    let other = StandardVerifier::new(&other).unwrap();
    assert!(Note::from_bytes(note.as_bytes())
        .unwrap()
        .verify(&VerifierList::new(vec![Box::new(other)]))
        .is_err());
    let old = open_checkpoint(&old_note, &vkey);
    assert!(old.size() > 0 && old.size() < size);

    // Tiles: our own checker accepts the export …
    let out = park.tmp.path().join("tiles");
    tanji(["log", "export-tiles", "--dir", s(dir), s(&out)]).ok();
    let checked = tanji(["log", "check-tiles", s(&out), "--key", &vkey]).ok();
    assert!(checked.stdout.starts_with("OK: "), "{}", checked.stdout);
    assert_eq!(
        std::fs::read_to_string(out.join("checkpoint")).unwrap(),
        note
    );

    // … the export holds exactly the tiles tlog_tiles expects for this size, at C2SP paths …
    let tiles = Tile::new_tiles(HEIGHT, 0, size);
    let mut expected: BTreeSet<String> = tiles.iter().map(ExportedTiles::c2sp_path).collect();
    let level0: Vec<&Tile> = tiles.iter().filter(|t| t.level() == 0).collect();
    for t in &level0 {
        expected.insert(ExportedTiles::c2sp_path(t).replacen("tile/0/", "tile/entries/", 1));
    }
    expected.insert("checkpoint".into());
    assert_eq!(files_under(&out), expected);
    assert!(expected.contains("tile/0/000"));
    assert!(expected.iter().any(|p| p.starts_with("tile/0/001.p/")));
    assert!(expected.iter().any(|p| p.starts_with("tile/1/000.p/")));

    // … tlog_tiles reproduces the signed root from our hash tiles (TileHashReader
    // authenticates every tile it reads against that root) …
    let reader = ExportedTiles(out.clone());
    let hashes = TileHashReader::new(size, root, &reader);
    assert_eq!(tree_hash(size, &hashes).unwrap(), root);

    // … and every entry in the bundles hashes (RFC 6962 leaf hash) to its level-0 tile hash.
    let mut entries: Vec<Vec<u8>> = Vec::new();
    for t in &level0 {
        let path = ExportedTiles::c2sp_path(t).replacen("tile/0/", "tile/entries/", 1);
        let bundle = entry_bundle(&std::fs::read(out.join(&path)).unwrap());
        assert_eq!(bundle.len() as u32, t.width(), "{path}");
        entries.extend(bundle);
    }
    assert_eq!(entries.len() as u64, size);
    let leaves: Vec<u64> = (0..size).map(|n| stored_hash_index(0, n)).collect();
    let leaf_hashes = hashes.read_hashes(&leaves).unwrap();
    for (n, (e, h)) in entries.iter().zip(&leaf_hashes).enumerate() {
        assert_eq!(record_hash(e), *h, "entry {n} vs its leaf in tile/0");
    }

    // Inclusion proofs: `tanji log prove` verifies with tlog_tiles' check_record against the
    // signed root, and is the very proof tlog_tiles computes from the tiles.
    for index in [0, 1, 37, 255, 256, size / 2, size - 2, size - 1] {
        let out = tanji([
            "log",
            "prove",
            "--dir",
            s(dir),
            "--index",
            &index.to_string(),
        ])
        .ok()
        .stdout;
        assert_eq!(field(&out, "leaf index:"), index.to_string());
        assert_eq!(field(&out, "tree size:"), size.to_string());
        let entry = b64(field(&out, "entry (base64):"));
        assert_eq!(entry, entries[index as usize], "entry {index}");
        let leaf = record_hash(&entry);
        assert_eq!(hash(field(&out, "leaf hash:")), leaf);
        assert_eq!(hash(field(&out, "root hash:")), root);
        let proof = proof_hashes(&out);
        check_record(&proof, size, root, index, leaf)
            .unwrap_or_else(|e| panic!("inclusion proof for {index}: {e:?}"));
        assert_eq!(
            proof,
            tlog_tiles::prove_record(size, index, &hashes).unwrap(),
            "leaf {index}"
        );
        // A proof for another leaf does not verify this one.
        if index > 0 {
            assert!(check_record(&proof, size, root, index - 1, leaf).is_err());
        }
    }

    // Consistency proofs: from the older signed checkpoint, and from a few other sizes, verify
    // with tlog_tiles' check_tree (RFC 6962 consistency proofs).
    for from in [old.size(), 1, 255, 256, 257, size - 1, size] {
        let out = tanji([
            "log",
            "consistency",
            "--dir",
            s(dir),
            "--from",
            &from.to_string(),
        ])
        .ok()
        .stdout;
        let from_root = {
            let f = field(&out, "from size:");
            hash(f.rsplit(' ').next().unwrap())
        };
        let to_root = {
            let f = field(&out, "to size:");
            hash(f.rsplit(' ').next().unwrap())
        };
        assert_eq!(to_root, root);
        if from == old.size() {
            assert_eq!(from_root, *old.hash(), "the older checkpoint's root");
        }
        // tlog_tiles computes the older root independently from the tiles.
        assert_eq!(
            tree_hash(from, &hashes).unwrap(),
            from_root,
            "root at {from}"
        );
        let proof = proof_hashes(&out);
        check_tree(&proof, size, root, from, from_root)
            .unwrap_or_else(|e| panic!("consistency proof {from} -> {size}: {e:?}"));
        assert_eq!(
            proof,
            tlog_tiles::prove_tree(size, from, &hashes).unwrap(),
            "from {from}"
        );
    }
}
