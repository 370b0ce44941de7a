//! Export of the log in the C2SP tlog-tiles layout: `checkpoint`, `tile/<L>/<N>[.p/<W>]` and
//! `tile/entries/<N>[.p/<W>]`, for the size of the latest checkpoint. The directory can be
//! served as-is by any static web server to tlog-tiles clients.

use std::path::Path;

use base64::Engine;
use tanji_ledger::{
    entry_bundle, leaf_hash, open_checkpoint, parse_entry_bundle, tile_bytes, tiles_for_size,
    Checkpoint, Hash, Note, NoteVerifier, TileSet, TILE_WIDTH,
};
use tanji_store::Store;

use crate::{Park, ParkError};

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// The tree size exported (the latest checkpoint's).
    pub size: u64,
    /// Hash tiles written (all levels, full and partial).
    pub hash_tiles: u64,
    /// Entry bundles written.
    pub entry_bundles: u64,
    /// Bytes written in all.
    pub bytes: u64,
}

/// What [`check_tiles`] found in an exported tiles directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TilesCheck {
    /// The checkpoint's origin line.
    pub origin: String,
    /// The checkpoint's tree size.
    pub size: u64,
    /// The root the tiles reproduce (equal to the checkpoint's).
    pub root: Hash,
    /// Entries that hash to their leaves.
    pub entries: u64,
}

fn read_file(path: &Path) -> Result<Vec<u8>, ParkError> {
    std::fs::read(path).map_err(|e| ParkError::Io {
        path: path.display().to_string(),
        source: e,
    })
}

fn b64(h: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(h)
}

/// Reads an exported tiles directory (as [`Park::export_tiles`] writes it) back and checks it
/// against `verifier`: the checkpoint verifies, every entry bundle hashes to its level-0 tile
/// and the tiles reproduce the checkpoint's root. Needs nothing but the directory and the key.
pub fn check_tiles(dir: &Path, verifier: &NoteVerifier) -> Result<TilesCheck, ParkError> {
    let note = String::from_utf8(read_file(&dir.join("checkpoint"))?)
        .map_err(|e| ParkError::Tree(format!("{}/checkpoint: {e}", dir.display())))?;
    let cp = open_checkpoint(&note, verifier)
        .map_err(|e| ParkError::Tree(format!("the exported checkpoint: {e}")))?;
    let mut set = TileSet::new();
    let mut entries = 0u64;
    for tile in tiles_for_size(cp.size) {
        let path = dir.join(tile.path());
        let bytes = read_file(&path)?;
        if tile.level == 0 {
            let bpath = dir.join(tile.entries_path());
            let bundle = read_file(&bpath)?;
            let items = parse_entry_bundle(&bundle)
                .map_err(|e| ParkError::Tree(format!("{}: {e}", bpath.display())))?;
            if items.len() != usize::from(tile.width) {
                return Err(ParkError::Tree(format!(
                    "{}: {} entries, the tile holds {}",
                    bpath.display(),
                    items.len(),
                    tile.width
                )));
            }
            for (i, e) in items.iter().enumerate() {
                if bytes.get(i * 32..i * 32 + 32) != Some(&leaf_hash(e)[..]) {
                    return Err(ParkError::Tree(format!(
                        "entry {} in {} does not hash to its leaf in {}",
                        tile.index * TILE_WIDTH + i as u64,
                        bpath.display(),
                        path.display()
                    )));
                }
            }
            entries += items.len() as u64;
        }
        set.insert(tile, bytes)
            .map_err(|e| ParkError::Tree(format!("{}: {e}", path.display())))?;
    }
    let root = tanji_ledger::root(&set, cp.size)
        .map_err(|e| ParkError::Tree(format!("computing the root from the tiles: {e}")))?;
    if root != cp.root {
        return Err(ParkError::Tree(format!(
            "the tiles give root {}, the checkpoint says {}",
            b64(&root),
            b64(&cp.root)
        )));
    }
    Ok(TilesCheck {
        origin: cp.origin,
        size: cp.size,
        root,
        entries,
    })
}

fn write_file(out: &Path, rel: &str, data: &[u8]) -> Result<u64, ParkError> {
    let path = out.join(rel);
    let io = |e: std::io::Error| ParkError::Io {
        path: path.display().to_string(),
        source: e,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    // Write then rename, so a reader never sees half a tile.
    let tmp = path.with_extension("tmp-export");
    std::fs::write(&tmp, data).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(data.len() as u64)
}

impl<S: Store> Park<S> {
    /// Writes the tlog-tiles layout of the latest checkpoint into `out`. `progress(done, total)`
    /// is called per tile. The checkpoint is written last, so a reader that sees it finds every
    /// tile it needs.
    pub fn export_tiles(
        &self,
        out: &Path,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ExportSummary, ParkError> {
        let note = self.checkpoint()?;
        let cp = Note::parse(&note)
            .map_err(|e| e.to_string())
            .and_then(|n| Checkpoint::parse(n.text()).map_err(|e| e.to_string()))
            .map_err(|e| ParkError::Inconsistent(format!("the latest checkpoint: {e}")))?;
        let size = cp.size;
        let tiles = tiles_for_size(size);
        let total = tiles.len() as u64;
        let mut summary = ExportSummary {
            size,
            ..ExportSummary::default()
        };
        for (i, tile) in tiles.iter().enumerate() {
            let bytes =
                tile_bytes(&self.store, tile).map_err(|e| ParkError::Tree(e.to_string()))?;
            summary.bytes += write_file(out, &tile.path(), &bytes)?;
            summary.hash_tiles += 1;
            if tile.level == 0 {
                let start = tile.index * TILE_WIDTH;
                let end = start + u64::from(tile.width);
                let mut entries: Vec<Vec<u8>> = Vec::with_capacity(usize::from(tile.width));
                self.store.scan_entries(start, end, &mut |_, d| {
                    entries.push(d.to_vec());
                    Ok(())
                })?;
                let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
                let bundle = entry_bundle(&refs).map_err(|e| ParkError::Tree(e.to_string()))?;
                summary.bytes += write_file(out, &tile.entries_path(), &bundle)?;
                summary.entry_bundles += 1;
            }
            progress(i as u64 + 1, total);
        }
        summary.bytes += write_file(out, "checkpoint", note.as_bytes())?;
        Ok(summary)
    }
}
