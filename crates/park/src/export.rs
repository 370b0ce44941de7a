//! Export of the log in the C2SP tlog-tiles layout: `checkpoint`, `tile/<L>/<N>[.p/<W>]` and
//! `tile/entries/<N>[.p/<W>]`, for the size of the latest checkpoint. The directory can be
//! served as-is by any static web server to tlog-tiles clients.

use std::path::Path;

use tanji_ledger::{entry_bundle, tile_bytes, tiles_for_size, Checkpoint, Note, TILE_WIDTH};
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
