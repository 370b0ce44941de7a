//! The log over HTTP, checked with an independent implementation (Cloudflare azul's
//! `signed_note` and `tlog_tiles`): the served checkpoint verifies, the served hash tiles
//! reproduce its root, the entry bundles hash to the level-0 tiles, and the proof endpoints'
//! proofs verify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use base64::Engine;
use common::{client, config, fixture, start, AUDITOR};
use serde_json::Value;
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{
    check_record, check_tree, record_hash, stored_hash_index, tree_hash, Checkpoint, Hash,
    HashReader, Tile, TileHashReader, TileReader,
};

const HEIGHT: u8 = 8;

fn hash(s: &str) -> Hash {
    Hash(
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .unwrap()
            .try_into()
            .unwrap(),
    )
}

fn open(note: &str, vkey: &str) -> Checkpoint {
    let verifier = StandardVerifier::new(vkey).unwrap();
    let note = Note::from_bytes(note.as_bytes()).unwrap();
    let (verified, _) = note
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    assert_eq!(verified.len(), 1);
    Checkpoint::from_bytes(note.text()).unwrap()
}

/// C2SP path of a tlog_tiles tile (which names tiles the Go sumdb way, with the height).
fn c2sp(tile: &Tile) -> String {
    let go = tile.path();
    format!(
        "tile/{}",
        go.strip_prefix(&format!("tile/{HEIGHT}/")).unwrap()
    )
}

/// Tiles fetched over HTTP, handed to tlog_tiles.
struct Fetched(HashMap<String, Vec<u8>>);

