//! The key types a device signs with, their public-key bytes, and signing and verifying an
//! upload body with each (docs/formats.md, "Key types").
//!
//! | type | code | public key | signature over the body `M` |
//! |---|---|---|---|
//! | Ed25519 | 0x01 | 32 bytes (RFC 8032) | RFC 8032 Ed25519 of `M`, `R ‖ S`; `verify_strict` |
//! | SM2 | 0x02 | 33 bytes, SEC1 compressed | GM/T 0003.2 SM2 with SM3 (GM/T 0004) of `Z_A ‖ M`, ID `1234567812345678`; `r ‖ s` |
//! | P-256 | 0x03 | 33 bytes, SEC1 compressed | FIPS 186 ECDSA with SHA-256 of `M`; `r ‖ s` |

use core::fmt;
use ed25519_dalek::Signer as _;
use p256::elliptic_curve::sec1::ToEncodedPoint;

/// The distinguishing identifier every tanji SM2 signature uses: the default of GM/T 0009
/// (`1234567812345678`, ENTL_A = 128 bits), from which `Z_A` is computed as GM/T 0003.2
/// says.
pub const SM2_DEFAULT_ID: &str = "1234567812345678";

/// A device's key type, as a registration records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    /// Ed25519 (RFC 8032). Registrations without a key type (format v1) are Ed25519.
    Ed25519,
    /// SM2 signatures with SM3 (GM/T 0003.2, GM/T 0004), ID [`SM2_DEFAULT_ID`].
    Sm2,
    /// ECDSA over P-256 with SHA-256 (FIPS 186-4, SEC 1).
    P256,
}

impl KeyType {
    /// Every key type, in code order.
    pub const ALL: [KeyType; 3] = [KeyType::Ed25519, KeyType::Sm2, KeyType::P256];

    /// The byte a registration (format v2) records: 0x01, 0x02, 0x03.
    pub const fn code(self) -> u8 {
        match self {
            KeyType::Ed25519 => 0x01,
            KeyType::Sm2 => 0x02,
            KeyType::P256 => 0x03,
        }
    }

    /// The key type of a code byte.
    pub const fn from_code(code: u8) -> Option<KeyType> {
        match code {
            0x01 => Some(KeyType::Ed25519),
            0x02 => Some(KeyType::Sm2),
            0x03 => Some(KeyType::P256),
            _ => None,
        }
    }

    /// The name JSON, the CLI and messages use: `ed25519`, `sm2`, `p256`.
    pub const fn name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ed25519",
            KeyType::Sm2 => "sm2",
            KeyType::P256 => "p256",
        }
    }

    /// The key type of a name (see [`KeyType::name`]; `p-256` and `ecdsa-p256` are accepted
    /// too, in any case).
    pub fn from_name(name: &str) -> Option<KeyType> {
        let is = |s: &str| name.eq_ignore_ascii_case(s);
        if is("ed25519") {
            Some(KeyType::Ed25519)
        } else if is("sm2") {
            Some(KeyType::Sm2)
        } else if is("p256") || is("p-256") || is("ecdsa-p256") {
            Some(KeyType::P256)
        } else {
            None
        }
    }

    /// Length of a public key of this type in a registration: 32 (Ed25519) or 33 (SEC1
    /// compressed point).
    pub const fn public_key_len(self) -> usize {
        match self {
            KeyType::Ed25519 => 32,
            KeyType::Sm2 | KeyType::P256 => 33,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a key could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// A public key of the wrong length for its type.
    Length {
        /// The key type.
        key_type: KeyType,
        /// The length given.
        len: usize,
    },
    /// The bytes are not a point of the curve (or, for SM2 and P-256, not a SEC1 encoding).
    Point(KeyType),
    /// A small-order Ed25519 key, which would make strict verification refuse everything.
    Weak,
    /// A secret key outside `1..n-1`.
    Secret(KeyType),
    /// The signer failed (SM2 or ECDSA: a derived nonce out of range, about 2^-128 likely).
    Sign(KeyType),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Length { key_type, len } => match key_type {
                KeyType::Ed25519 => write!(f, "an Ed25519 public key is 32 bytes, not {len}"),
                _ => write!(
                    f,
                    "an {key_type} public key is a SEC1 point of 33 bytes (compressed) or 65 (uncompressed), not {len}"
                ),
            },
            KeyError::Point(t) => write!(f, "not a valid {t} public key (not a point of the curve)"),
            KeyError::Weak => f.write_str("a weak (small-order) Ed25519 key cannot be registered"),
            KeyError::Secret(t) => write!(f, "not a valid {t} secret key (must be 1 to n-1)"),
            KeyError::Sign(t) => write!(f, "{t} signing failed; sign again"),
        }
    }
}

