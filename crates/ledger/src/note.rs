//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys (signature type 0x01).
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one or more lines
//! `— <key name> base64(key ID || signature)`. Keys are identified by (name, key ID); verifier
//! keys travel as text `<name>+<hex key ID>+base64(0x01 || public key)`.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::checkpoint::CheckpointError;

/// The signed-note signature type byte for Ed25519.
pub const ED25519_TYPE: u8 = 0x01;

/// The most signature lines [`Note::parse`] accepts. The spec requires accepting at least 16.
pub const MAX_SIGNATURES: usize = 100;

/// Why a note, key or signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key name is empty or contains a Unicode space or `+`.
    #[error("key name {name:?} is invalid: names must be non-empty and contain no spaces or '+'")]
    InvalidKeyName {
        /// The rejected name.
        name: String,
    },
    /// A note is not UTF-8.
    #[error("note is not valid UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// A note or note text contains an ASCII control character other than newline.
    #[error(
        "note contains control character U+{code:04X} on line {line}; only newline is allowed"
    )]
    ControlCharacter {
        /// The character's code point.
        code: u32,
        /// 1-based line number.
        line: usize,
    },
    /// A note text is empty or does not end with a newline.
    #[error("note text must be non-empty and end with a newline")]
    TextMissingNewline,
    /// A note has no blank line separating text from signatures.
    #[error("note has no blank line separating its text from its signatures")]
    MissingSignatureBlock,
    /// A note's signature block is empty or does not end with a newline.
    #[error("note's signature block must be one or more lines, each ending with a newline")]
    MalformedSignatureBlock,
    /// A signature line is not `— <name> <base64>`.
    #[error("signature line {line} of the note is malformed: {reason}")]
    BadSignatureLine {
        /// 1-based index of the signature line within the signature block.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A note has more signature lines than [`MAX_SIGNATURES`].
    #[error("note has {count} signatures; at most {max} are accepted")]
    TooManySignatures {
        /// Signature lines found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A verifier key string is malformed.
    #[error("verifier key {vkey:?} is malformed: {reason}")]
    BadVerifierKey {
        /// The rejected key text.
        vkey: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A signer key string is malformed. The key itself is not repeated in the message.
    #[error("signer key for {name:?} is malformed: {reason}")]
    BadSignerKey {
        /// The key name, if it could be read.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key uses a signature type other than Ed25519 (0x01).
    #[error("key {name} uses signature type 0x{kind:02x}; only Ed25519 (0x01) is supported")]
    UnsupportedKeyType {
        /// The key name.
        name: String,
        /// The signature type byte.
        kind: u8,
    },
    /// A key's stated ID is not the one its name and public key hash to.
    #[error(
        "key {name} states key ID {stated:08x} but its name and public key give {computed:08x}"
    )]
    KeyIdMismatch {
        /// The key name.
        name: String,
        /// The ID written in the key.
        stated: u32,
        /// The ID computed from name and public key.
        computed: u32,
    },
    /// Several verifiers share a name and key ID, so a signature cannot be attributed.
    #[error("more than one verifier is named {name} with key ID {key_id:08x}")]
    AmbiguousVerifier {
        /// The shared name.
        name: String,
        /// The shared key ID.
        key_id: u32,
    },
    /// A signature by a known key does not verify: the note was altered or forged.
    #[error(
        "signature by known key {name}+{key_id:08x} does not verify: the note text was altered \
         or signed by a different key"
    )]
    BadSignature {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
    },
    /// No signature from any of the given verifiers is on the note.
    #[error("note has no verified signature: it is signed only by unknown keys [{signers}]")]
    NoVerifiedSignature {
        /// The `name+keyid` of each signature present, comma separated.
        signers: String,
    },
    /// A note was to be signed by no signer.
    #[error("a signed note needs at least one signer; none was given")]
    NoSigners,
    /// A checkpoint could not be signed because it is not well-formed.
    #[error("cannot sign checkpoint: {0}")]
    InvalidCheckpoint(#[source] Box<CheckpointError>),
}

/// Whether `name` is a valid key name: non-empty, no Unicode spaces, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

pub(crate) fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidKeyName { name: name.into() })
    }
}

