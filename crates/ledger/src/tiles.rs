//! C2SP tiled transparency logs (<https://c2sp.org/tlog-tiles>): tile paths, tile contents,
//! entry bundles, and a [`NodeSource`] over a set of tiles.
//!
//! A tile at level `L`, index `N` holds up to 256 consecutive tree nodes at tree level `8 * L`:
//! `node(8L, 256N + i)` for `i < width`. Nodes at other levels are hashed from the tile below.

use std::collections::HashMap;

use crate::hash::{node_hash, Hash};
use crate::tree::{NodeSource, TreeError};

/// Tree levels per tile.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 256;
/// Highest tile level that can exist in a tree of at most `u64::MAX` leaves.
pub const MAX_TILE_LEVEL: u8 = 7;

/// Why a tile, tile path or entry bundle was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// A tile's level, width or index is outside what tlog-tiles allows.
    #[error(
        "tile at level {level}, index {index}, width {width} is invalid: level must be 0..=7 \
         and width 1..=256, and the tile must lie inside a 64-bit tree"
    )]
    BadTile {
        /// Tile level.
        level: u8,
        /// Tile index.
        index: u64,
        /// Tile width.
        width: u16,
    },
    /// Tile data is not 32 bytes per hash.
    #[error("tile {path} must be {expected} bytes (32 per hash) but is {actual}")]
    WrongLength {
        /// The tile's path.
        path: String,
        /// `32 * width`.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// Two copies of the same tile disagree on a hash.
    #[error(
        "tile {path} disagrees with the copy of that tile already held at hash {position}; \
         one of them is corrupt or from a forked log"
    )]
    Conflict {
        /// The tile's path.
        path: String,
        /// First differing hash position.
        position: usize,
    },
    /// A node was asked for whose tile is not in the [`TileSet`].
    #[error(
        "node at level {level}, index {index} needs tile {path} of width at least {width}, \
         which is not in the tile set"
    )]
    MissingTile {
        /// Requested node level.
        level: u8,
        /// Requested node index.
        index: u64,
        /// Path of the full tile that would hold it.
        path: String,
        /// Minimum width needed.
        width: u16,
    },
    /// A path is not a canonical tile or entry bundle path.
    #[error("{path:?} is not a canonical tlog-tiles path: {reason}")]
    BadPath {
        /// The rejected path.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An entry is too long for the uint16 length prefix.
    #[error("entry {index} of the bundle is {len} bytes; entries are limited to 65535 bytes")]
    EntryTooLong {
        /// Position in the bundle.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// A bundle has no entries or more than 256.
    #[error("entry bundle has {count} entries; bundles hold 1 to 256")]
    BadEntryCount {
        /// Entries given or found.
        count: usize,
    },
    /// A bundle ends inside an entry.
    #[error(
        "entry bundle is truncated: entry {index} at byte {offset} needs {needed} bytes but \
         only {available} remain"
    )]
    TruncatedBundle {
        /// Position of the truncated entry.
        index: usize,
        /// Byte offset of its length prefix.
        offset: usize,
        /// Bytes it needs (prefix and body).
        needed: usize,
        /// Bytes left.
        available: usize,
    },
}

/// A tile coordinate: level, index within the level, and width (1..=256; 256 is a full tile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileRef {
    /// Tile level: the tile holds tree nodes at level `8 * level`.
    pub level: u8,
    /// Index of the tile within its level.
    pub index: u64,
    /// Number of hashes (or entries), 1..=256; 256 means full.
    pub width: u16,
}

