//! C2SP tlog-cosignature v1 (<https://c2sp.org/tlog-cosignature>): a witness's timestamped
//! Ed25519 signature on a checkpoint, carried as a signed-note signature line.
//!
//! A cosignature line is `— <witness name> base64(key ID || timestamp || signature)`, where the
//! key ID is `SHA-256(<name> || "\n" || 0x04 || public key)[:4]`, the timestamp is a big-endian
//! u64 (POSIX seconds, at most 2^63 - 1) and the signature is Ed25519 over
//!
//! ```text
//! cosignature/v1
//! time <timestamp>
//! <the whole checkpoint note text>
//! ```
//!
//! Witness keys travel as verifier keys with signature type 0x04:
//! `<name>+<hex key ID>+base64(0x04 || public key)`. The cosigner's statement is that, as of the
//! timestamp, the largest consistent tree it has seen for the checkpoint's origin has the
//! checkpoint's root. This module signs and checks such lines; it does not decide what a witness
//! accepts (that is `tanji-witness`) and reads no clock: callers pass the time.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use crate::note::{
    check_name, key_id, skey_problem, split_key, vkey_problem, write_vkey, Note, NoteError,
    NoteSignature,
};

/// The signed-note signature type byte of cosignature/v1 (timestamped Ed25519).
pub const COSIGNATURE_V1_TYPE: u8 = 0x04;

/// The header line of the cosignature/v1 signed message (domain separation).
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1";

/// The largest timestamp a cosignature may carry (2^63 - 1).
pub const MAX_COSIGNATURE_TIMESTAMP: u64 = i64::MAX as u64;

/// Why a cosignature, or a witness key, was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// The key name, key ID or note text is malformed (see the signed-note rules).
    #[error(transparent)]
    Note(#[from] NoteError),
    /// A witness verifier key string is malformed.
    #[error("witness key {vkey:?} is malformed: {reason}")]
    BadWitnessKey {
        /// The rejected key text.
        vkey: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A witness signer key string is malformed. The key itself is not repeated.
    #[error("witness signer key for {name:?} is malformed: {reason}")]
    BadSignerKey {
        /// The key name, if it could be read.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key has a signature type other than cosignature/v1 (0x04).
    #[error(
        "key {name} has signature type 0x{kind:02x}; a cosignature/v1 witness key has type 0x04"
    )]
    NotCosignatureKey {
        /// The key name.
        name: String,
        /// The type byte found.
        kind: u8,
    },
    /// A key's stated ID is not the one its name and public key give.
    #[error("witness key {name} states key ID {stated:08x}, its name and public key give {computed:08x}")]
    KeyIdMismatch {
        /// The key name.
        name: String,
        /// The ID written in the key.
        stated: u32,
        /// The computed ID.
        computed: u32,
    },
    /// The timestamp exceeds 2^63 - 1.
    #[error("cosignature timestamp {timestamp} exceeds 2^63 - 1")]
    TimestampTooLarge {
        /// The rejected timestamp.
        timestamp: u64,
    },
    /// A signature line by this witness (name and key ID) is not 72 bytes.
    #[error(
        "cosignature by {name}+{key_id:08x} holds {len} bytes; a timestamped signature has 72"
    )]
    BadLength {
        /// The witness name.
        name: String,
        /// The key ID.
        key_id: u32,
        /// Bytes found after the key ID.
        len: usize,
    },
    /// A cosignature by this witness does not verify over the checkpoint.
    #[error(
        "cosignature by {name}+{key_id:08x} (time {timestamp}) does not verify: the checkpoint \
         text was altered or the cosignature was made by a different key"
    )]
    BadSignature {
        /// The witness name.
        name: String,
        /// The key ID.
        key_id: u32,
        /// The timestamp the line claims.
        timestamp: u64,
    },
    /// The signature line is by another key (name or key ID differ).
    #[error("signature by {name}+{key_id:08x} is not by witness {expected}")]
    OtherKey {
        /// The line's key name.
        name: String,
        /// The line's key ID.
        key_id: u32,
        /// The witness `name+keyid` expected.
        expected: String,
    },
}