/// The recommended key ID: `SHA-256(name || 0x0A || type || public key)[:4]`, big-endian.
pub fn key_id(name: &str, key_type: u8, public_key: &[u8]) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', key_type])
        .chain_update(public_key)
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Rejects ASCII control characters other than newline.
fn check_controls(text: &str) -> Result<(), NoteError> {
    let mut line = 1;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        } else if c < ' ' {
            return Err(NoteError::ControlCharacter {
                code: c as u32,
                line,
            });
        }
    }
    Ok(())
}

/// Checks a note text: non-empty, newline-terminated, no control characters but newline.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::TextMissingNewline);
    }
    check_controls(text)
}

/// An Ed25519 note signing key with its name.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer named `name` (validated) using `key`.
    pub fn new(name: impl Into<String>, key: SigningKey) -> Result<Self, NoteError> {
        let name = name.into();
        check_name(&name)?;
        let key_id = key_id(&name, ED25519_TYPE, key.verifying_key().as_bytes());
        Ok(NoteSigner { name, key_id, key })
    }

    /// Parses a Go / azul style signer key `PRIVATE+KEY+<name>+<hex id>+base64(0x01 || seed)`.
    pub fn from_skey(skey: &str) -> Result<Self, NoteError> {
        let bad = |name: &str, reason| NoteError::BadSignerKey {
            name: name.into(),
            reason,
        };
        let Some(rest) = skey.strip_prefix("PRIVATE+KEY+") else {
            return Err(bad("", "does not start with PRIVATE+KEY+"));
        };
        let key = split_key(rest).map_err(|(name, problem)| bad(name, skey_problem(problem)))?;
        let (name, stated, kind, seed) = (key.name, key.stated, key.kind, key.key);
        check_name(name)?;
        if kind != ED25519_TYPE {
            return Err(NoteError::UnsupportedKeyType {
                name: name.into(),
                kind,
            });
        }
        let seed: [u8; 32] = seed[..]
            .try_into()
            .map_err(|_| bad(name, "Ed25519 private key is not 32 bytes"))?;
        let signer = NoteSigner::new(name, SigningKey::from_bytes(&seed))?;
        if signer.key_id != stated {
            return Err(NoteError::KeyIdMismatch {
                name: name.into(),
                stated,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// The secret signer key in Go / azul format, `PRIVATE+KEY+<name>+<hex id>+base64(0x01 ||
    /// seed)`. Anyone holding it can sign as this key.
    pub fn to_skey(&self) -> String {
        let mut bytes = Vec::with_capacity(33);
        bytes.push(ED25519_TYPE);
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(bytes)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs a note text (which must end in a newline and contain no control characters
    /// other than newline).
    pub fn sign(&self, text: &str) -> Result<NoteSignature, NoteError> {
        check_text(text)?;
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        })
    }
}

fn parse_key_id(hex8: &str) -> Option<u32> {
    if hex8.len() != 8 || !hex8.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u32::from_str_radix(hex8, 16).ok()
}

/// What is wrong with the text of a key `<name>+<hex key ID>+base64(type || key bytes)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyTextProblem {
    /// Not three `+`-separated parts.
    Shape,
    /// The key ID is not 8 lowercase hex digits.
    KeyId,
    /// The key is not base64.
    Base64,
    /// The key has no type byte.
    Empty,
}

/// A key's text split into its parts: name, stated key ID, type byte, key bytes.
pub(crate) struct KeyText<'a> {
    pub name: &'a str,
    pub stated: u32,
    pub kind: u8,
    pub key: Vec<u8>,
}

/// Splits `<name>+<hex key ID>+base64(type || key)` (signer keys without their
/// `PRIVATE+KEY+` prefix, verifier keys as they are); the caller checks the name, the type and
/// the key ID. A problem comes with the name read so far.
pub(crate) fn split_key(text: &str) -> Result<KeyText<'_>, (&str, KeyTextProblem)> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(("", KeyTextProblem::Shape));
    };
    let stated = parse_key_id(id_hex).ok_or((name, KeyTextProblem::KeyId))?;
    let bytes = BASE64
        .decode(key_b64)
        .map_err(|_| (name, KeyTextProblem::Base64))?;
    let (&kind, key) = bytes.split_first().ok_or((name, KeyTextProblem::Empty))?;
    Ok(KeyText {
        name,
        stated,
        kind,
        key: key.to_vec(),
    })
}