/// A device's public key as a registration holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PublicKey {
    /// Ed25519, 32 bytes.
    Ed25519([u8; 32]),
    /// SM2, a SEC1 compressed point (0x02 or 0x03, then x).
    Sm2([u8; 33]),
    /// P-256, a SEC1 compressed point (0x02 or 0x03, then x).
    P256([u8; 33]),
}

impl PublicKey {
    /// The key's type.
    pub const fn key_type(&self) -> KeyType {
        match self {
            PublicKey::Ed25519(_) => KeyType::Ed25519,
            PublicKey::Sm2(_) => KeyType::Sm2,
            PublicKey::P256(_) => KeyType::P256,
        }
    }

    /// The key's bytes as a registration carries them (32 or 33).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            PublicKey::Ed25519(k) => k,
            PublicKey::Sm2(k) | PublicKey::P256(k) => k,
        }
    }

    /// A key from its registration bytes: exactly [`KeyType::public_key_len`] bytes. The
    /// curve point is not checked here ([`PublicKey::verifying_key`] checks it).
    pub fn from_bytes(key_type: KeyType, b: &[u8]) -> Result<PublicKey, KeyError> {
        let wrong = || KeyError::Length {
            key_type,
            len: b.len(),
        };
        Ok(match key_type {
            KeyType::Ed25519 => PublicKey::Ed25519(b.try_into().map_err(|_| wrong())?),
            KeyType::Sm2 => PublicKey::Sm2(b.try_into().map_err(|_| wrong())?),
            KeyType::P256 => PublicKey::P256(b.try_into().map_err(|_| wrong())?),
        })
    }

    /// A key as a device or an operator gives it: Ed25519 as 32 bytes; SM2 and P-256 as a
    /// SEC1 point, compressed (33 bytes) or uncompressed (65), checked to be on the curve and
    /// kept compressed. Ed25519 keys are checked too (valid and not small-order).
    pub fn from_sec1(key_type: KeyType, b: &[u8]) -> Result<PublicKey, KeyError> {
        let key = match key_type {
            KeyType::Ed25519 => PublicKey::from_bytes(key_type, b)?,
            KeyType::Sm2 | KeyType::P256 if b.len() != 33 && b.len() != 65 => {
                return Err(KeyError::Length {
                    key_type,
                    len: b.len(),
                })
            }
            // Only the compressed (02, 03) and uncompressed (04) forms: not SEC1's compact
            // (05) or hybrid (06, 07) tags, which other libraries refuse.
            KeyType::Sm2 | KeyType::P256
                if !matches!((b.len(), b.first()), (33, Some(2 | 3)) | (65, Some(4))) =>
            {
                return Err(KeyError::Point(key_type))
            }
            KeyType::Sm2 => {
                let vk = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DEFAULT_ID, b)
                    .map_err(|_| KeyError::Point(key_type))?;
                VerifyingKey::Sm2(vk).public_key()
            }
            KeyType::P256 => {
                let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(b)
                    .map_err(|_| KeyError::Point(key_type))?;
                VerifyingKey::P256(vk).public_key()
            }
        };
        key.verifying_key()?;
        Ok(key)
    }

    /// The key ready to verify: checks that it is a point of its curve (and, for Ed25519,
    /// not of small order). SM2 computes `Z_A` here, once per key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        let t = self.key_type();
        if let PublicKey::Sm2(k) | PublicKey::P256(k) = self {
            if !matches!(k[0], 2 | 3) {
                return Err(KeyError::Point(t));
            }
        }
        match self {
            PublicKey::Ed25519(k) => {
                let vk =
                    ed25519_dalek::VerifyingKey::from_bytes(k).map_err(|_| KeyError::Point(t))?;
                if vk.is_weak() {
                    return Err(KeyError::Weak);
                }
                Ok(VerifyingKey::Ed25519(vk))
            }
            PublicKey::Sm2(k) => sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DEFAULT_ID, k)
                .map(VerifyingKey::Sm2)
                .map_err(|_| KeyError::Point(t)),
            PublicKey::P256(k) => p256::ecdsa::VerifyingKey::from_sec1_bytes(k)
                .map(VerifyingKey::P256)
                .map_err(|_| KeyError::Point(t)),
        }
    }
}

