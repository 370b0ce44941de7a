#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The key types against their standards' published examples (the same vectors as
//! docs/formats.md, "Key types"), and the hash chain written into caller buffers.

use sm3::{Digest, Sm3};
use tanji_device::{
    sign_into, Chain, ChannelRef, EncodeError, KeyError, KeyType, PublicKey, SigningKey, UploadRef,
    UploadSigner, UploadVerifier, MAX_CHANNELS, SM2_DEFAULT_ID, ZERO_HASH,
};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn h32(s: &str) -> [u8; 32] {
    h(s).try_into().unwrap()
}

fn h64(s: &str) -> [u8; 64] {
    h(s).try_into().unwrap()
}

/// GM/T 0004-2012 (GB/T 32905-2016), Appendix A, example 1: SM3("abc").
#[test]
fn sm3_of_abc_is_the_standards_example() {
    assert_eq!(
        Sm3::digest(b"abc").to_vec(),
        h("66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0")
    );
}

// The SM2 signature example on the recommended curve (GM/T 0003.5-2012 / GB/T 32918.5-2017;
// signing as GM/T 0003.2 says): ID 1234567812345678, message "message digest", k fixed.
const SM2_D: &str = "3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8";
const SM2_X: &str = "09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020";
const SM2_Y: &str = "CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13";
const SM2_R: &str = "F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3";
const SM2_S: &str = "B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA";

fn sm2_example_key() -> SigningKey {
    SigningKey::from_secret(KeyType::Sm2, &h32(SM2_D)).unwrap()
}

#[test]
fn sm2_key_of_the_standards_example() {
    let key = sm2_example_key();
    let mut uncompressed = vec![0x04];
    uncompressed.extend(h(SM2_X));
    uncompressed.extend(h(SM2_Y));
    let public = PublicKey::from_sec1(KeyType::Sm2, &uncompressed).unwrap();
    assert_eq!(key.public_key(), public);
    // yA ends in 0x13: odd, so the compressed point starts 0x03.
    let mut compressed = vec![0x03];
    compressed.extend(h(SM2_X));
    assert_eq!(public.as_bytes(), compressed.as_slice());
    assert_eq!(
        PublicKey::from_sec1(KeyType::Sm2, &compressed).unwrap(),
        public
    );
}

/// Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A), and the standard's signature
/// verifies with it; the same signature over another message or with `s` changed does not.
#[test]
fn sm2_verifies_the_standards_example_signature() {
    let public = sm2_example_key().public_key();
    let vk = public.verifying_key().unwrap();
    let sig = h64(&format!("{SM2_R}{SM2_S}"));
    assert!(vk.verify_upload(b"message digest", &sig));
    assert!(!vk.verify_upload(b"message digest.", &sig));
    let mut bad = sig;
    bad[63] ^= 1;
    assert!(!vk.verify_upload(b"message digest", &bad));
    // r = 0 and s = n are out of range, not merely wrong.
    assert!(!vk.verify_upload(b"message digest", &[0; 64]));
}

/// The Z_A the verification uses is the standard's: computed here field by field.
#[test]
fn sm2_z_a_is_computed_as_the_standard_says() {
    let mut z = Sm3::new();
    z.update(128u16.to_be_bytes()); // ENTL_A: 16 bytes of ID = 128 bits
    z.update(SM2_DEFAULT_ID.as_bytes());
    z.update(h(
        "FFFFFFFE FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF 00000000 FFFFFFFF FFFFFFFC",
    ));
    z.update(h(
        "28E9FA9E 9D9F5E34 4D5A9E4B CF6509A7 F39789F5 15AB8F92 DDBCBD41 4D940E93",
    ));
    z.update(h(
        "32C4AE2C 1F198119 5F990446 6A39C994 8FE30BBF F2660BE1 715A4589 334C74C7",
    ));
    z.update(h(
        "BC3736A2 F4F6779C 59BDCEE3 6B692153 D0A9877C C62A4740 02DF32E5 2139F0A0",
    ));
    z.update(h(SM2_X));
    z.update(h(SM2_Y));
    let z_a = z.finalize();
    // e = SM3(Z_A ‖ M), then GM/T 0003.2 steps A4–A5 with the standard's fixed k give r.
    let e = Sm3::new()
        .chain_update(z_a)
        .chain_update(b"message digest")
        .finalize();
    assert_eq!(
        e.to_vec(),
        h("F0B43E94 BA45ACCA ACE692ED 534382EB 17E6AB5A 19CE7B31 F4486FDF C0D28640")
    );
}