/// The message for a signer key's [`KeyTextProblem`].
pub(crate) fn skey_problem(problem: KeyTextProblem) -> &'static str {
    match problem {
        KeyTextProblem::Shape => "expected PRIVATE+KEY+<name>+<hex id>+<base64 key>",
        KeyTextProblem::KeyId => "key ID is not 8 hex digits",
        KeyTextProblem::Base64 => "key is not base64",
        KeyTextProblem::Empty => "key is empty",
    }
}

/// The message for a verifier key's [`KeyTextProblem`].
pub(crate) fn vkey_problem(problem: KeyTextProblem) -> &'static str {
    match problem {
        KeyTextProblem::Shape => "expected <name>+<hex key ID>+<base64 key>",
        KeyTextProblem::KeyId => "key ID is not 8 lowercase hex digits",
        KeyTextProblem::Base64 => "key is not canonical base64",
        KeyTextProblem::Empty => "key is empty",
    }
}

/// Writes a verifier key `<name>+<hex key ID>+base64(type || public key)`.
pub(crate) fn write_vkey(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    key_id: u32,
    kind: u8,
    key: &VerifyingKey,
) -> fmt::Result {
    let mut bytes = [0u8; 33];
    bytes[0] = kind;
    bytes[1..].copy_from_slice(key.as_bytes());
    write!(f, "{name}+{key_id:08x}+{}", BASE64.encode(bytes))
}

/// An Ed25519 note verifier key with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier named `name` (validated) for `key`.
    pub fn new(name: impl Into<String>, key: VerifyingKey) -> Result<Self, NoteError> {
        let name = name.into();
        check_name(&name)?;
        let key_id = key_id(&name, ED25519_TYPE, key.as_bytes());
        Ok(NoteVerifier { name, key_id, key })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether `signature` is a valid signature of `text` by this key.
    fn accepts(&self, text: &str, signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        self.key.verify_strict(text.as_bytes(), &signature).is_ok()
    }
}

impl FromStr for NoteVerifier {
    type Err = NoteError;

    /// Parses `<name>+<hex key ID>+base64(0x01 || 32-byte public key)`.
    fn from_str(vkey: &str) -> Result<Self, NoteError> {
        let bad = |reason| NoteError::BadVerifierKey {
            vkey: vkey.into(),
            reason,
        };
        let key = split_key(vkey).map_err(|(_, problem)| bad(vkey_problem(problem)))?;
        let (name, stated, kind, public) = (key.name, key.stated, key.kind, &key.key[..]);
        check_name(name)?;
        if kind != ED25519_TYPE {
            return Err(NoteError::UnsupportedKeyType {
                name: name.into(),
                kind,
            });
        }
        let computed = key_id(name, kind, public);
        if computed != stated {
            return Err(NoteError::KeyIdMismatch {
                name: name.into(),
                stated,
                computed,
            });
        }
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| bad("Ed25519 public key is not 32 bytes"))?;
        let key =
            VerifyingKey::from_bytes(&public).map_err(|_| bad("not a valid Ed25519 public key"))?;
        Ok(NoteVerifier {
            name: name.into(),
            key_id: stated,
            key,
        })
    }
}

impl fmt::Display for NoteVerifier {
    /// Writes `<name>+<hex key ID>+base64(0x01 || public key)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_vkey(f, &self.name, self.key_id, ED25519_TYPE, &self.key)
    }
}

/// One signature line of a note: key name, key ID and signature bytes (of any algorithm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// A signature line by key `name` (validated) with `key_id` over `signature` bytes of any
    /// algorithm (at least one byte, as the spec requires).
    pub fn new(
        name: impl Into<String>,
        key_id: u32,
        signature: Vec<u8>,
    ) -> Result<Self, NoteError> {
        let name = name.into();
        check_name(&name)?;
        if signature.is_empty() {
            return Err(NoteError::BadSignatureLine {
                line: 1,
                reason: "signature is shorter than a key ID and one byte",
            });
        }
        Ok(NoteSignature {
            name,
            key_id,
            signature,
        })
    }

    /// The signing key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signing key's ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes (after the 4-byte key ID).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Parses one line `— <name> <base64>` (without its newline). `line` numbers errors.
    fn parse(text: &str, line: usize) -> Result<Self, NoteError> {
        let bad = |reason| NoteError::BadSignatureLine { line, reason };
        let rest = text
            .strip_prefix("\u{2014} ")
            .ok_or_else(|| bad("does not start with an em dash and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| bad("no space between key name and signature"))?;
        if !is_valid_key_name(name) {
            return Err(bad("invalid key name"));
        }
        let bytes = BASE64
            .decode(b64)
            .map_err(|_| bad("signature is not canonical base64"))?;
        if bytes.len() < 5 {
            return Err(bad("signature is shorter than a key ID and one byte"));
        }
        Ok(NoteSignature {
            name: name.into(),
            key_id: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            signature: bytes[4..].to_vec(),
        })
    }
}

impl fmt::Display for NoteSignature {
    /// Writes the signature line `— <name> base64(key ID || signature)`, without a newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::with_capacity(4 + self.signature.len());
        bytes.extend_from_slice(&self.key_id.to_be_bytes());
        bytes.extend_from_slice(&self.signature);
        write!(f, "\u{2014} {} {}", self.name, BASE64.encode(bytes))
    }
}

