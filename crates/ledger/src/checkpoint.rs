//! C2SP transparency log checkpoints (<https://c2sp.org/tlog-checkpoint>): the note text
//! `<origin>\n<size>\n<base64 root>\n[<extension>\n]...`, signed as a [signed note](crate::note).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::hash::Hash;
use crate::note::{Note, NoteError, NoteSigner, NoteVerifier};

/// Why a checkpoint text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The signed note around the checkpoint is malformed or not signed by the expected key.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The text does not end with a newline.
    #[error("checkpoint text must end with a newline")]
    MissingNewline,
    /// The text has fewer than three lines.
    #[error("checkpoint has {lines} lines; it needs origin, tree size and root hash lines")]
    TooFewLines {
        /// Lines found.
        lines: usize,
    },
    /// The origin line is empty.
    #[error("checkpoint origin (line 1) is empty")]
    EmptyOrigin,
    /// The origin or an extension contains a newline or another control character.
    #[error("checkpoint line {line} contains a newline or control character")]
    ControlCharacter {
        /// 1-based line number (origin is 1, the first extension is 4).
        line: usize,
    },
    /// The tree size line is not a canonical decimal u64.
    #[error(
        "checkpoint tree size (line 2) {text:?} is not a decimal number without leading zeroes \
         that fits in 64 bits"
    )]
    BadSize {
        /// The rejected line.
        text: String,
    },
    /// The root hash line is not the canonical base64 of 32 bytes.
    #[error("checkpoint root hash (line 3) {text:?} is not the base64 encoding of 32 bytes")]
    BadRootHash {
        /// The rejected line.
        text: String,
    },
    /// An extension line is empty.
    #[error("checkpoint extension line {line} is empty; extension lines must be non-empty")]
    EmptyExtension {
        /// 1-based line number.
        line: usize,
    },
}

/// A log's signed tree head: origin, tree size, root hash and optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `tanji.example/park-7`.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree.
    pub root: Hash,
    /// Opaque extension lines, each non-empty and without its newline.
    pub extensions: Vec<String>,
}

fn has_control(line: &str) -> bool {
    line.chars().any(|c| c < ' ')
}

impl Checkpoint {
    /// The note text: origin, size, base64 root and each extension, each ending in a newline.
    ///
    /// Does not validate; [`Checkpoint::validate`] says whether the text parses back to `self`.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for ext in &self.extensions {
            text.push_str(ext);
            text.push('\n');
        }
        text
    }

    /// Checks that the origin is non-empty and that origin and extensions are single non-empty
    /// lines without control characters, so that [`Checkpoint::to_text`] parses back to `self`.
    pub fn validate(&self) -> Result<(), CheckpointError> {
        if self.origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        if has_control(&self.origin) {
            return Err(CheckpointError::ControlCharacter { line: 1 });
        }
        for (i, ext) in self.extensions.iter().enumerate() {
            if ext.is_empty() {
                return Err(CheckpointError::EmptyExtension { line: i + 4 });
            }
            if has_control(ext) {
                return Err(CheckpointError::ControlCharacter { line: i + 4 });
            }
        }
        Ok(())
    }

    /// Parses a checkpoint note text (without signatures).
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingNewline)?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointError::TooFewLines { lines: lines.len() });
        };
        let checkpoint = Checkpoint {
            origin: (*origin).into(),
            size: parse_size(size).ok_or_else(|| CheckpointError::BadSize {
                text: (*size).into(),
            })?,
            root: BASE64
                .decode(root)
                .ok()
                .and_then(|b| Hash::try_from(b).ok())
                .ok_or_else(|| CheckpointError::BadRootHash {
                    text: (*root).into(),
                })?,
            extensions: extensions.iter().map(|e| (*e).to_string()).collect(),
        };
        checkpoint.validate()?;
        Ok(checkpoint)
    }
}

fn parse_size(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical {
        text.parse().ok()
    } else {
        None
    }
}

/// Signs a checkpoint, returning the signed note text.
pub fn sign_checkpoint(cp: &Checkpoint, signer: &NoteSigner) -> Result<String, NoteError> {
    cp.validate()
        .map_err(|e| NoteError::InvalidCheckpoint(Box::new(e)))?;
    crate::note::sign_note(&cp.to_text(), &[signer])
}

/// Parses a signed checkpoint note, requires a valid signature by `verifier` (other signatures,
/// e.g. witness cosignatures, are ignored), and parses its text.
///
/// The origin is not compared with the key name; callers that expect a particular log must
/// check [`Checkpoint::origin`] themselves.
pub fn open_checkpoint(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, CheckpointError> {
    let note = Note::parse(note)?;
    note.verify(std::slice::from_ref(verifier))?;
    Checkpoint::parse(note.text())
}