fn compressed<C>(point: &impl ToEncodedPoint<C>) -> [u8; 33]
where
    C: p256::elliptic_curve::CurveArithmetic,
    p256::elliptic_curve::FieldBytesSize<C>: p256::elliptic_curve::sec1::ModulusSize,
{
    let mut out = [0u8; 33];
    let ep = point.to_encoded_point(true);
    let b = ep.as_bytes();
    if b.len() == out.len() {
        out.copy_from_slice(b);
    }
    out
}

/// Signs upload bodies: every key type's signing key, and the [`SigningKey`] that holds
/// any of them.
pub trait UploadSigner {
    /// The public key a registration must hold for the park to verify these signatures.
    fn upload_public_key(&self) -> PublicKey;
    /// The 64-byte signature over the canonical body `body`.
    fn sign_upload(&self, body: &[u8]) -> Result<[u8; 64], KeyError>;
}

/// Verifies upload signatures: every key type's verifying key, and the [`VerifyingKey`] that
/// holds any of them.
pub trait UploadVerifier {
    /// The registered key this verifies with.
    fn upload_public_key(&self) -> PublicKey;
    /// Whether `signature` is a valid signature over the canonical body `body`.
    fn verify_upload(&self, body: &[u8], signature: &[u8; 64]) -> bool;
}

impl UploadSigner for ed25519_dalek::SigningKey {
    fn upload_public_key(&self) -> PublicKey {
        PublicKey::Ed25519(self.verifying_key().to_bytes())
    }
    fn sign_upload(&self, body: &[u8]) -> Result<[u8; 64], KeyError> {
        Ok(self.sign(body).to_bytes())
    }
}

impl UploadSigner for sm2::dsa::SigningKey {
    fn upload_public_key(&self) -> PublicKey {
        PublicKey::Sm2(compressed(self.verifying_key().as_affine()))
    }
    fn sign_upload(&self, body: &[u8]) -> Result<[u8; 64], KeyError> {
        let sig: sm2::dsa::Signature = sm2::dsa::signature::Signer::try_sign(self, body)
            .map_err(|_| KeyError::Sign(KeyType::Sm2))?;
        Ok(sig.to_bytes())
    }
}

impl UploadSigner for p256::ecdsa::SigningKey {
    fn upload_public_key(&self) -> PublicKey {
        PublicKey::P256(compressed(self.verifying_key().as_affine()))
    }
    fn sign_upload(&self, body: &[u8]) -> Result<[u8; 64], KeyError> {
        let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::try_sign(self, body)
            .map_err(|_| KeyError::Sign(KeyType::P256))?;
        Ok(sig.to_bytes().into())
    }
}

impl UploadVerifier for ed25519_dalek::VerifyingKey {
    fn upload_public_key(&self) -> PublicKey {
        PublicKey::Ed25519(self.to_bytes())
    }
    /// RFC 8032 with the strict checks (`verify_strict`: canonical `S`, no small-order `R`
    /// or key).
    fn verify_upload(&self, body: &[u8], signature: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.verify_strict(body, &sig).is_ok()
    }
}

impl UploadVerifier for sm2::dsa::VerifyingKey {
    fn upload_public_key(&self) -> PublicKey {
        PublicKey::Sm2(compressed(self.as_affine()))
    }
    /// GM/T 0003.2 verification (B1–B7): `r` and `s` in `1..n-1`, `e = SM3(Z_A ‖ M)`.
    fn verify_upload(&self, body: &[u8], signature: &[u8; 64]) -> bool {
        sm2::dsa::Signature::from_bytes(signature)
            .is_ok_and(|sig| sm2::dsa::signature::Verifier::verify(self, body, &sig).is_ok())
    }
}

impl UploadVerifier for p256::ecdsa::VerifyingKey {
    fn upload_public_key(&self) -> PublicKey {
        PublicKey::P256(compressed(self.as_affine()))
    }
    /// ECDSA verification with SHA-256: `r` and `s` in `1..n-1`; a high `s` is accepted
    /// (docs/formats.md says why).
    fn verify_upload(&self, body: &[u8], signature: &[u8; 64]) -> bool {
        p256::ecdsa::Signature::from_slice(signature).is_ok_and(|sig| {
            p256::ecdsa::signature::Verifier::<p256::ecdsa::Signature>::verify(self, body, &sig)
                .is_ok()
        })
    }
}