impl TileRef {
    /// The tile's path, `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!(
            "tile/{}/{}{}",
            self.level,
            encode_tile_index(self.index),
            self.partial_suffix()
        )
    }

    /// The path of the entry bundle for this (level 0) tile, `tile/entries/<N>[.p/<W>]`. Only
    /// `index` and `width` are used.
    pub fn entries_path(&self) -> String {
        format!(
            "tile/entries/{}{}",
            encode_tile_index(self.index),
            self.partial_suffix()
        )
    }

    fn partial_suffix(&self) -> String {
        if u64::from(self.width) == TILE_WIDTH {
            String::new()
        } else {
            format!(".p/{}", self.width)
        }
    }

    /// Whether level, width and index are within what tlog-tiles allows: level at most 7,
    /// width 1..=256, and every node of the tile starting below leaf 2^64.
    pub fn is_valid(&self) -> bool {
        let width = u64::from(self.width);
        if self.level > MAX_TILE_LEVEL || !(1..=TILE_WIDTH).contains(&width) {
            return false;
        }
        let last = self
            .index
            .checked_mul(TILE_WIDTH)
            .and_then(|first| first.checked_add(width - 1));
        last.is_some_and(|n| n <= u64::MAX >> (8 * u32::from(self.level)))
    }

    fn check(&self) -> Result<(), TileError> {
        if self.is_valid() {
            Ok(())
        } else {
            Err(TileError::BadTile {
                level: self.level,
                index: self.index,
                width: self.width,
            })
        }
    }

    /// Parses a canonical tile path `tile/<L>/<N>[.p/<W>]`.
    pub fn from_path(path: &str) -> Result<TileRef, TileError> {
        let bad = |reason| TileError::BadPath {
            path: path.into(),
            reason,
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| bad("does not start with tile/"))?;
        let (level, rest) = rest
            .split_once('/')
            .ok_or_else(|| bad("no level component"))?;
        let level: u8 = parse_decimal(level).ok_or_else(|| bad("level is not a number"))?;
        let (index, width) =
            parse_index_and_width(rest).ok_or_else(|| bad("bad index or width"))?;
        let tile = TileRef {
            level,
            index,
            width,
        };
        if !tile.is_valid() {
            return Err(bad("level, index or width out of range"));
        }
        if tile.path() != path {
            return Err(bad("not in canonical form"));
        }
        Ok(tile)
    }

    /// Parses a canonical entry bundle path `tile/entries/<N>[.p/<W>]` into its level 0 tile.
    pub fn from_entries_path(path: &str) -> Result<TileRef, TileError> {
        let bad = |reason| TileError::BadPath {
            path: path.into(),
            reason,
        };
        let rest = path
            .strip_prefix("tile/entries/")
            .ok_or_else(|| bad("does not start with tile/entries/"))?;
        let (index, width) =
            parse_index_and_width(rest).ok_or_else(|| bad("bad index or width"))?;
        let tile = TileRef {
            level: 0,
            index,
            width,
        };
        if !tile.is_valid() {
            return Err(bad("index or width out of range"));
        }
        if tile.entries_path() != path {
            return Err(bad("not in canonical form"));
        }
        Ok(tile)
    }
}

fn parse_decimal<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `<N>[.p/<W>]` leniently; callers compare against the canonical re-encoding.
fn parse_index_and_width(s: &str) -> Option<(u64, u16)> {
    let (index, width) = match s.split_once(".p/") {
        Some((index, width)) => (index, parse_decimal::<u16>(width)?),
        None => (s, TILE_WIDTH as u16),
    };
    let mut n = 0u64;
    for part in index.split('/') {
        let digits: u64 = parse_decimal(part.strip_prefix('x').unwrap_or(part))?;
        n = n.checked_mul(1000)?.checked_add(digits)?;
    }
    Some((n, width))
}

/// Encodes a tile index as zero-padded 3-digit path elements, all but the last prefixed with
/// `x`: 1234067 → `x001/x234/067`.
pub fn encode_tile_index(n: u64) -> String {
    let mut groups = Vec::with_capacity(7);
    let mut rest = n;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    let mut out = String::with_capacity(groups.len() * 5);
    for (i, group) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{group:03}/"));
        } else {
            out.push_str(&format!("{group:03}"));
        }
    }
    out
}

/// Every full and partial tile, at every level, that represents the tree of `size` leaves.
///
/// Level 0 tiles come first, in index order; e.g. 70,000 gives 273 full tiles and a partial of
/// width 112 at level 0, one full tile and a partial of width 17 at level 1, and a partial of
/// width 1 at level 2.
pub fn tiles_for_size(size: u64) -> Vec<TileRef> {
    new_tiles(0, size)
}

/// The tiles that a log growing from `old_size` to `new_size` leaves must publish: full tiles
/// completed since `old_size` and the partial tiles of `new_size` that did not exist at
/// `old_size`. Tiles are ordered by level, then index.
pub fn new_tiles(old_size: u64, new_size: u64) -> Vec<TileRef> {
    let mut tiles = Vec::new();
    for level in 0..=MAX_TILE_LEVEL {
        let shift = 8 * u32::from(level);
        let new_count = new_size >> shift; // nodes at tree level 8 * level
        if new_count == 0 {
            break;
        }
        let old_count = old_size.min(new_size) >> shift;
        if old_count == new_count {
            continue;
        }
        for index in (old_count / TILE_WIDTH)..(new_count / TILE_WIDTH) {
            tiles.push(TileRef {
                level,
                index,
                width: TILE_WIDTH as u16,
            });
        }
        let partial = new_count % TILE_WIDTH;
        if partial > 0 {
            tiles.push(TileRef {
                level,
                index: new_count / TILE_WIDTH,
                width: partial as u16,
            });
        }
    }
    tiles
}

/// The contents of `tile`: `node(8 * level, 256 * index + i)` for `i < width`, concatenated.
pub fn tile_bytes<S: NodeSource>(src: &S, tile: &TileRef) -> Result<Vec<u8>, TreeError<S::Error>> {
    if !tile.is_valid() {
        return Err(TreeError::BadTile {
            level: tile.level,
            index: tile.index,
            width: tile.width,
        });
    }
    let level = TILE_HEIGHT * tile.level;
    let first = tile.index * TILE_WIDTH;
    let mut out = Vec::with_capacity(32 * usize::from(tile.width));
    for i in 0..u64::from(tile.width) {
        out.extend_from_slice(&src.node(level, first + i).map_err(TreeError::Source)?);
    }
    Ok(out)
}

