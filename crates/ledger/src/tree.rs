//! The RFC 6962 / RFC 9162 Merkle tree over a [`NodeSource`] of perfect-subtree hashes: roots,
//! arbitrary subtree hashes, inclusion and consistency proofs (creation and verification), the
//! append [`Frontier`], and an in-memory tree.
//!
//! Every tree of `n` leaves is stored as its *perfect nodes*: `node(level, index)` is the Merkle
//! Tree Hash of the `2^level` leaves `[index * 2^level, (index + 1) * 2^level)`. These never
//! change once they exist, so a storage backend can write them once (the [`Frontier::append`]
//! output) and every root and proof of every tree size can be computed from them by reading
//! `O(log n)` of them.

use crate::hash::{empty_root, node_hash, Hash};

/// A read-only store of perfect-subtree hashes.
///
/// `node(level, index)` is the Merkle Tree Hash of leaves `[index * 2^level, (index + 1) *
/// 2^level)`; level 0 nodes are leaf hashes. Storage backends implement this; the functions of
/// this module only ask for nodes that exist in the tree size they are given.
pub trait NodeSource {
    /// Why a node could not be read (missing, storage failure, ...).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The hash of the perfect subtree at `level` and `index`.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        (**self).node(level, index)
    }
}

/// Why a root, subtree hash or proof could not be computed from a [`NodeSource`].
#[derive(Debug, thiserror::Error)]
pub enum TreeError<E> {
    /// The node source failed to produce a node.
    #[error("reading a tree node: {0}")]
    Source(#[source] E),
    /// An inclusion proof was asked for a leaf the tree does not have.
    #[error("inclusion proof for leaf {index} in tree of size {size}: index out of range")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked for sizes that do not satisfy `0 < old_size <= new_size`.
    #[error(
        "consistency proof from tree size {old_size} to {new_size}: sizes must satisfy \
         0 < old size <= new size (every tree extends the empty tree; no proof is needed for it)"
    )]
    BadSizes {
        /// The older (smaller) tree size.
        old_size: u64,
        /// The newer (larger) tree size.
        new_size: u64,
    },
    /// A subtree hash was asked for a range whose start is after its end.
    #[error("subtree hash of leaves [{start}, {end}): start is after end")]
    BadRange {
        /// First leaf of the range.
        start: u64,
        /// One past the last leaf of the range.
        end: u64,
    },
    /// A tile outside what tlog-tiles allows was asked for.
    #[error(
        "tile at level {level}, index {index}, width {width}: level must be 0..=7 and width \
         1..=256, and the tile must lie inside a 64-bit tree"
    )]
    BadTile {
        /// Tile level.
        level: u8,
        /// Tile index within its level.
        index: u64,
        /// Tile width.
        width: u16,
    },
}

/// Why an inclusion or consistency proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("inclusion proof for leaf {index} in tree of size {size}: index out of range")]
    IndexOutOfRange {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// The proof has the wrong number of hashes for the index and size.
    #[error(
        "inclusion proof for leaf {index} in tree of size {size} has {actual} hashes; \
         expected {expected}"
    )]
    InclusionProofLength {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
        /// Hashes an RFC 9162 proof for this index and size has.
        expected: usize,
        /// Hashes given.
        actual: usize,
    },
    /// The proof does not lead from the leaf hash to the root.
    #[error(
        "inclusion proof for leaf {index} in tree of size {size} does not lead to the given \
         root: the leaf hash, the proof or the root is wrong"
    )]
    InclusionRootMismatch {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// Consistency was asked between sizes that do not satisfy `0 < old_size <= new_size`.
    #[error(
        "consistency proof from tree size {old_size} to {new_size}: sizes must satisfy \
         0 < old size <= new size (a proof from the empty tree proves nothing)"
    )]
    BadSizes {
        /// The claimed old tree size.
        old_size: u64,
        /// The claimed new tree size.
        new_size: u64,
    },
    /// The proof has the wrong number of hashes for the two sizes.
    #[error(
        "consistency proof from tree size {old_size} to {new_size} has {actual} hashes; \
         expected {expected}"
    )]
    ConsistencyProofLength {
        /// The claimed old tree size.
        old_size: u64,
        /// The claimed new tree size.
        new_size: u64,
        /// Hashes an RFC 9162 proof for these sizes has.
        expected: usize,
        /// Hashes given.
        actual: usize,
    },
    /// The proof does not reproduce the old root.
    #[error(
        "consistency proof from tree size {old_size} to {new_size} does not reproduce the old \
         root: the old root or the proof is wrong"
    )]
    OldRootMismatch {
        /// The claimed old tree size.
        old_size: u64,
        /// The claimed new tree size.
        new_size: u64,
    },
    /// The proof does not reproduce the new root (for equal sizes: the roots differ).
    #[error(
        "consistency proof from tree size {old_size} to {new_size} does not reproduce the new \
         root: the new root or the proof is wrong, or the log forked"
    )]
    NewRootMismatch {
        /// The claimed old tree size.
        old_size: u64,
        /// The claimed new tree size.
        new_size: u64,
    },
}