/// The message a cosignature/v1 signs: the header line, the time line and the checkpoint note
/// text (which must end in a newline).
pub fn cosigned_message(checkpoint_text: &str, timestamp: u64) -> String {
    format!("{COSIGNATURE_V1_HEADER}\ntime {timestamp}\n{checkpoint_text}")
}

/// A witness's Ed25519 cosigning key with its name.
#[derive(Clone)]
pub struct CosignatureSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl fmt::Debug for CosignatureSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosignatureSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl CosignatureSigner {
    /// A cosigner named `name` (a valid key name, e.g. `witness.example/w1`) using `key`.
    pub fn new(name: impl Into<String>, key: SigningKey) -> Result<Self, CosignatureError> {
        let name = name.into();
        check_name(&name)?;
        let key_id = key_id(&name, COSIGNATURE_V1_TYPE, key.verifying_key().as_bytes());
        Ok(CosignatureSigner { name, key_id, key })
    }

    /// Parses a signer key `PRIVATE+KEY+<name>+<hex key ID>+base64(0x04 || seed)` (the Go note
    /// signer-key layout with the cosignature/v1 type byte).
    pub fn from_skey(skey: &str) -> Result<Self, CosignatureError> {
        let bad = |name: &str, reason| CosignatureError::BadSignerKey {
            name: name.into(),
            reason,
        };
        let Some(rest) = skey.strip_prefix("PRIVATE+KEY+") else {
            return Err(bad("", "does not start with PRIVATE+KEY+"));
        };
        let key = split_key(rest).map_err(|(name, problem)| bad(name, skey_problem(problem)))?;
        let (name, stated, kind, seed) = (key.name, key.stated, key.kind, key.key);
        check_name(name)?;
        if kind != COSIGNATURE_V1_TYPE {
            return Err(CosignatureError::NotCosignatureKey {
                name: name.into(),
                kind,
            });
        }
        let seed: [u8; 32] = seed[..]
            .try_into()
            .map_err(|_| bad(name, "Ed25519 private key is not 32 bytes"))?;
        let signer = CosignatureSigner::new(name, SigningKey::from_bytes(&seed))?;
        if signer.key_id != stated {
            return Err(CosignatureError::KeyIdMismatch {
                name: name.into(),
                stated,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// The secret key as `PRIVATE+KEY+<name>+<hex key ID>+base64(0x04 || seed)`.
    pub fn to_skey(&self) -> String {
        let mut bytes = Vec::with_capacity(33);
        bytes.push(COSIGNATURE_V1_TYPE);
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(bytes)
        )
    }

    /// The witness name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID (with the cosignature/v1 type byte).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Cosigns a checkpoint note text (ending in a newline) at `timestamp` (POSIX seconds).
    ///
    /// The caller is the one who checked the checkpoint is consistent with everything this
    /// witness cosigned before; this only makes the signature.
    pub fn cosign(
        &self,
        checkpoint_text: &str,
        timestamp: u64,
    ) -> Result<NoteSignature, CosignatureError> {
        if timestamp > MAX_COSIGNATURE_TIMESTAMP {
            return Err(CosignatureError::TimestampTooLarge { timestamp });
        }
        if !checkpoint_text.ends_with('\n') {
            return Err(NoteError::TextMissingNewline.into());
        }
        let message = cosigned_message(checkpoint_text, timestamp);
        let signature = self.key.sign(message.as_bytes());
        let mut bytes = Vec::with_capacity(72);
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(NoteSignature::new(self.name.clone(), self.key_id, bytes)?)
    }
}

/// A witness's cosignature/v1 verifier key with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// A verifier named `name` for `key`.
    pub fn new(name: impl Into<String>, key: VerifyingKey) -> Result<Self, CosignatureError> {
        let name = name.into();
        check_name(&name)?;
        let key_id = key_id(&name, COSIGNATURE_V1_TYPE, key.as_bytes());
        Ok(CosignatureVerifier { name, key_id, key })
    }

    /// The witness name.
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

    /// Whether a signature line claims to be by this witness (same name and key ID).
    pub fn matches(&self, sig: &NoteSignature) -> bool {
        sig.name() == self.name && sig.key_id() == self.key_id
    }

    /// Checks `sig`, a signature line by this witness, over `checkpoint_text`; returns its
    /// timestamp.
    pub fn verify(
        &self,
        checkpoint_text: &str,
        sig: &NoteSignature,
    ) -> Result<u64, CosignatureError> {
        if !self.matches(sig) {
            return Err(CosignatureError::OtherKey {
                name: sig.name().into(),
                key_id: sig.key_id(),
                expected: format!("{}+{:08x}", self.name, self.key_id),
            });
        }
        let bytes = sig.signature();
        let (Ok(ts), Ok(signature)) = (
            <[u8; 8]>::try_from(bytes.get(..8).unwrap_or_default()),
            <[u8; 64]>::try_from(bytes.get(8..).unwrap_or_default()),
        ) else {
            return Err(CosignatureError::BadLength {
                name: self.name.clone(),
                key_id: self.key_id,
                len: bytes.len(),
            });
        };
        let timestamp = u64::from_be_bytes(ts);
        let bad = CosignatureError::BadSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            timestamp,
        };
        if timestamp > MAX_COSIGNATURE_TIMESTAMP {
            return Err(bad);
        }
        let message = cosigned_message(checkpoint_text, timestamp);
        let signature = ed25519_dalek::Signature::from_bytes(&signature);
        self.key
            .verify_strict(message.as_bytes(), &signature)
            .map_err(|_| bad)?;
        Ok(timestamp)
    }
}

impl FromStr for CosignatureVerifier {
    type Err = CosignatureError;