/// Our SM2 signatures (deterministic nonces) verify, and only over the signed body.
#[test]
fn sm2_signs_and_verifies_bodies() {
    let key = sm2_example_key();
    let sig = key.sign_upload(b"tanji/upload/v1\nbody").unwrap();
    let vk = key.public_key().verifying_key().unwrap();
    assert!(vk.verify_upload(b"tanji/upload/v1\nbody", &sig));
    assert!(!vk.verify_upload(b"tanji/upload/v1\nbodY", &sig));
    assert_eq!(sig, key.sign_upload(b"tanji/upload/v1\nbody").unwrap());
}

// RFC 6979 A.2.5: ECDSA, 256 bits (prime field), with SHA-256.
const P256_X: &str = "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721";
const P256_UX: &str = "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6";
const P256_UY: &str = "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299";

#[test]
fn p256_reproduces_rfc6979_a25_with_sha256() {
    let key = SigningKey::from_secret(KeyType::P256, &h32(P256_X)).unwrap();
    let mut uncompressed = vec![0x04];
    uncompressed.extend(h(P256_UX));
    uncompressed.extend(h(P256_UY));
    assert_eq!(
        key.public_key(),
        PublicKey::from_sec1(KeyType::P256, &uncompressed).unwrap()
    );
    let sample = h64(concat!(
        "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
        "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
    ));
    let test = h64(concat!(
        "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367",
        "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"
    ));
    assert_eq!(key.sign_upload(b"sample").unwrap(), sample);
    assert_eq!(key.sign_upload(b"test").unwrap(), test);
    let vk = key.public_key().verifying_key().unwrap();
    assert!(vk.verify_upload(b"sample", &sample));
    assert!(vk.verify_upload(b"test", &test));
    assert!(!vk.verify_upload(b"test", &sample));
}

/// RFC 8032 7.1, TEST 1 (the empty message).
#[test]
fn ed25519_reproduces_rfc8032_test_1() {
    let key = SigningKey::from_secret(
        KeyType::Ed25519,
        &h32("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
    )
    .unwrap();
    assert_eq!(
        key.public_key(),
        PublicKey::Ed25519(h32(
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        ))
    );
    let sig = h64("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    assert_eq!(key.sign_upload(b"").unwrap(), sig);
    assert!(key
        .public_key()
        .verifying_key()
        .unwrap()
        .verify_upload(b"", &sig));
}

#[test]
fn keys_refuse_what_is_not_a_key_of_their_type() {
    assert_eq!(
        PublicKey::from_sec1(KeyType::Sm2, &[2; 32]),
        Err(KeyError::Length {
            key_type: KeyType::Sm2,
            len: 32
        })
    );
    // 0x05 is SEC1's compact form (x = 0 is a point of P-256): refused, as are hybrid
    // points; and x = 2^256 - 1 is not an element of P-256's field.
    for (tag, x) in [(0x05, 0), (0x06, 0), (0x02, 0xff)] {
        let mut key = [x; 33];
        key[0] = tag;
        assert_eq!(
            PublicKey::from_sec1(KeyType::P256, &key),
            Err(KeyError::Point(KeyType::P256)),
            "{tag:02x} {x}"
        );
        assert_eq!(
            PublicKey::P256(key).verifying_key().map(|_| ()),
            Err(KeyError::Point(KeyType::P256))
        );
    }
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        PublicKey::Ed25519(identity).verifying_key().map(|_| ()),
        Err(KeyError::Weak)
    );
    assert_eq!(
        SigningKey::from_secret(KeyType::Sm2, &[0; 32]).map(|_| ()),
        Err(KeyError::Secret(KeyType::Sm2))
    );
    assert_eq!(
        SigningKey::from_secret(KeyType::P256, &[0xff; 32]).map(|_| ()),
        Err(KeyError::Secret(KeyType::P256))
    );
    for t in KeyType::ALL {
        assert_eq!(KeyType::from_code(t.code()), Some(t));
        assert_eq!(KeyType::from_name(t.name()), Some(t));
    }
    assert_eq!(KeyType::from_name("P-256"), Some(KeyType::P256));
    assert_eq!(KeyType::from_name("rsa"), None);
}

fn keys() -> [SigningKey; 3] {
    [
        SigningKey::from_secret(KeyType::Ed25519, &[7; 32]).unwrap(),
        SigningKey::from_secret(KeyType::Sm2, &[7; 32]).unwrap(),
        SigningKey::from_secret(KeyType::P256, &[7; 32]).unwrap(),
    ]
}

const VALUES: [i64; 4] = [1250, 1300, 0, 42];

fn channel() -> ChannelRef<'static> {
    ChannelRef {
        meter: "m-0001",
        carrier: "electricity_import",
        unit: "kWh",
        decimals: 3,
        start: 1_793_491_200,
        interval_s: 900,
        values: &VALUES,
    }
}