/// The largest power of two strictly less than `n`, for `n >= 2` (RFC 6962's split point `k`).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

fn read<S: NodeSource>(src: &S, level: u32, index: u64) -> Result<Hash, TreeError<S::Error>> {
    // `level` < 64 because it is the log2 of a u64 range length.
    src.node(level as u8, index).map_err(TreeError::Source)
}

/// `MTH(D[start:end])` for `start < end`, reading the fewest perfect nodes.
fn mth<S: NodeSource>(src: &S, start: u64, end: u64) -> Result<Hash, TreeError<S::Error>> {
    let n = end - start;
    if n.is_power_of_two() && start % n == 0 {
        return read(src, n.trailing_zeros(), start >> n.trailing_zeros());
    }
    let k = split(n);
    let left = mth(src, start, start + k)?;
    let right = mth(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree of the first `size` leaves (`MTH(D[0:size])`).
///
/// Reads one node per set bit of `size`.
pub fn root<S: NodeSource>(src: &S, size: u64) -> Result<Hash, TreeError<S::Error>> {
    if size == 0 {
        return Ok(empty_root());
    }
    mth(src, 0, size)
}

/// `MTH(D[start:end])`: the Merkle Tree Hash of leaves `start..end` taken as a tree of their own.
///
/// For ranges that are subtrees of a larger RFC 6962 tree (a perfect subtree, or the right edge
/// `[start, size)` with `start` aligned) this reads `O(log n)` perfect nodes. Any other range is
/// computed correctly too, at the cost of more reads. `start == end` gives the empty root.
pub fn subtree_hash<S: NodeSource>(
    src: &S,
    start: u64,
    end: u64,
) -> Result<Hash, TreeError<S::Error>> {
    match start.cmp(&end) {
        std::cmp::Ordering::Greater => Err(TreeError::BadRange { start, end }),
        std::cmp::Ordering::Equal => Ok(empty_root()),
        std::cmp::Ordering::Less => mth(src, start, end),
    }
}

/// The RFC 9162 §2.1.3.1 inclusion proof `PATH(index, D[0:size])`, leaf-side hash first.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TreeError<S::Error>> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::with_capacity(64 - (size - 1).leading_zeros() as usize);
    path(src, index, 0, size, &mut proof)?;
    Ok(proof)
}

/// `PATH(m - start, D[start:end])` appended to `out`.
fn path<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), TreeError<S::Error>> {
    let n = end - start;
    if n == 1 {
        return Ok(());
    }
    let k = split(n);
    if m < start + k {
        path(src, m, start, start + k, out)?;
        out.push(mth(src, start + k, end)?);
    } else {
        path(src, m, start + k, end, out)?;
        out.push(mth(src, start, start + k)?);
    }
    Ok(())
}

/// The RFC 9162 §2.1.4.1 consistency proof `PROOF(old_size, D[0:new_size])`.
///
/// Requires `0 < old_size <= new_size`; equal sizes give the empty proof.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, TreeError<S::Error>> {
    if old_size == 0 || old_size > new_size {
        return Err(TreeError::BadSizes { old_size, new_size });
    }
    let mut proof = Vec::with_capacity(2 * (64 - new_size.leading_zeros() as usize));
    subproof(src, old_size, 0, new_size, true, &mut proof)?;
    Ok(proof)
}

