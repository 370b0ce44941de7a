//! The log over HTTP: the C2SP tlog-tiles layout (`/checkpoint`, `/tile/<L>/<N>[.p/<W>]`,
//! `/tile/entries/<N>[.p/<W>]`) and JSON proof endpoints.
//!
//! Tiles are served for the size of the latest durable checkpoint: any tile (full or partial)
//! that the tree of that size covers, byte for byte as [`tanji_ledger::tile_bytes`] and
//! [`tanji_ledger::entry_bundle`] make them (the same bytes `tanji log export-tiles` writes).
//! Tile contents never change, so they are served with long-lived cache headers; the
//! checkpoint is not cached.
//!
//! Hash tiles, the checkpoint and proofs reveal no meter data and are public. Entry bundles
//! hold every enterprise's signed readings, so they need an operator or auditor token.
//!
//! An instance that does not write a park answers the park's *full* tiles all the same, from
//! the store ([`StoredTiles`]): they never change once the checkpoint covers them, so any
//! instance that reads the store serves the writer's bytes with the writer's headers, without
//! the writer lease and while the writer is gone. Everything else is the writer's to answer.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use tanji_ledger::{
    consistency_proof, entry_bundle, inclusion_proof, root, tile_bytes, TileRef, TILE_WIDTH,
};
use tanji_store::{AnyStore, Store, StoreAt};

use crate::routes::{Access, ApiRouter, RouteInfo};
use crate::{ApiError, AppState, Reader, Tokens};

/// The route of entry bundles.
const ENTRY_BUNDLE: RouteInfo = RouteInfo {
    method: "GET",
    path: "/tile/entries/{*rest}",
    access: Access::AllData,
    summary: "An entry bundle (C2SP tlog-tiles): the logged records of one level-0 tile",
    example: "/tile/entries/000.p/1",
};

/// The route of hash tiles.
const HASH_TILE: RouteInfo = RouteInfo {
    method: "GET",
    path: "/tile/{level}/{*rest}",
    access: Access::Public,
    summary: "A hash tile (C2SP tlog-tiles), full or partial",
    example: "/tile/0/000.p/1",
};

/// Adds the log routes.
pub fn routes(r: ApiRouter) -> ApiRouter {
    r.route(
        RouteInfo {
            method: "GET",
            path: "/checkpoint",
            access: Access::Public,
            summary: "The latest signed checkpoint (C2SP tlog-checkpoint), text/plain",
            example: "/checkpoint",
        },
        get(checkpoint),
    )
    .route(ENTRY_BUNDLE, get(entries))
    .route(HASH_TILE, get(hash_tile))
    .route(
        RouteInfo {
            method: "GET",
            path: "/api/v1/proof/inclusion",
            access: Access::Public,
            summary: "An inclusion proof of leaf `index` in the tree of `size` (default: latest)",
            example: "/api/v1/proof/inclusion?index=0",
        },
        get(inclusion),
    )
    .route(
        RouteInfo {
            method: "GET",
            path: "/api/v1/proof/consistency",
            access: Access::Public,
            summary: "A consistency proof from tree size `from` to `to` (default: latest)",
            example: "/api/v1/proof/consistency?from=1",
        },
        get(consistency),
    )
}

async fn checkpoint(State(state): State<AppState>) -> Response {
    let note = state.served_checkpoint();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        note.to_string(),
    )
        .into_response()
}

fn binary(bytes: Vec<u8>, tile: &TileRef, private: bool) -> Response {
    let cache = match (u64::from(tile.width) == TILE_WIDTH, private) {
        (true, false) => "public, max-age=31536000, immutable",
        (true, true) => "private, max-age=31536000, immutable",
        // A partial tile's bytes never change either, but the log may stop serving it once
        // the full tile exists.
        (false, false) => "public, max-age=60",
        (false, true) => "private, max-age=60",
    };
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        bytes,
    )
        .into_response()
}

/// Whether the tree of `size` leaves holds all of `tile`.
fn covered(tile: &TileRef, size: u64) -> bool {
    let nodes = size >> (8 * u32::from(tile.level));
    tile.index
        .checked_mul(TILE_WIDTH)
        .and_then(|first| first.checked_add(u64::from(tile.width)))
        .is_some_and(|end| end <= nodes)
}

fn missing(path: &str, size: u64) -> ApiError {
    ApiError::not_found(format!(
        "{path} is not part of the log at its latest checkpoint (size {size}); fetch /checkpoint first"
    ))
}