/// A parsed signed note: its text and signatures. `to_string()` gives back the exact bytes
/// parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note, enforcing every format rule of the spec. Signatures are not
    /// checked; call [`Note::verify`].
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        check_controls(note)?;
        // The text is separated from the signatures by the last blank line.
        let split = note.rfind("\n\n").ok_or(NoteError::MissingSignatureBlock)?;
        let text = &note[..split + 1];
        let block = &note[split + 2..];
        let block = block
            .strip_suffix('\n')
            .ok_or(NoteError::MalformedSignatureBlock)?;
        let mut signatures = Vec::new();
        for (i, line) in block.split('\n').enumerate() {
            if i == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    count: block.split('\n').count(),
                    max: MAX_SIGNATURES,
                });
            }
            signatures.push(NoteSignature::parse(line, i + 1)?);
        }
        Ok(Note {
            text: text.into(),
            signatures,
        })
    }

    /// Parses a signed note from bytes, which must be UTF-8.
    pub fn from_bytes(note: &[u8]) -> Result<Self, NoteError> {
        let note = std::str::from_utf8(note).map_err(|e| NoteError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        Note::parse(note)
    }

    /// The note text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds `signer`'s signature at the end, replacing any existing signature by the same key
    /// (same name and key ID).
    pub fn add_signature(&mut self, signer: &NoteSigner) -> Result<(), NoteError> {
        let signature = signer.sign(&self.text)?;
        self.signatures
            .retain(|s| (s.name.as_str(), s.key_id) != (signer.name(), signer.key_id()));
        self.signatures.push(signature);
        Ok(())
    }

    /// Verifies the note against trusted `verifiers`, following the spec: signatures by keys
    /// not in `verifiers` (by name and key ID) are ignored; a signature by a known key that does
    /// not verify rejects the whole note; a note with no verified signature is rejected.
    ///
    /// Returns the indices into `verifiers` of the keys that signed, ascending.
    pub fn verify(&self, verifiers: &[NoteVerifier]) -> Result<Vec<usize>, NoteError> {
        let mut verified = Vec::new();
        for sig in &self.signatures {
            let mut known = verifiers
                .iter()
                .enumerate()
                .filter(|(_, v)| v.key_id == sig.key_id && v.name == sig.name);
            let Some((index, verifier)) = known.next() else {
                continue;
            };
            if known.next().is_some() {
                return Err(NoteError::AmbiguousVerifier {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            if !verifier.accepts(&self.text, &sig.signature) {
                return Err(NoteError::BadSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            verified.push(index);
        }
        if verified.is_empty() {
            let signers: Vec<String> = self
                .signatures
                .iter()
                .map(|s| format!("{}+{:08x}", s.name, s.key_id))
                .collect();
            return Err(NoteError::NoVerifiedSignature {
                signers: signers.join(", "),
            });
        }
        verified.sort_unstable();
        verified.dedup();
        Ok(verified)
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            writeln!(f, "{sig}")?;
        }
        Ok(())
    }
}

/// Signs `text` with every signer and returns the signed note: the text, a blank line, and one
/// signature line per signer, in order.
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(NoteError::NoSigners);
    }
    let mut note = Note {
        text: text.into(),
        signatures: Vec::with_capacity(signers.len()),
    };
    for signer in signers {
        note.signatures.push(signer.sign(text)?);
    }
    Ok(note.to_string())
}