/// `SUBPROOF(m - start, D[start:end], b)` appended to `out`.
fn subproof<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    b: bool,
    out: &mut Vec<Hash>,
) -> Result<(), TreeError<S::Error>> {
    let n = end - start;
    if m - start == n {
        if !b {
            out.push(mth(src, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m - start <= k {
        subproof(src, m, start, start + k, b, out)?;
        out.push(mth(src, start + k, end)?);
    } else {
        subproof(src, m, start + k, end, false, out)?;
        out.push(mth(src, start, start + k)?);
    }
    Ok(())
}

/// Splits an inclusion proof for `index` in a tree of `size` into the hashes below the point
/// where the paths to `index` and to the last leaf diverge (`inner`) and the left siblings on
/// the right border above it (`border`).
fn decompose(index: u64, size: u64) -> (usize, usize) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner as usize, border as usize)
}

fn chain_inner(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        seed = if (index >> i) & 1 == 0 {
            node_hash(&seed, h)
        } else {
            node_hash(h, &seed)
        };
    }
    seed
}

fn chain_inner_right(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 1 {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

fn chain_border_right(mut seed: Hash, proof: &[Hash]) -> Hash {
    for h in proof {
        seed = node_hash(h, &seed);
    }
    seed
}

/// Verifies an RFC 9162 §2.1.3.2 inclusion proof of `leaf_hash` at `index` in the tree of
/// `size` leaves with root `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose(index, size);
    if proof.len() != inner + border {
        return Err(ProofError::InclusionProofLength {
            index,
            size,
            expected: inner + border,
            actual: proof.len(),
        });
    }
    let computed = chain_inner(*leaf_hash, &proof[..inner], index);
    let computed = chain_border_right(computed, &proof[inner..]);
    if &computed != root {
        return Err(ProofError::InclusionRootMismatch { index, size });
    }
    Ok(())
}

/// Verifies an RFC 9162 §2.1.4.2 consistency proof between the tree of `old_size` leaves with
/// root `old_root` and the tree of `new_size` leaves with root `new_root`.
///
/// Requires `0 < old_size <= new_size`. RFC 9162 defines proofs for `0 < old < new`; equal sizes
/// are accepted with an empty proof when the roots are equal. `old_size == 0` is an error, not a
/// trivial success: every tree extends the empty tree, so a caller asking is confused.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size == 0 || old_size > new_size {
        return Err(ProofError::BadSizes { old_size, new_size });
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::ConsistencyProofLength {
                old_size,
                new_size,
                expected: 0,
                actual: proof.len(),
            });
        }
        if old_root != new_root {
            return Err(ProofError::NewRootMismatch { old_size, new_size });
        }
        return Ok(());
    }
    // The old tree's rightmost perfect subtree is node (shift, mask); the proof is its
    // inclusion proof in the new tree, seen from that level, preceded by the node itself unless
    // it is the whole old tree (old_size a power of two).
    let shift = old_size.trailing_zeros();
    let mask = (old_size - 1) >> shift;
    let (inner, border) = decompose(old_size - 1, new_size);
    let inner = inner - shift as usize;
    let (seed, rest, start) = if mask == 0 {
        (*old_root, proof, 0)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest, 1),
            None => (*old_root, proof, 1),
        }
    };
    if proof.len() != start + inner + border {
        return Err(ProofError::ConsistencyProofLength {
            old_size,
            new_size,
            expected: start + inner + border,
            actual: proof.len(),
        });
    }
    let old = chain_inner_right(seed, &rest[..inner], mask);
    let old = chain_border_right(old, &rest[inner..]);
    if &old != old_root {
        return Err(ProofError::OldRootMismatch { old_size, new_size });
    }
    let new = chain_inner(seed, &rest[..inner], mask);
    let new = chain_border_right(new, &rest[inner..]);
    if &new != new_root {
        return Err(ProofError::NewRootMismatch { old_size, new_size });
    }
    Ok(())
}

/// The right edge of a tree: the hashes of its perfect subtrees, one per set bit of its size,
/// largest (leftmost) first. Enough to append leaves and to compute the root, and nothing more.
///
/// Holds at most 64 hashes, with room for all 64 reserved up front, so appending never
/// allocates.
#[derive(Debug, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Perfect subtree hashes, highest level (leftmost) first.
    hashes: Vec<Hash>,
}

impl Clone for Frontier {
    fn clone(&self) -> Self {
        let mut hashes = Vec::with_capacity(64);
        hashes.extend_from_slice(&self.hashes);
        Frontier {
            size: self.size,
            hashes,
        }
    }
}