async fn hash_tile(
    State(state): State<AppState>,
    Path((level, rest)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let path = format!("tile/{level}/{rest}");
    let tile = TileRef::from_path(&path).map_err(|e| ApiError::not_found(e.to_string()))?;
    let size = state.head().size;
    if !covered(&tile, size) {
        return Err(missing(&path, size));
    }
    let bytes = state
        .reader()
        .with(move |store| read_hash_tile(store, &tile))
        .await?;
    Ok(binary(bytes, &tile, false))
}

fn read_hash_tile(store: &AnyStore, tile: &TileRef) -> Result<Vec<u8>, ApiError> {
    tile_bytes(store, tile).map_err(|e| ApiError::internal(format!("{}: {e}", tile.path())))
}

fn read_entry_bundle(store: &AnyStore, tile: &TileRef) -> Result<Vec<u8>, ApiError> {
    let start = tile.index * TILE_WIDTH;
    let mut data: Vec<Vec<u8>> = Vec::with_capacity(usize::from(tile.width));
    store.scan_entries(start, start + u64::from(tile.width), &mut |_, d| {
        data.push(d.to_vec());
        Ok(())
    })?;
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    entry_bundle(&refs).map_err(|e| ApiError::internal(format!("{}: {e}", tile.entries_path())))
}

async fn entries(
    State(state): State<AppState>,
    Path(rest): Path<String>,
) -> Result<Response, ApiError> {
    let path = format!("tile/entries/{rest}");
    let tile = TileRef::from_entries_path(&path).map_err(|e| ApiError::not_found(e.to_string()))?;
    let size = state.head().size;
    if !covered(&tile, size) {
        return Err(missing(&path, size));
    }
    let bytes = state
        .reader()
        .with(move |store| read_entry_bundle(store, &tile))
        .await?;
    Ok(binary(bytes, &tile, true))
}

/// The full tiles of a park that this instance does not write, read from the park's store.
///
/// A full tile (hash tile or entry bundle) never changes once a durable checkpoint covers it,
/// so it is answered here exactly as the park's writer answers it — the same bytes, the same
/// `Cache-Control`, the same token check (the park's tokens, as its writer's router checks
/// them) — without the writer lease, without asking the writer, and while the writer is gone
/// before another instance takes its lease. A partial tile may be superseded and the
/// checkpoint moves, so those, like every other request, are the writer's to answer.
#[derive(Debug)]
pub struct StoredTiles {
    reader: Reader,
    tokens: Tokens,
    /// The largest checkpoint size read from the store so far: the log only grows, so a tile
    /// it covers is served without asking the store for its checkpoint again.
    durable: AtomicU64,
}

/// A full tile a request asks for: a hash tile or an entry bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullTile {
    /// A full hash tile (`/tile/<L>/<N>`).
    Hashes(TileRef),
    /// A full entry bundle (`/tile/entries/<N>`).
    Entries(TileRef),
}

impl FullTile {
    /// The full tile a `method` request for the park route `path` (e.g. `/tile/0/x001/234`)
    /// asks for: `None` unless it is a `GET` of a full tile.
    pub fn requested(method: &Method, path: &str) -> Option<FullTile> {
        if method != Method::GET {
            return None;
        }
        let path = path.strip_prefix('/')?;
        let tile = if path.starts_with("tile/entries/") {
            FullTile::Entries(TileRef::from_entries_path(path).ok()?)
        } else if path.starts_with("tile/") {
            FullTile::Hashes(TileRef::from_path(path).ok()?)
        } else {
            return None;
        };
        (u64::from(tile.tile().width) == TILE_WIDTH).then_some(tile)
    }

    fn tile(&self) -> &TileRef {
        match self {
            FullTile::Hashes(t) | FullTile::Entries(t) => t,
        }
    }

    fn route(&self) -> &'static RouteInfo {
        match self {
            FullTile::Hashes(_) => &HASH_TILE,
            FullTile::Entries(_) => &ENTRY_BUNDLE,
        }
    }

    fn read(&self, store: &AnyStore) -> Result<Vec<u8>, ApiError> {
        match self {
            FullTile::Hashes(t) => read_hash_tile(store, t),
            FullTile::Entries(t) => read_entry_bundle(store, t),
        }
    }
}

impl StoredTiles {
    /// The full tiles of the park whose store is at `at` and whose tokens are `tokens`.
    pub fn new(at: StoreAt, tokens: Tokens) -> Self {
        StoredTiles {
            reader: Reader::new(at),
            tokens,
            durable: AtomicU64::new(0),
        }
    }

    /// The answer to a request for `tile` with `headers`: the tile when the store's latest
    /// checkpoint covers it, or the writer's refusal of the caller's token. `None` when the
    /// checkpoint does not cover it or the store cannot be read: the writer answers then.
    pub async fn answer(&self, tile: FullTile, headers: &HeaderMap) -> Option<Response> {
        let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
        let caller = self
            .tokens
            .caller(authorization)
            .and_then(|caller| tile.route().access.check(&caller));
        if let Err(refused) = caller {
            return Some(refused.into_response());
        }
        let known = self.durable.load(Ordering::Relaxed);
        let (size, bytes) = self
            .reader
            .with(move |store| {
                let mut size = known;
                if !covered(tile.tile(), size) {
                    size = tanji_park::latest_size(store)
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                }
                let bytes = if covered(tile.tile(), size) {
                    Some(tile.read(store)?)
                } else {
                    None
                };
                Ok((size, bytes))
            })
            .await
            .ok()?;
        self.durable.fetch_max(size, Ordering::Relaxed);
        Some(binary(
            bytes?,
            tile.tile(),
            matches!(tile, FullTile::Entries(_)),
        ))
    }
}