/// Encodes an entry bundle: each entry prefixed by its length as a big-endian uint16.
pub fn entry_bundle(entries: &[&[u8]]) -> Result<Vec<u8>, TileError> {
    if entries.is_empty() || entries.len() as u64 > TILE_WIDTH {
        return Err(TileError::BadEntryCount {
            count: entries.len(),
        });
    }
    let total = entries.iter().map(|e| 2 + e.len()).sum();
    let mut out = Vec::with_capacity(total);
    for (index, entry) in entries.iter().enumerate() {
        let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLong {
            index,
            len: entry.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Decodes an entry bundle into its entries (1 to 256).
pub fn parse_entry_bundle(bytes: &[u8]) -> Result<Vec<Vec<u8>>, TileError> {
    let mut entries = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let index = entries.len();
        if index as u64 == TILE_WIDTH {
            return Err(TileError::BadEntryCount { count: index + 1 });
        }
        let available = bytes.len() - offset;
        let truncated = |needed| TileError::TruncatedBundle {
            index,
            offset,
            needed,
            available,
        };
        let [hi, lo] = *bytes
            .get(offset..offset + 2)
            .and_then(|p| <&[u8; 2]>::try_from(p).ok())
            .ok_or_else(|| truncated(2))?;
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let entry = bytes
            .get(offset + 2..offset + 2 + len)
            .ok_or_else(|| truncated(2 + len))?;
        entries.push(entry.to_vec());
        offset += 2 + len;
    }
    if entries.is_empty() {
        return Err(TileError::BadEntryCount { count: 0 });
    }
    Ok(entries)
}

/// A [`NodeSource`] backed by tiles, e.g. read back from an exported tile directory.
///
/// Answers `node(level, index)` for any level: nodes at levels that are multiples of 8 are read
/// from a tile directly, others are hashed from the (at most 128) hashes below them in their
/// tile. Of the several widths of one tile, the widest is kept.
#[derive(Debug, Clone, Default)]
pub struct TileSet {
    tiles: HashMap<(u8, u64), Vec<u8>>,
}

impl TileSet {
    /// An empty tile set.
    pub fn new() -> Self {
        TileSet::default()
    }

    /// Adds a tile's contents. Checks that it is `32 * width` bytes and agrees with any other
    /// width of the same tile already held.
    pub fn insert(&mut self, tile: TileRef, bytes: Vec<u8>) -> Result<(), TileError> {
        tile.check()?;
        let expected = 32 * usize::from(tile.width);
        if bytes.len() != expected {
            return Err(TileError::WrongLength {
                path: tile.path(),
                expected,
                actual: bytes.len(),
            });
        }
        let slot = self.tiles.entry((tile.level, tile.index)).or_default();
        let common = slot.len().min(bytes.len());
        if let Some(position) =
            (0..common / 32).find(|&i| slot[32 * i..32 * (i + 1)] != bytes[32 * i..32 * (i + 1)])
        {
            return Err(TileError::Conflict {
                path: tile.path(),
                position,
            });
        }
        if bytes.len() > slot.len() {
            *slot = bytes;
        }
        Ok(())
    }

    /// Number of distinct tiles (by level and index) held.
    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    /// Whether no tile is held.
    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }
}

/// The perfect-tree hash of `hashes`, whose length is a power of two.
fn perfect_hash(hashes: &[u8]) -> Hash {
    if hashes.len() == 32 {
        let mut h = [0u8; 32];
        h.copy_from_slice(hashes);
        return h;
    }
    let (left, right) = hashes.split_at(hashes.len() / 2);
    node_hash(&perfect_hash(left), &perfect_hash(right))
}

impl NodeSource for TileSet {
    type Error = TileError;

    fn node(&self, level: u8, index: u64) -> Result<Hash, TileError> {
        let tile_level = level / TILE_HEIGHT;
        let within = u32::from(level % TILE_HEIGHT);
        let span = 1u64 << within; // hashes of the tile below this node
        let first = index.checked_shl(within).filter(|f| f >> within == index);
        let missing = |path: String, width: u64| TileError::MissingTile {
            level,
            index,
            path,
            width: width as u16,
        };
        let Some(first) = first else {
            return Err(missing("(beyond a 64-bit tree)".into(), TILE_WIDTH));
        };
        let tile_index = first / TILE_WIDTH;
        let start = (first % TILE_WIDTH) as usize;
        let end = start + span as usize;
        let data = self
            .tiles
            .get(&(tile_level, tile_index))
            .filter(|d| d.len() >= 32 * end)
            .ok_or_else(|| {
                let full = TileRef {
                    level: tile_level,
                    index: tile_index,
                    width: TILE_WIDTH as u16,
                };
                missing(full.path(), end as u64)
            })?;
        Ok(perfect_hash(&data[32 * start..32 * end]))
    }
}