/// A verifying key of any type, checked and ready: what a park keeps per registered device.
#[derive(Clone, Debug)]
pub enum VerifyingKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// SM2 with SM3 and ID [`SM2_DEFAULT_ID`] (its `Z_A` computed).
    Sm2(sm2::dsa::VerifyingKey),
    /// ECDSA P-256 with SHA-256.
    P256(p256::ecdsa::VerifyingKey),
}

impl VerifyingKey {
    /// The key as a registration holds it.
    pub fn public_key(&self) -> PublicKey {
        self.upload_public_key()
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        match self {
            VerifyingKey::Ed25519(_) => KeyType::Ed25519,
            VerifyingKey::Sm2(_) => KeyType::Sm2,
            VerifyingKey::P256(_) => KeyType::P256,
        }
    }
}

impl From<ed25519_dalek::VerifyingKey> for VerifyingKey {
    fn from(k: ed25519_dalek::VerifyingKey) -> Self {
        VerifyingKey::Ed25519(k)
    }
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.public_key() == other.public_key()
    }
}

impl Eq for VerifyingKey {}

impl UploadVerifier for VerifyingKey {
    fn upload_public_key(&self) -> PublicKey {
        match self {
            VerifyingKey::Ed25519(k) => k.upload_public_key(),
            VerifyingKey::Sm2(k) => k.upload_public_key(),
            VerifyingKey::P256(k) => k.upload_public_key(),
        }
    }
    fn verify_upload(&self, body: &[u8], signature: &[u8; 64]) -> bool {
        match self {
            VerifyingKey::Ed25519(k) => k.verify_upload(body, signature),
            VerifyingKey::Sm2(k) => k.verify_upload(body, signature),
            VerifyingKey::P256(k) => k.verify_upload(body, signature),
        }
    }
}

/// A signing key of any type: what a device holds.
#[derive(Clone)]
pub enum SigningKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
    /// SM2 with SM3 and ID [`SM2_DEFAULT_ID`].
    Sm2(sm2::dsa::SigningKey),
    /// ECDSA P-256 with SHA-256 (deterministic nonces, RFC 6979).
    P256(p256::ecdsa::SigningKey),
}

impl SigningKey {
    /// A key of `key_type` from its 32 secret bytes (Ed25519: the RFC 8032 seed; SM2 and
    /// P-256: the big-endian scalar, which must lie in `1..n-1`).
    pub fn from_secret(key_type: KeyType, secret: &[u8; 32]) -> Result<SigningKey, KeyError> {
        Ok(match key_type {
            KeyType::Ed25519 => SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(secret)),
            KeyType::Sm2 => SigningKey::Sm2(
                sm2::dsa::SigningKey::from_slice(SM2_DEFAULT_ID, secret)
                    .map_err(|_| KeyError::Secret(key_type))?,
            ),
            KeyType::P256 => SigningKey::P256(
                p256::ecdsa::SigningKey::from_slice(secret)
                    .map_err(|_| KeyError::Secret(key_type))?,
            ),
        })
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        match self {
            SigningKey::Ed25519(_) => KeyType::Ed25519,
            SigningKey::Sm2(_) => KeyType::Sm2,
            SigningKey::P256(_) => KeyType::P256,
        }
    }

    /// The public key to register.
    pub fn public_key(&self) -> PublicKey {
        self.upload_public_key()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl UploadSigner for SigningKey {
    fn upload_public_key(&self) -> PublicKey {
        match self {
            SigningKey::Ed25519(k) => k.upload_public_key(),
            SigningKey::Sm2(k) => k.upload_public_key(),
            SigningKey::P256(k) => k.upload_public_key(),
        }
    }
    fn sign_upload(&self, body: &[u8]) -> Result<[u8; 64], KeyError> {
        match self {
            SigningKey::Ed25519(k) => k.sign_upload(body),
            SigningKey::Sm2(k) => k.sign_upload(body),
            SigningKey::P256(k) => k.sign_upload(body),
        }
    }
}

impl core::error::Error for KeyError {}