/// Query of `/api/v1/proof/inclusion`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// Leaf index.
    pub index: u64,
    /// Tree size (default: the latest checkpoint's).
    pub size: Option<u64>,
}

/// An inclusion proof, hashes in standard base64.
#[derive(Debug, Serialize, Deserialize)]
pub struct InclusionAnswer {
    /// Leaf index.
    pub index: u64,
    /// Tree size.
    pub size: u64,
    /// The leaf hash (RFC 6962).
    pub leaf_hash: String,
    /// The root of the tree of `size`.
    pub root: String,
    /// The audit path, leaf's sibling first.
    pub proof: Vec<String>,
}

/// Query of `/api/v1/proof/consistency`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// Older tree size.
    pub from: u64,
    /// Newer tree size (default: the latest checkpoint's).
    pub to: Option<u64>,
}

/// A consistency proof, hashes in standard base64.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConsistencyAnswer {
    /// Older size.
    pub from: u64,
    /// Newer size.
    pub to: u64,
    /// Root at `from`.
    pub from_root: String,
    /// Root at `to`.
    pub to_root: String,
    /// The proof.
    pub proof: Vec<String>,
}

fn b64(h: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(h)
}

async fn inclusion(
    State(state): State<AppState>,
    query: Result<Query<InclusionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<InclusionAnswer>, ApiError> {
    let Query(q) = query
        .map_err(|e| ApiError::bad_request(format!("{e}; use ?index=<leaf>[&size=<tree size>]")))?;
    let latest = state.head().size;
    let size = q.size.unwrap_or(latest);
    if size > latest || q.index >= size {
        return Err(ApiError::not_found(format!(
            "no leaf {} in a tree of size {size} (the log's latest checkpoint has size {latest})",
            q.index
        )));
    }
    let index = q.index;
    let answer = state
        .reader()
        .with(move |store| {
            let tree = |e: tanji_ledger::TreeError<tanji_store::StoreError>| {
                ApiError::internal(e.to_string())
            };
            let proof = inclusion_proof(store, index, size).map_err(tree)?;
            let leaf = tanji_ledger::NodeSource::node(store, 0, index)?;
            let root = root(store, size).map_err(tree)?;
            Ok(InclusionAnswer {
                index,
                size,
                leaf_hash: b64(&leaf),
                root: b64(&root),
                proof: proof.iter().map(|h| b64(h)).collect(),
            })
        })
        .await?;
    Ok(Json(answer))
}

async fn consistency(
    State(state): State<AppState>,
    query: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ConsistencyAnswer>, ApiError> {
    let Query(q) =
        query.map_err(|e| ApiError::bad_request(format!("{e}; use ?from=<size>[&to=<size>]")))?;
    let latest = state.head().size;
    let to = q.to.unwrap_or(latest);
    let from = q.from;
    if from == 0 || from > to || to > latest {
        return Err(ApiError::not_found(format!(
            "cannot prove size {from} consistent with size {to}: need 0 < from ≤ to ≤ {latest} (the latest checkpoint's size)"
        )));
    }
    let answer = state
        .reader()
        .with(move |store| {
            let tree = |e: tanji_ledger::TreeError<tanji_store::StoreError>| {
                ApiError::internal(e.to_string())
            };
            let proof = consistency_proof(store, from, to).map_err(tree)?;
            Ok(ConsistencyAnswer {
                from,
                to,
                from_root: b64(&root(store, from).map_err(tree)?),
                to_root: b64(&root(store, to).map_err(tree)?),
                proof: proof.iter().map(|h| b64(h)).collect(),
            })
        })
        .await?;
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(level: u8, index: u64) -> TileRef {
        TileRef {
            level,
            index,
            width: 256,
        }
    }

    #[test]
    fn only_a_get_of_a_full_tile_is_a_full_tile_request() {
        let get = |path| FullTile::requested(&Method::GET, path);
        assert_eq!(get("/tile/0/000"), Some(FullTile::Hashes(full(0, 0))));
        assert_eq!(
            get("/tile/1/x001/234"),
            Some(FullTile::Hashes(full(1, 1234)))
        );
        assert_eq!(
            get("/tile/entries/007"),
            Some(FullTile::Entries(full(0, 7)))
        );
        // Partial tiles may be superseded: the writer's to serve.
        assert_eq!(get("/tile/0/000.p/5"), None);
        assert_eq!(get("/tile/entries/000.p/5"), None);
        for other in [
            "/checkpoint",
            "/tile/0/0",
            "/tile/9/000",
            "/api/v1/log",
            "tile/0/000",
        ] {
            assert_eq!(get(other), None, "{other}");
        }
        assert_eq!(FullTile::requested(&Method::POST, "/tile/0/000"), None);
        assert_eq!(FullTile::requested(&Method::HEAD, "/tile/0/000"), None);
    }

    #[test]
    fn a_tile_is_covered_once_the_tree_holds_all_of_it() {
        assert!(!covered(&full(0, 0), 255));
        assert!(covered(&full(0, 0), 256));
        assert!(!covered(&full(0, 1), 511));
        assert!(covered(&full(1, 0), 256 * 256));
        assert!(!covered(&full(1, 0), 256 * 256 - 1));
    }
}
