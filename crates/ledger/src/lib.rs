//! tanji-ledger: the pure core of tanji's tamper-evident log.
//!
//! Every record tanji ingests becomes a leaf of an append-only Merkle tree. This crate holds the
//! mathematics and the wire formats of that log, byte-exact with the public specifications so
//! that any independent tool can audit a tanji park:
//!
//! - [RFC 6962] / [RFC 9162] Merkle tree hashing ([`leaf_hash`], [`node_hash`]), roots and
//!   subtree hashes over any [`NodeSource`] of perfect-subtree hashes, inclusion and
//!   consistency proofs (creation and verification), the append [`Frontier`], and an in-memory
//!   [`MemoryTree`];
//! - [C2SP signed-note] with Ed25519 keys ([`NoteSigner`], [`NoteVerifier`], [`Note`]);
//! - [C2SP tlog-checkpoint] signed tree heads ([`Checkpoint`], [`sign_checkpoint`],
//!   [`open_checkpoint`]);
//! - [C2SP tlog-cosignature] v1 witness cosignatures ([`CosignatureSigner`],
//!   [`CosignatureVerifier`], [`verify_cosignatures`]);
//! - [C2SP tlog-tiles] tile paths, tile contents, entry bundles and a [`TileSet`] that serves
//!   nodes from exported tiles.
//!
//! It is not storage: there is no IO, no async, no SQL and no files here. Backends (in
//! `tanji-store`) implement [`NodeSource`], persist what [`Frontier::append`] emits, and call
//! these functions. It knows nothing about what a log entry means, and it makes no witnessing
//! decisions (which checkpoint a witness may cosign is `tanji-witness`'s business).
//!
//! ```
//! use tanji_ledger::*;
//!
//! let mut tree = MemoryTree::new(); // a storage backend in production
//! let mut frontier = Frontier::new();
//! let mut new_nodes = Vec::new();
//! for entry in [&b"reading 1"[..], b"reading 2", b"reading 3"] {
//!     frontier.append(leaf_hash(entry), &mut new_nodes); // nodes to persist
//!     tree.push(leaf_hash(entry));
//! }
//! let signer = NoteSigner::new("tanji.example/park-7", ed25519_dalek::SigningKey::from_bytes(&[7; 32]))?;
//! let cp = Checkpoint { origin: "tanji.example/park-7".into(), size: 3, root: frontier.root(), extensions: vec![] };
//! let note = sign_checkpoint(&cp, &signer)?;
//!
//! // An auditor with the log's verifier key checks that reading 2 is in the log.
//! let opened = open_checkpoint(&note, &signer.verifier())?;
//! let proof = inclusion_proof(&tree, 1, opened.size)?;
//! verify_inclusion(&leaf_hash(b"reading 2"), 1, opened.size, &proof, &opened.root)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [RFC 6962]: https://www.rfc-editor.org/rfc/rfc6962
//! [RFC 9162]: https://www.rfc-editor.org/rfc/rfc9162
//! [C2SP signed-note]: https://c2sp.org/signed-note
//! [C2SP tlog-checkpoint]: https://c2sp.org/tlog-checkpoint
//! [C2SP tlog-tiles]: https://c2sp.org/tlog-tiles
//! [C2SP tlog-cosignature]: https://c2sp.org/tlog-cosignature

mod checkpoint;
mod cosignature;
mod hash;
mod note;
mod tiles;
mod tree;

pub use checkpoint::{open_checkpoint, sign_checkpoint, Checkpoint, CheckpointError};
pub use cosignature::{
    cosigned_message, verify_cosignatures, CosignatureError, CosignatureSigner,
    CosignatureVerifier, Cosigned, COSIGNATURE_V1_HEADER, COSIGNATURE_V1_TYPE,
    MAX_COSIGNATURE_TIMESTAMP,
};
pub use hash::{empty_root, leaf_hash, node_hash, Hash};
pub use note::{
    is_valid_key_name, key_id, sign_note, Note, NoteError, NoteSignature, NoteSigner, NoteVerifier,
    ED25519_TYPE, MAX_SIGNATURES,
};
pub use tiles::{
    encode_tile_index, entry_bundle, new_tiles, parse_entry_bundle, tile_bytes, tiles_for_size,
    TileError, TileRef, TileSet, MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH,
};
pub use tree::{
    consistency_proof, inclusion_proof, root, subtree_hash, verify_consistency, verify_inclusion,
    Frontier, MemoryTree, MissingNode, NodeSource, ProofError, TreeError,
};