    /// Parses `<name>+<hex key ID>+base64(0x04 || 32-byte Ed25519 public key)`.
    fn from_str(vkey: &str) -> Result<Self, CosignatureError> {
        let bad = |reason| CosignatureError::BadWitnessKey {
            vkey: vkey.into(),
            reason,
        };
        let key = split_key(vkey).map_err(|(_, problem)| bad(vkey_problem(problem)))?;
        let (name, stated, kind, public) = (key.name, key.stated, key.kind, &key.key[..]);
        check_name(name)?;
        if kind != COSIGNATURE_V1_TYPE {
            return Err(CosignatureError::NotCosignatureKey {
                name: name.into(),
                kind,
            });
        }
        let computed = key_id(name, kind, public);
        if computed != stated {
            return Err(CosignatureError::KeyIdMismatch {
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
        Ok(CosignatureVerifier {
            name: name.into(),
            key_id: stated,
            key,
        })
    }
}

impl fmt::Display for CosignatureVerifier {
    /// Writes `<name>+<hex key ID>+base64(0x04 || public key)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_vkey(f, &self.name, self.key_id, COSIGNATURE_V1_TYPE, &self.key)
    }
}

/// One verified cosignature found on a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// Index of the witness in the list given to [`verify_cosignatures`].
    pub witness: usize,
    /// The cosignature's timestamp (POSIX seconds).
    pub timestamp: u64,
}

/// Checks the cosignatures on `note` by the given `witnesses`, following the signed-note rule:
/// lines by other keys (the log's, unknown witnesses') are ignored, and a line by a given
/// witness that does not verify is an error. Returns one entry per witness that cosigned,
/// ordered by witness index (the newest timestamp if a witness signed more than once).
pub fn verify_cosignatures(
    note: &Note,
    witnesses: &[CosignatureVerifier],
) -> Result<Vec<Cosigned>, CosignatureError> {
    let mut found: Vec<Cosigned> = Vec::new();
    for sig in note.signatures() {
        for (index, w) in witnesses.iter().enumerate() {
            if !w.matches(sig) {
                continue;
            }
            let timestamp = w.verify(note.text(), sig)?;
            match found.iter_mut().find(|c| c.witness == index) {
                Some(c) => c.timestamp = c.timestamp.max(timestamp),
                None => found.push(Cosigned {
                    witness: index,
                    timestamp,
                }),
            }
        }
    }
    found.sort_by_key(|c| c.witness);
    Ok(found)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The example checkpoint of c2sp.org/tlog-cosignature.
    const SPEC_TEXT: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    /// Its example cosignature line (by a key the spec does not publish).
    const SPEC_COSIG: &str = "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==";

    #[test]
    fn signed_message_is_the_spec_example() {
        assert_eq!(
            cosigned_message(SPEC_TEXT, 1_679_315_147),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n\
             CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn spec_example_line_has_the_spec_layout() {
        // The example note parses, and its cosignature is key ID + 8-byte timestamp + 64 bytes,
        // whose timestamp is the one of the spec's signed-message example.
        let note = Note::parse(&format!(
            "{SPEC_TEXT}\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n{SPEC_COSIG}\n"
        ))
        .unwrap();
        let sig = &note.signatures()[1];
        assert_eq!(sig.name(), "witness.example.com/w1");
        assert_eq!(sig.key_id(), 0x8d66_cf3f);
        assert_eq!(sig.signature().len(), 72);
        let ts = u64::from_be_bytes(sig.signature()[..8].try_into().unwrap());
        assert_eq!(ts, 1_679_315_147);
    }

    fn signer(name: &str, seed: u8) -> CosignatureSigner {
        CosignatureSigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    #[test]
    fn cosign_then_verify_round_trips() {
        let w = signer("witness.example/w1", 1);
        let sig = w.cosign(SPEC_TEXT, 1_679_315_147).unwrap();
        let line = sig.to_string();
        assert!(line.starts_with("— witness.example/w1 "));
        assert_eq!(sig.signature().len(), 72);
        assert_eq!(&sig.signature()[..8], &1_679_315_147u64.to_be_bytes());
        assert_eq!(w.verifier().verify(SPEC_TEXT, &sig).unwrap(), 1_679_315_147);
        // A changed checkpoint text does not verify.
        let other = SPEC_TEXT.replace("20852163", "20852164");
        assert!(matches!(
            w.verifier().verify(&other, &sig),
            Err(CosignatureError::BadSignature { .. })
        ));
        // The key ID is SHA-256(name || \n || 0x04 || key)[:4], not the 0x01 one.
        assert_ne!(
            w.key_id(),
            key_id(
                "witness.example/w1",
                0x01,
                w.verifier().verifying_key().as_bytes()
            )
        );
    }

    /// An azul `Verifier` for a witness key: azul routes signature lines to it by name and key
    /// ID; it checks the 72-byte timestamped signature over the cosignature/v1 message.
    struct AzulWitness {
        name: String,
        id: u32,
        key: VerifyingKey,
    }

    impl signed_note::Verifier for AzulWitness {
        fn name(&self) -> &str {
            &self.name
        }
        fn key_id(&self) -> u32 {
            self.id
        }
        fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
            let (Ok(ts), Ok(sig)) = (
                <[u8; 8]>::try_from(&sig[..8]),
                <[u8; 64]>::try_from(&sig[8..]),
            ) else {
                return false;
            };
            let mut m = format!("cosignature/v1\ntime {}\n", u64::from_be_bytes(ts)).into_bytes();
            m.extend_from_slice(msg);
            self.key
                .verify_strict(&m, &ed25519_dalek::Signature::from_bytes(&sig))
                .is_ok()
        }
    }

    #[test]
    fn azul_routes_our_cosignature_by_the_same_key_id() {
        // Cloudflare azul's signed_note (an independent implementation) parses the cosigned
        // note, computes the same key ID from the name and the 0x04-typed key, and hands the
        // line to the witness verifier (the log's line stays unverified: unknown key).
        let log = crate::NoteSigner::new("log.example", SigningKey::from_bytes(&[9; 32])).unwrap();
        let w = signer("witness.example/w1", 6);
        let note = format!(
            "{}{}\n",
            crate::sign_note(SPEC_TEXT, &[&log]).unwrap(),
            w.cosign(SPEC_TEXT, 1_700_000_000).unwrap()
        );
        let mut typed = vec![COSIGNATURE_V1_TYPE];
        typed.extend_from_slice(w.verifier().verifying_key().as_bytes());
        let id = signed_note::key_id("witness.example/w1", &typed);
        assert_eq!(id, w.key_id());
        let parsed = signed_note::Note::from_bytes(note.as_bytes()).unwrap();
        assert_eq!(parsed.text(), SPEC_TEXT.as_bytes());
        let list = signed_note::VerifierList::new(vec![Box::new(AzulWitness {
            name: "witness.example/w1".into(),
            id,
            key: *w.verifier().verifying_key(),
        })]);
        let (verified, unverified) = parsed.verify(&list).unwrap();
        assert_eq!(verified.len(), 1);
        assert_eq!(verified[0].id(), w.key_id());
        assert_eq!(
            &verified[0].signature()[..8],
            &1_700_000_000u64.to_be_bytes()
        );
        assert_eq!(unverified.len(), 1);
        assert_eq!(unverified[0].name(), "log.example");
    }

    #[test]
    fn changed_timestamp_does_not_verify() {
        let w = signer("w", 2);
        let sig = w.cosign(SPEC_TEXT, 100).unwrap();
        let mut bytes = sig.signature().to_vec();
        bytes[7] = 101;
        let forged = NoteSignature::new("w", w.key_id(), bytes).unwrap();
        assert_eq!(
            w.verifier().verify(SPEC_TEXT, &forged),
            Err(CosignatureError::BadSignature {
                name: "w".into(),
                key_id: w.key_id(),
                timestamp: 101
            })
        );
    }

    #[test]
    fn keys_round_trip_and_reject_other_types() {
        let w = signer("witness.example/w1", 3);
        let vkey = w.verifier().to_string();
        assert_eq!(vkey.parse::<CosignatureVerifier>().unwrap(), w.verifier());
        let again = CosignatureSigner::from_skey(&w.to_skey()).unwrap();
        assert_eq!(again.verifier(), w.verifier());
        // An Ed25519 (0x01) note key is not a witness key.
        let note_key = crate::NoteSigner::new("log", SigningKey::from_bytes(&[4; 32]))
            .unwrap()
            .verifier()
            .to_string();
        assert!(matches!(
            note_key.parse::<CosignatureVerifier>(),
            Err(CosignatureError::NotCosignatureKey { kind: 1, .. })
        ));
        assert!(matches!(
            CosignatureSigner::new("", SigningKey::from_bytes(&[1; 32])),
            Err(CosignatureError::Note(NoteError::InvalidKeyName { .. }))
        ));
    }

    #[test]
    fn timestamp_above_2_pow_63_is_refused() {
        let w = signer("w", 5);
        assert_eq!(
            w.cosign(SPEC_TEXT, 1 << 63).unwrap_err(),
            CosignatureError::TimestampTooLarge { timestamp: 1 << 63 }
        );
        assert!(w.cosign(SPEC_TEXT, MAX_COSIGNATURE_TIMESTAMP).is_ok());
    }

    #[test]
    fn verify_cosignatures_counts_known_witnesses_and_ignores_others() {
        let log = crate::NoteSigner::new("log.example", SigningKey::from_bytes(&[9; 32])).unwrap();
        let signed = crate::sign_note(SPEC_TEXT, &[&log]).unwrap();
        let (w1, w2, w3) = (signer("w1", 1), signer("w2", 2), signer("w3", 3));
        let with = format!(
            "{signed}{}\n{}\n",
            w1.cosign(SPEC_TEXT, 10).unwrap(),
            w3.cosign(SPEC_TEXT, 30).unwrap()
        );
        let note = Note::parse(&with).unwrap();
        let got =
            verify_cosignatures(&note, &[w1.verifier(), w2.verifier(), w3.verifier()]).unwrap();
        assert_eq!(
            got,
            vec![
                Cosigned {
                    witness: 0,
                    timestamp: 10
                },
                Cosigned {
                    witness: 2,
                    timestamp: 30
                }
            ]
        );
        // The log's own signature still verifies with the note machinery.
        assert_eq!(note.verify(&[log.verifier()]).unwrap(), vec![0]);
        // A cosignature moved onto another checkpoint is caught.
        let other = SPEC_TEXT.replace("20852163", "1");
        let moved =
            Note::parse(&format!("{other}\n{}\n", w1.cosign(SPEC_TEXT, 10).unwrap())).unwrap();
        assert!(matches!(
            verify_cosignatures(&moved, &[w1.verifier()]),
            Err(CosignatureError::BadSignature { .. })
        ));
    }
}