impl TileReader for Fetched {
    fn height(&self) -> u8 {
        HEIGHT
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        Ok(tiles.iter().map(|t| self.0[&c2sp(t)].clone()).collect())
    }
    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

fn entries_of(bundle: &[u8]) -> Vec<Vec<u8>> {
    tanji_ledger::parse_entry_bundle(bundle).unwrap()
}

#[tokio::test]
async fn served_tiles_and_proofs_verify_with_an_independent_implementation() {
    let fx = fixture(20, 14);
    let srv = start(fx.path(), config(&fx)).await;
    let http = client();
    let b64 = |h: &Hash| base64::engine::general_purpose::STANDARD.encode(h.0);

    // Log the uploads in a few requests, keeping an older checkpoint for consistency.
    let mut old: Option<Checkpoint> = None;
    for chunk in (0..fx.uploads.len()).collect::<Vec<_>>().chunks(70) {
        let body = format!(
            "[{}]",
            chunk
                .iter()
                .map(|&i| fx.json(i))
                .collect::<Vec<_>>()
                .join(",")
        );
        let res = http
            .post(srv.at("/api/v1/uploads"))
            .body(body)
            .send()
            .await
            .unwrap();
        let answers: Vec<Value> = res.json().await.unwrap();
        assert!(answers.iter().all(|a| a["status"] == "accepted"));
        if old.is_none() {
            let note = http
                .get(srv.at("/checkpoint"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            old = Some(open(&note, &fx.vkey));
        }
    }
    let old = old.unwrap();

    let res = http.get(srv.at("/checkpoint")).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    let cp = open(&res.text().await.unwrap(), &fx.vkey);
    let size = cp.size();
    assert!(size > 300, "size {size}");
    let root = *cp.hash();

    // Fetch every tile the tree of this size has, hash tiles anonymously, entry bundles with
    // an auditor token.
    let mut fetched = HashMap::new();
    let tiles = Tile::new_tiles(HEIGHT, 0, size);
    assert!(tiles.iter().any(|t| t.level() == 1));
    let mut entries = Vec::new();
    for t in &tiles {
        let path = c2sp(t);
        let res = http.get(srv.at(&format!("/{path}"))).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], "application/octet-stream");
        let cache = res.headers()["cache-control"].to_str().unwrap().to_string();
        if t.width() == 256 {
            assert_eq!(cache, "public, max-age=31536000, immutable", "{path}");
        } else {
            assert!(!cache.contains("immutable"), "{path}: {cache}");
        }
        fetched.insert(path.clone(), res.bytes().await.unwrap().to_vec());
        if t.level() == 0 {
            let epath = path.replacen("tile/0/", "tile/entries/", 1);
            let anon = http.get(srv.at(&format!("/{epath}"))).send().await.unwrap();
            assert_eq!(anon.status(), 401, "{epath} without a token");
            let res = http
                .get(srv.at(&format!("/{epath}")))
                .bearer_auth(AUDITOR)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{epath}");
            let bundle = entries_of(&res.bytes().await.unwrap());
            assert_eq!(bundle.len() as u32, t.width());
            entries.extend(bundle);
        }
    }
    let reader = Fetched(fetched);
    let hashes = TileHashReader::new(size, root, &reader);
    assert_eq!(tree_hash(size, &hashes).unwrap(), root);
    assert_eq!(entries.len() as u64, size);
    let leaves: Vec<u64> = (0..size).map(|n| stored_hash_index(0, n)).collect();
    let leaf_hashes = hashes.read_hashes(&leaves).unwrap();
    for (n, (e, h)) in entries.iter().zip(&leaf_hashes).enumerate() {
        assert_eq!(record_hash(e), *h, "entry {n}");
    }

    // Tiles beyond the tree, and non-canonical paths, are 404.
    for path in [
        format!("/tile/0/{:03}", size / 256 + 1),
        "/tile/0/x000/000".into(),
        "/tile/00/000".into(),
        "/tile/0/000.p/0".into(),
        format!("/tile/0/{:03}.p/{}", size / 256, size % 256 + 1),
    ] {
        let res = http.get(srv.at(&path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }

    // Inclusion proofs from the endpoint verify with tlog_tiles and equal its own.
    for index in [0, 1, 255, 256, size / 2, size - 1] {
        let a: Value = http
            .get(srv.at(&format!("/api/v1/proof/inclusion?index={index}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(a["size"], size);
        assert_eq!(a["root"], b64(&root));
        let leaf = hash(a["leaf_hash"].as_str().unwrap());
        assert_eq!(leaf, record_hash(&entries[index as usize]));
        let proof: Vec<Hash> = a["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hash(h.as_str().unwrap()))
            .collect();
        check_record(&proof, size, root, index, leaf).unwrap();
        assert_eq!(
            proof,
            tlog_tiles::prove_record(size, index, &hashes).unwrap()
        );
    }
    // … and for an older tree size.
    let a: Value = http
        .get(srv.at(&format!(
            "/api/v1/proof/inclusion?index=3&size={}",
            old.size()
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let proof: Vec<Hash> = a["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash(h.as_str().unwrap()))
        .collect();
    check_record(&proof, old.size(), *old.hash(), 3, record_hash(&entries[3])).unwrap();

    // Consistency from the older checkpoint to the latest verifies with tlog_tiles.
    let a: Value = http
        .get(srv.at(&format!("/api/v1/proof/consistency?from={}", old.size())))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a["to"], size);
    assert_eq!(a["from_root"], b64(old.hash()));
    let proof: Vec<Hash> = a["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash(h.as_str().unwrap()))
        .collect();
    check_tree(&proof, size, root, old.size(), *old.hash()).unwrap();

    // Out-of-range and malformed proof queries say what is wrong.
    for (q, status) in [
        (format!("/api/v1/proof/inclusion?index={size}"), 404),
        ("/api/v1/proof/inclusion?index=abc".into(), 400),
        ("/api/v1/proof/inclusion".into(), 400),
        (
            format!("/api/v1/proof/consistency?from=1&to={}", size + 1),
            404,
        ),
        ("/api/v1/proof/consistency?from=0".into(), 404),
    ] {
        let res = http.get(srv.at(&q)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{q}");
        let e: Value = res.json().await.unwrap();
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    srv.stop().await;
}