#[test]
fn the_chain_links_records_written_into_a_buffer() {
    for key in keys() {
        let vk = key.public_key().verifying_key().unwrap();
        let mut chain = Chain::new("d-0001");
        let mut buf = [0u8; 512];
        let first = chain.sign_next(&[channel()], &key, &mut buf).unwrap();
        assert_eq!(first.seq, 1);
        let record = buf[..first.len].to_vec();
        // seq 1 names the zero hash; the record ends in its signature.
        assert_eq!(&record[16 + 2 + 6 + 8..16 + 2 + 6 + 8 + 32], &ZERO_HASH);
        let (body, sig) = record.split_at(first.len - 64);
        assert_eq!(sig, first.signature);
        assert!(vk.verify_upload(body, &first.signature), "{key:?}");
        let second = chain.sign_next(&[channel()], &key, &mut buf).unwrap();
        assert_eq!((second.seq, chain.last_seq()), (2, 2));
        assert_eq!(&buf[32..64], &first.record_hash);
        assert_eq!(chain.last_hash(), second.record_hash);
    }
}

#[test]
fn a_failed_signing_moves_nothing() {
    let key = &keys()[0];
    let mut chain = Chain::resume("d-0001", 41, [9; 32]);
    let mut small = [0u8; 100];
    let before = chain;
    let needed = tanji_device::signed_len(&UploadRef {
        device: "d-0001",
        seq: 42,
        prev: &[9; 32],
        channels: &[channel()],
    });
    assert_eq!(
        chain.sign_next(&[channel()], key, &mut small),
        Err(EncodeError::Buffer {
            needed: needed - 64,
            available: 100
        })
    );
    let too_many = [channel(); MAX_CHANNELS + 1];
    let mut buf = [0u8; 4096];
    assert_eq!(
        chain.sign_next(&too_many, key, &mut buf),
        Err(EncodeError::Channels(MAX_CHANNELS + 1))
    );
    let bad_unit = ChannelRef {
        unit: "k Wh",
        ..channel()
    };
    assert_eq!(
        chain.sign_next(&[channel(), bad_unit], key, &mut buf),
        Err(EncodeError::ChannelId(1))
    );
    assert_eq!(chain, before);
    assert_eq!(
        chain.sign_next(&[channel()], key, &mut buf).unwrap().seq,
        42
    );
}

#[test]
fn the_body_is_refused_outside_the_limits() {
    let mut buf = [0u8; 256];
    let ok = UploadRef {
        device: "d-0001",
        seq: 1,
        prev: &ZERO_HASH,
        channels: &[channel()],
    };
    let key = &keys()[0];
    assert!(sign_into(&ok, key, &mut buf).is_ok());
    let cases = [
        (UploadRef { seq: 0, ..ok }, EncodeError::Seq),
        (UploadRef { device: "", ..ok }, EncodeError::Device),
        (
            UploadRef {
                channels: &[ChannelRef {
                    decimals: 7,
                    ..channel()
                }],
                ..ok
            },
            EncodeError::Decimals(0),
        ),
        (
            UploadRef {
                channels: &[ChannelRef {
                    start: -1,
                    ..channel()
                }],
                ..ok
            },
            EncodeError::Start(0),
        ),
    ];
    for (body, err) in cases {
        assert_eq!(sign_into(&body, key, &mut buf), Err(err));
    }
}

/// The crate root declares `#![no_std]`: with `cargo build -p tanji-device --target
/// thumbv7em-none-eabihf` in CI (.ci/run), this is what keeps the core usable by firmware.
#[test]
fn the_crate_is_no_std() {
    assert!(include_str!("../src/lib.rs").contains("\n#![no_std]\n"));
}