impl Default for Frontier {
    fn default() -> Self {
        Self::new()
    }
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Frontier {
            size: 0,
            hashes: Vec::with_capacity(64),
        }
    }

    /// The frontier of the tree of the first `size` leaves of `src`, reading one node per set
    /// bit of `size`.
    pub fn from_source<S: NodeSource>(src: &S, size: u64) -> Result<Self, TreeError<S::Error>> {
        let mut frontier = Frontier::new();
        let mut start = 0u64;
        for level in (0..64).rev() {
            let width = 1u64 << level;
            if size & width != 0 {
                frontier.hashes.push(read(src, level, start >> level)?);
                start += width;
            }
        }
        frontier.size = size;
        Ok(frontier)
    }

    /// The number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree's root (the empty root for size 0).
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// The perfect subtrees of the tree as `(level, index, hash)`, leftmost (largest) first.
    pub fn subtrees(&self) -> impl Iterator<Item = (u8, u64, Hash)> + '_ {
        let mut start = 0u64;
        let levels = (0..64u8).rev().filter(|l| self.size & (1u64 << l) != 0);
        levels.zip(&self.hashes).map(move |(level, hash)| {
            let index = start >> level;
            start += 1u64 << level;
            (level, index, *hash)
        })
    }

    /// Appends one leaf hash. Pushes onto `out` every perfect node that now exists and did not
    /// before: `(0, old_size, leaf_hash)` first, then each completed parent
    /// `(level, index, hash)` in increasing level.
    ///
    /// # Panics
    ///
    /// If the tree already has `u64::MAX` leaves.
    pub fn append(&mut self, leaf_hash: Hash, out: &mut Vec<(u8, u64, Hash)>) {
        let size = self.size;
        let new_size = size.checked_add(1);
        #[allow(clippy::expect_used)] // 2^64 - 1 leaves cannot be reached by appending.
        let new_size = new_size.expect("Merkle tree size overflows u64");
        out.push((0, size, leaf_hash));
        let mut hash = leaf_hash;
        let mut level = 0u8;
        let mut index = size;
        // Each trailing one bit of the old size is a perfect subtree the new node completes.
        while index & 1 == 1 {
            let Some(left) = self.hashes.pop() else {
                break; // unreachable: one stored hash per set bit of `size`
            };
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            out.push((level, index, hash));
        }
        self.hashes.push(hash);
        self.size = new_size;
    }
}

/// A node that a [`MemoryTree`] does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("in-memory tree of size {size} has no perfect node at level {level}, index {index}")]
pub struct MissingNode {
    /// Requested level.
    pub level: u8,
    /// Requested index.
    pub index: u64,
    /// Leaves in the tree.
    pub size: u64,
}

/// An in-memory tree holding every perfect node, built by appending leaf hashes.
///
/// For tests, tools and small logs; production storage implements [`NodeSource`] itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    /// `levels[l][i]` is node `(l, i)`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        MemoryTree { levels: Vec::new() }
    }

    /// A tree of the given leaf hashes, in order.
    pub fn from_leaf_hashes(leaf_hashes: impl IntoIterator<Item = Hash>) -> Self {
        let mut tree = MemoryTree::new();
        for leaf in leaf_hashes {
            tree.push(leaf);
        }
        tree
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf_hash: Hash) {
        let mut hash = leaf_hash;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            if row.len() % 2 == 1 {
                return;
            }
            hash = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        let size = self.size();
        let mut acc: Option<Hash> = None;
        let mut end = size;
        for (level, row) in self.levels.iter().enumerate() {
            if size & (1u64 << level) != 0 {
                end -= 1 << level;
                let node = row[(end >> level) as usize];
                acc = Some(match acc {
                    None => node,
                    Some(right) => node_hash(&node, &right),
                });
            }
        }
        acc.unwrap_or_else(empty_root)
    }
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;

    fn node(&self, level: u8, index: u64) -> Result<Hash, MissingNode> {
        let missing = || MissingNode {
            level,
            index,
            size: self.size(),
        };
        let row = self.levels.get(level as usize).ok_or_else(missing)?;
        let i = usize::try_from(index).map_err(|_| missing())?;
        row.get(i).copied().ok_or_else(missing)
    }
}
