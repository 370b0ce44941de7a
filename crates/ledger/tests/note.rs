//! C2SP signed-note and tlog-checkpoint: the examples of the specs of C2SP (signed-note.md, tlog-checkpoint.md)
//! (signed-note.md, tlog-checkpoint.md, tlog-cosignature.md) and every format rule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use tanji_ledger::{
    key_id, leaf_hash, open_checkpoint, sign_checkpoint, sign_note, Checkpoint, CheckpointError,
    Note, NoteError, NoteSigner, NoteVerifier, MAX_SIGNATURES,
};

/// signed-note.md, "Verifier keys / Example".
const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const SPEC_NOTE: &str = "This is an example message.\n\n\
— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

/// signed-note.md, the opening example (text with an empty line and non-ASCII characters).
const QUASIMODO: &str = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n\
— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";

/// tlog-cosignature.md's example: tlog-checkpoint.md's example plus a witness cosignature.
const COSIGNED_CHECKPOINT: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\
— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

#[test]
fn spec_vkey_verifies_spec_note() {
    let v: NoteVerifier = SPEC_VKEY.parse().unwrap();
    assert_eq!(v.name(), "example.com/foo");
    assert_eq!(v.key_id(), 0x530d903a);
    assert_eq!(v.to_string(), SPEC_VKEY);
    // The key ID is SHA-256(name || \n || 0x01 || public key)[:4].
    assert_eq!(
        key_id("example.com/foo", 0x01, v.verifying_key().as_bytes()),
        0x530d903a
    );

    let note = Note::parse(SPEC_NOTE).unwrap();
    assert_eq!(note.text(), "This is an example message.\n");
    assert_eq!(note.signatures().len(), 1);
    assert_eq!(note.signatures()[0].key_id(), 0x530d903a);
    assert_eq!(note.to_string(), SPEC_NOTE);
    assert_eq!(note.verify(std::slice::from_ref(&v)).unwrap(), vec![0]);

    // Altered text: the known key's signature fails, which rejects the note.
    let altered = SPEC_NOTE.replace("example message", "example massage");
    let err = Note::parse(&altered)
        .unwrap()
        .verify(std::slice::from_ref(&v))
        .unwrap_err();
    assert_eq!(
        err,
        NoteError::BadSignature {
            name: "example.com/foo".into(),
            key_id: 0x530d903a
        }
    );

    // Unknown keys are ignored, leaving no verified signature. That includes a key sharing only
    // the name, or only the ID, with the signer.
    let other = signer("example.com/foo", 9).verifier();
    assert_eq!(other.name(), "example.com/foo");
    assert_ne!(other.key_id(), 0x530d903a);
    let err = note.verify(std::slice::from_ref(&other)).unwrap_err();
    assert!(
        matches!(err, NoteError::NoVerifiedSignature { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "note has no verified signature: it is signed only by unknown keys [example.com/foo+530d903a]"
    );
    // Unknown first, known second: still verifies and names the known one.
    assert_eq!(note.verify(&[other, v]).unwrap(), vec![1]);
}

#[test]
fn spec_examples_parse_and_round_trip() {
    let note = Note::parse(QUASIMODO).unwrap();
    assert_eq!(
        note.text(),
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    assert_eq!(note.signatures()[0].name(), "quasimodo.example/salvatore");
    assert_eq!(note.to_string(), QUASIMODO);

    let note = Note::parse(COSIGNED_CHECKPOINT).unwrap();
    assert_eq!(note.signatures().len(), 2);
    assert_eq!(note.signatures()[1].name(), "witness.example.com/w1");
    assert_eq!(note.to_string(), COSIGNED_CHECKPOINT);
    let cp = Checkpoint::parse(note.text()).unwrap();
    assert_eq!(cp.origin, "example.com/behind-the-sofa");
    assert_eq!(cp.size, 20852163);
    assert_eq!(
        hex::encode(cp.root),
        "0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62"
    );
    assert!(cp.extensions.is_empty());
    assert_eq!(cp.to_text(), note.text());
}

#[test]
fn malformed_notes_are_rejected() {
    let good = SPEC_NOTE;
    let sig_line = good.lines().last().unwrap();
    let cases: Vec<(String, &str)> = vec![
        (good.replace("\n\n", "\n"), "no blank line"),
        (good.trim_end_matches('\n').to_string(), "no final newline"),
        (good.replace("This is", "This\tis"), "tab"),
        (
            good.replace("message.\n", "message.\r\n"),
            "carriage return",
        ),
        (good.replace("— ", "- "), "hyphen instead of em dash"),
        (good.replace("— ", "—"), "no space after em dash"),
        (
            good.replace("example.com/foo Uw", "example.com/foo  Uw"),
            "double space",
        ),
        (
            good.replace("example.com/foo Uw", "example.com/foo Uw!"),
            "bad base64",
        ),
        (good.replace("aQM=", "aQM"), "unpadded base64"),
        (
            good.replace("aQM=", "aQN="),
            "non-canonical base64 trailing bits",
        ),
        (
            good.replace("example.com/foo Uw", "exa+mple.com/foo Uw"),
            "plus in name",
        ),
        (
            good.replace("example.com/foo Uw", "example.com/\u{00a0}foo Uw"),
            "unicode space in name",
        ),
        (format!("{good}\n"), "trailing empty line"),
        (format!("{good}{sig_line}"), "last line without newline"),
        (
            "text\n\n— example.com/foo AAAAAA==\n".into(),
            "signature of 4 bytes",
        ),
        ("text\n\n".into(), "empty signature block"),
        ("\n— example.com/foo Uw2QOkn8\n".into(), "empty text"),
    ];
    for (note, what) in cases {
        assert!(Note::parse(&note).is_err(), "{what}: {note:?} parsed");
    }
    assert_eq!(
        Note::parse(&good.replace("This is", "This\u{7}is")),
        Err(NoteError::ControlCharacter { code: 7, line: 1 })
    );
    assert!(matches!(
        Note::from_bytes(b"caf\xe9\n\n"),
        Err(NoteError::NotUtf8 { offset: 3 })
    ));
}

#[test]
fn signature_count_limit() {
    let s = signer("example.com/many", 3);
    let one = s.sign("hi\n").unwrap().to_string();
    let note = |count: usize| format!("hi\n\n{}", format!("{one}\n").repeat(count));
    assert_eq!(Note::parse(&note(16)).unwrap().signatures().len(), 16);
    let full = Note::parse(&note(MAX_SIGNATURES)).unwrap();
    assert_eq!(full.verify(&[s.verifier()]).unwrap(), vec![0]);
    assert_eq!(
        Note::parse(&note(MAX_SIGNATURES + 1)),
        Err(NoteError::TooManySignatures {
            count: MAX_SIGNATURES + 1,
            max: MAX_SIGNATURES
        })
    );
}

#[test]
fn sign_and_verify_with_several_keys() {
    let log = signer("tanji.example/park-7", 1);
    let witness = signer("witness.example/w1", 2);
    let text = "some text\n\nwith an empty line\n";
    let signed = sign_note(text, &[&log, &witness]).unwrap();
    let note = Note::parse(&signed).unwrap();
    assert_eq!(note.text(), text);
    assert_eq!(note.to_string(), signed);
    assert_eq!(
        note.verify(&[log.verifier(), witness.verifier()]).unwrap(),
        vec![0, 1]
    );
    assert_eq!(note.verify(&[witness.verifier()]).unwrap(), vec![0]);

    // A known key whose signature is bad rejects the note even if another known key verified.
    let prefix = "— witness.example/w1 ";
    let pos = signed.find(prefix).unwrap() + prefix.len();
    let mut forged = signed.clone();
    forged.replace_range(pos + 12..pos + 20, "AAAAAAAA"); // signature bytes, not the key ID
    let forged = Note::parse(&forged).unwrap();
    assert_eq!(forged.verify(&[log.verifier()]).unwrap(), vec![0]);
    assert_eq!(
        forged.verify(&[log.verifier(), witness.verifier()]),
        Err(NoteError::BadSignature {
            name: "witness.example/w1".into(),
            key_id: witness.key_id()
        })
    );
    // Changing the key ID makes the signature one by an unknown key, which is ignored.
    let mut other_id = signed.clone();
    other_id.replace_range(pos..pos + 4, "AAAA");
    let other_id = Note::parse(&other_id).unwrap();
    assert_eq!(
        other_id
            .verify(&[log.verifier(), witness.verifier()])
            .unwrap(),
        vec![0]
    );

    // Two verifiers with the same name and ID cannot be told apart.
    assert!(matches!(
        note.verify(&[log.verifier(), log.verifier()]),
        Err(NoteError::AmbiguousVerifier { .. })
    ));

    // Re-signing by the same key replaces its signature.
    let mut n = note.clone();
    n.add_signature(&log).unwrap();
    assert_eq!(n.signatures().len(), 2);
    assert_eq!(n.signatures()[1].name(), "tanji.example/park-7");

    // Note text rules apply when signing.
    assert_eq!(
        sign_note("no newline", &[&log]),
        Err(NoteError::TextMissingNewline)
    );
    assert!(sign_note("tab\there\n", &[&log]).is_err());
    assert_eq!(sign_note("x\n", &[]), Err(NoteError::NoSigners));
}

#[test]
fn keys() {
    for bad in ["", "a b", "a+b", "a\u{2003}b"] {
        assert!(matches!(
            NoteSigner::new(bad, SigningKey::from_bytes(&[1; 32])),
            Err(NoteError::InvalidKeyName { .. })
        ));
    }
    let s = signer("tanji.example/park-7", 5);
    let v = s.verifier();
    let vkey = v.to_string();
    assert_eq!(vkey.parse::<NoteVerifier>().unwrap(), v);
    assert!(format!("{s:?}").contains("tanji.example/park-7"));
    let secret = s.to_skey();
    assert!(
        !format!("{s:?}").contains(&secret[30..]),
        "Debug leaks the key"
    );
    let back = NoteSigner::from_skey(&secret).unwrap();
    assert_eq!(back.verifier(), v);

    // Wrong key ID, uppercase hex, other key type, wrong length, extra field.
    let (name, rest) = SPEC_VKEY.split_once('+').unwrap();
    let (_, key) = rest.split_once('+').unwrap();
    assert!(matches!(
        format!("{name}+530d903b+{key}").parse::<NoteVerifier>(),
        Err(NoteError::KeyIdMismatch {
            stated: 0x530d903b,
            computed: 0x530d903a,
            ..
        })
    ));
    assert!(matches!(
        format!("{name}+530D903A+{key}").parse::<NoteVerifier>(),
        Err(NoteError::BadVerifierKey { .. })
    ));
    assert!(matches!(
        format!("{name}+530d903a+AkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
            .parse::<NoteVerifier>(),
        Err(NoteError::BadVerifierKey { .. } | NoteError::UnsupportedKeyType { .. })
    ));
    assert!(matches!(
        format!("{SPEC_VKEY}+x").parse::<NoteVerifier>(),
        Err(NoteError::BadVerifierKey { .. })
    ));
    // Type 0x04 (cosignature) with a matching ID is recognised but unsupported.
    let pubkey = v.verifying_key().as_bytes();
    let id = key_id("w", 0x04, pubkey);
    let cosig_vkey = format!(
        "w+{id:08x}+{}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            [&[4u8][..], pubkey].concat()
        )
    );
    assert!(matches!(
        cosig_vkey.parse::<NoteVerifier>(),
        Err(NoteError::UnsupportedKeyType { kind: 4, .. })
    ));
}

#[test]
fn checkpoints() {
    let log = signer("tanji.example/park-7", 7);
    let cp = Checkpoint {
        origin: "tanji.example/park-7".into(),
        size: 70_000,
        root: leaf_hash(b"not really a root"),
        extensions: vec!["ext one".into(), "ext two".into()],
    };
    let text = cp.to_text();
    assert!(text.starts_with("tanji.example/park-7\n70000\n"));
    assert!(text.ends_with("\next one\next two\n"));
    assert_eq!(Checkpoint::parse(&text).unwrap(), cp);

    let signed = sign_checkpoint(&cp, &log).unwrap();
    assert!(signed.starts_with(&format!("{text}\n— tanji.example/park-7 ")));
    assert_eq!(open_checkpoint(&signed, &log.verifier()).unwrap(), cp);
    // Witness cosignatures by unknown keys are ignored.
    let mut cosigned = Note::parse(&signed).unwrap();
    cosigned
        .add_signature(&signer("witness.example/w1", 8))
        .unwrap();
    assert_eq!(
        open_checkpoint(&cosigned.to_string(), &log.verifier()).unwrap(),
        cp
    );
    // Another key's checkpoint, or an altered one, is not opened.
    let other = signer("tanji.example/park-7", 70).verifier();
    assert!(matches!(
        open_checkpoint(&signed, &other),
        Err(CheckpointError::Note(NoteError::NoVerifiedSignature { .. }))
    ));
    let altered = signed.replace("70000", "70001");
    assert!(matches!(
        open_checkpoint(&altered, &log.verifier()),
        Err(CheckpointError::Note(NoteError::BadSignature { .. }))
    ));

    // Unsignable checkpoints.
    for bad in [
        Checkpoint {
            origin: String::new(),
            ..cp.clone()
        },
        Checkpoint {
            origin: "a\nb".into(),
            ..cp.clone()
        },
        Checkpoint {
            extensions: vec![String::new()],
            ..cp.clone()
        },
        Checkpoint {
            extensions: vec!["a\nb".into()],
            ..cp.clone()
        },
    ] {
        assert!(
            matches!(
                sign_checkpoint(&bad, &log),
                Err(NoteError::InvalidCheckpoint(_))
            ),
            "{bad:?}"
        );
    }

    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let ok = |size: &str| format!("o\n{size}\n{root}\n");
    assert_eq!(Checkpoint::parse(&ok("0")).unwrap().size, 0);
    assert_eq!(
        Checkpoint::parse(&ok("18446744073709551615")).unwrap().size,
        u64::MAX
    );
    for size in [
        "",
        "00",
        "012",
        "+5",
        "-1",
        " 5",
        "5 ",
        "0x10",
        "18446744073709551616",
    ] {
        assert!(
            matches!(
                Checkpoint::parse(&ok(size)),
                Err(CheckpointError::BadSize { .. })
            ),
            "size {size:?}"
        );
    }
    for bad_root in [
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I",
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=",
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==",
        "",
    ] {
        assert!(
            matches!(
                Checkpoint::parse(&format!("o\n1\n{bad_root}\n")),
                Err(CheckpointError::BadRootHash { .. })
            ),
            "root {bad_root:?}"
        );
    }
    assert_eq!(
        Checkpoint::parse(&format!("\n1\n{root}\n")),
        Err(CheckpointError::EmptyOrigin)
    );
    assert_eq!(
        Checkpoint::parse(&format!("o\n1\n{root}\n\n")),
        Err(CheckpointError::EmptyExtension { line: 4 })
    );
    assert_eq!(
        Checkpoint::parse("o\n1\n"),
        Err(CheckpointError::TooFewLines { lines: 2 })
    );
    assert_eq!(
        Checkpoint::parse(&format!("o\n1\n{root}")),
        Err(CheckpointError::MissingNewline)
    );
}

/// Base64 uses '+', so a key's base64 part may contain it: vkeys and signer keys split on the
/// first two (four for signer keys) '+' only, as Go's note package does.
#[test]
fn keys_whose_base64_contains_plus_round_trip() {
    let mut checked = 0;
    for i in 0u8..=255 {
        let signer = NoteSigner::new("example.com/plus", SigningKey::from_bytes(&[i; 32])).unwrap();
        let vkey = signer.verifier().to_string();
        let skey = signer.to_skey();
        let vkey_b64 = vkey.splitn(3, '+').nth(2).unwrap();
        let skey_b64 = skey.splitn(5, '+').nth(4).unwrap();
        if !vkey_b64.contains('+') && !skey_b64.contains('+') {
            continue;
        }
        checked += 1;
        let parsed: NoteVerifier = vkey.parse().unwrap();
        assert_eq!(parsed.to_string(), vkey);
        let back = NoteSigner::from_skey(&skey).unwrap();
        assert_eq!(back.verifier().to_string(), vkey);
        let note = sign_note("hello\n", &[&back]).unwrap();
        Note::parse(&note).unwrap().verify(&[parsed]).unwrap();
    }
    assert!(
        checked > 10,
        "only {checked} keys had a '+' in their base64"
    );
}
