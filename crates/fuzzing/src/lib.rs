//! What every parser of outside input must hold, as one checking function per parser: the
//! fuzz targets of `fuzz/` (cargo-fuzz, libFuzzer) are thin wrappers over these functions, and
//! `tests/corpus.rs` runs every target's committed corpus (`fuzz/corpus/<target>/`) through the
//! same functions on stable Rust, so `cargo test` exercises them too.
//!
//! Each function takes arbitrary bytes and panics only when a property fails: a parser
//! panicked, or a parse succeeded and re-encoding did not give back what was parsed (where the
//! format has an encoder), or a parsed value breaks a limit its type promises. It returns
//! whether the input parsed, so the corpus test can insist that every corpus reaches the
//! successful path.
//!
//! This crate is test support: no product code depends on it, and it adds no parser of its own.

use std::str::FromStr;
use std::sync::OnceLock;

use ed25519_dalek::SigningKey;
use tanji_factors::{parse_exchanges_csv, parse_generation_csv, Series, SourceFactors};
use tanji_ledger::{
    entry_bundle, open_checkpoint, parse_entry_bundle, verify_consistency, verify_cosignatures,
    Checkpoint, CosignatureSigner, CosignatureVerifier, Note, NoteVerifier, TileRef,
    MAX_TILE_LEVEL, TILE_WIDTH,
};
use tanji_readings::{
    import_channels, parse_import_csv, parse_json_registration, parse_json_upload,
    registration_to_json, upload_to_json, DeviceRegistration, LogEntry, SignedUpload, MAX_VALUES,
};
use tanji_report::InputsFile;
use tanji_server::config::Config;
use tanji_witness::{AddCheckpoint, MAX_PROOF_LINES};

/// What a check did with its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The input parsed (at least one of the parsers the target feeds accepted it), and every
    /// property held.
    Parsed,
    /// Every parser refused the input, without panicking.
    Refused,
}

impl Outcome {
    fn from(parsed: bool) -> Outcome {
        if parsed {
            Outcome::Parsed
        } else {
            Outcome::Refused
        }
    }
}

/// A target's check: arbitrary bytes in, whether they parsed out; panics when a property fails.
pub type Check = fn(&[u8]) -> Outcome;

/// Every target: its name (the fuzz target's and its corpus directory's) and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("upload_json", upload_json),
    ("upload_bytes", upload_bytes),
    ("note_checkpoint", note_checkpoint),
    ("cosignature_lines", cosignature_lines),
    ("tile_path", tile_path),
    ("witness_body", witness_body),
    ("factor_series_csv", factor_series_csv),
    ("generation_csv", generation_csv),
    ("exchanges_csv", exchanges_csv),
    ("source_factors_csv", source_factors_csv),
    ("import_csv", import_csv),
    ("inputs_json", inputs_json),
    ("server_config", server_config),
    ("upload_body", upload_body),
];

/// The interval `import_csv` parses with (`tanji import`'s default).
pub const IMPORT_INTERVAL_S: u32 = 900;

/// The most records `upload_body` lets one body carry.
pub const BODY_MAX_RECORDS: usize = 64;

/// A parsed upload encodes to bytes and to JSON, and both decode back to it.
fn upload_round_trips(u: &SignedUpload) {
    let json = upload_to_json(u);
    match parse_json_upload(&json) {
        Ok(back) => assert_eq!(&back, u, "JSON round trip changed the upload: {json}"),
        Err(e) => panic!("the JSON of a parsed upload does not parse back: {e}\n{json}"),
    }
    let bytes = u.to_bytes();
    match SignedUpload::from_bytes(&bytes) {
        Ok(back) => assert_eq!(&back, u, "byte round trip changed the upload"),
        Err(e) => panic!("the bytes of a parsed upload do not decode: {e}\n{json}"),
    }
    match LogEntry::from_bytes(&u.to_entry_bytes()) {
        Ok(LogEntry::Upload(back)) => assert_eq!(&back, u, "entry round trip changed it"),
        other => panic!("the log entry of a parsed upload decodes as {other:?}\n{json}"),
    }
}

/// A parsed registration encodes to bytes and to JSON, and both decode back to it.
fn registration_round_trips(r: &DeviceRegistration) {
    let json = registration_to_json(r);
    match parse_json_registration(&json) {
        Ok(back) => assert_eq!(&back, r, "JSON round trip changed the registration: {json}"),
        Err(e) => panic!("the JSON of a parsed registration does not parse back: {e}\n{json}"),
    }
    match DeviceRegistration::from_bytes(&r.to_bytes()) {
        Ok(back) => assert_eq!(&back, r, "byte round trip changed the registration"),
        Err(e) => panic!("the bytes of a parsed registration do not decode: {e}\n{json}"),
    }
}

/// An upload or registration as a JSON line (`POST /api/v1/uploads`, `tanji ingest`, MQTT,
/// `tanji device register`): `parse_json_upload`, `parse_json_registration`.
pub fn upload_json(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Refused;
    };
    let mut parsed = false;
    if let Ok(u) = parse_json_upload(text) {
        upload_round_trips(&u);
        parsed = true;
    }
    if let Ok(r) = parse_json_registration(text) {
        registration_round_trips(&r);
        parsed = true;
    }
    Outcome::from(parsed)
}

/// The binary records (what devices sign and the log stores): `SignedUpload::from_bytes`,
/// `DeviceRegistration::from_bytes`, `LogEntry::from_bytes` and `from_logged_bytes`. Decoding
/// is strict, so what decodes re-encodes to exactly the same bytes.
pub fn upload_bytes(data: &[u8]) -> Outcome {
    let mut parsed = false;
    if let Ok(u) = SignedUpload::from_bytes(data) {
        assert_eq!(
            u.to_bytes(),
            data,
            "a decoded upload re-encodes differently"
        );
        upload_round_trips(&u);
        parsed = true;
    }
    if let Ok(r) = DeviceRegistration::from_bytes(data) {
        assert_eq!(
            r.to_bytes(),
            data,
            "a decoded registration re-encodes differently"
        );
        registration_round_trips(&r);
        parsed = true;
    }
    for e in [
        LogEntry::from_bytes(data),
        LogEntry::from_logged_bytes(data),
    ]
    .into_iter()
    .flatten()
    {
        assert_eq!(
            e.to_bytes(),
            data,
            "a decoded log entry re-encodes differently"
        );
        parsed = true;
    }
    Outcome::from(parsed)
}

/// The log key of the C2SP signed-note example (signed-note.md, "Verifier keys").
const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

fn log_verifier() -> &'static NoteVerifier {
    static V: OnceLock<NoteVerifier> = OnceLock::new();
    V.get_or_init(|| match NoteVerifier::from_str(SPEC_VKEY) {
        Ok(v) => v,
        Err(e) => panic!("the spec's example key does not parse: {e}"),
    })
}

/// Signed notes, checkpoints and note keys (`/checkpoint`, the witness, `tanji verify`):
/// `Note::from_bytes`, `Checkpoint::parse`, `open_checkpoint`, `NoteVerifier::from_str`.
pub fn note_checkpoint(data: &[u8]) -> Outcome {
    let mut parsed = false;
    if let Ok(note) = Note::from_bytes(data) {
        assert_eq!(
            note.to_string().as_bytes(),
            data,
            "a parsed note does not write back its bytes"
        );
        let _ = note.verify(std::slice::from_ref(log_verifier()));
        if let Ok(cp) = Checkpoint::parse(note.text()) {
            assert_eq!(
                cp.to_text(),
                note.text(),
                "a checkpoint does not write back"
            );
        }
        let _ = open_checkpoint(&note.to_string(), log_verifier());
        parsed = true;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::from(parsed);
    };
    if let Ok(cp) = Checkpoint::parse(text) {
        assert_eq!(cp.to_text(), text, "a checkpoint does not write back");
        assert!(
            cp.validate().is_ok(),
            "a parsed checkpoint does not validate"
        );
        parsed = true;
    }
    if let Ok(v) = NoteVerifier::from_str(text) {
        assert_eq!(v.to_string(), text, "a note key does not write back");
        parsed = true;
    }
    Outcome::from(parsed)
}

/// The checkpoint the cosignature lines of `cosignature_lines` are read against
/// (tlog-checkpoint.md's example).
pub const COSIGNED_TEXT: &str =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

/// The witness `cosignature_lines` knows: name `witness.example.com/w1`, secret key 32 × 7.
pub fn test_witness() -> &'static CosignatureSigner {
    static W: OnceLock<CosignatureSigner> = OnceLock::new();
    W.get_or_init(|| {
        match CosignatureSigner::new("witness.example.com/w1", SigningKey::from_bytes(&[7; 32])) {
            Ok(w) => w,
            Err(e) => panic!("the test witness: {e}"),
        }
    })
}

/// Cosignature lines as a witness answers them (read by `WitnessClient` after
/// [`COSIGNED_TEXT`] and a blank line) and witness keys: `CosignatureVerifier::verify`,
/// `verify_cosignatures`, `CosignatureVerifier::from_str`.
pub fn cosignature_lines(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Refused;
    };
    let mut parsed = false;
    let witness = test_witness().verifier();
    let full = format!("{COSIGNED_TEXT}\n{text}");
    if let Ok(note) = Note::parse(&full) {
        // The signature block follows the note's last blank line (which `text` may contain).
        let block = full.get(note.text().len() + 1..).unwrap_or_default();
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(
            lines.len(),
            note.signatures().len(),
            "one signature per line"
        );
        for (sig, line) in note.signatures().iter().zip(lines) {
            assert_eq!(
                sig.to_string(),
                line,
                "a signature line does not write back"
            );
            if let Ok(t) = witness.verify(COSIGNED_TEXT, sig) {
                assert!(t <= tanji_ledger::MAX_COSIGNATURE_TIMESTAMP);
            }
        }
        if let Ok(found) = verify_cosignatures(&note, std::slice::from_ref(&witness)) {
            assert!(found.len() <= 1, "one witness counted twice: {found:?}");
        }
        parsed = true;
    }
    if let Ok(v) = CosignatureVerifier::from_str(text) {
        assert_eq!(v.to_string(), text, "a witness key does not write back");
        parsed = true;
    }
    Outcome::from(parsed)
}

/// Tile paths (`GET /tile/…`, `/tile/entries/…`) and entry bundles: `TileRef::from_path`,
/// `TileRef::from_entries_path`, `parse_entry_bundle`.
pub fn tile_path(data: &[u8]) -> Outcome {
    let mut parsed = false;
    if let Ok(entries) = parse_entry_bundle(data) {
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        match entry_bundle(&refs) {
            Ok(bytes) => assert_eq!(bytes, data, "an entry bundle does not write back"),
            Err(e) => panic!("a parsed entry bundle does not encode: {e}"),
        }
        parsed = true;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::from(parsed);
    };
    let in_range = |t: &TileRef| {
        t.is_valid() && t.level <= MAX_TILE_LEVEL && (1..=TILE_WIDTH).contains(&u64::from(t.width))
    };
    if let Ok(t) = TileRef::from_path(text) {
        assert_eq!(t.path(), text, "a tile path does not write back");
        assert!(in_range(&t), "a parsed tile is out of range: {t:?}");
        parsed = true;
    }
    if let Ok(t) = TileRef::from_entries_path(text) {
        assert_eq!(
            t.entries_path(),
            text,
            "an entries path does not write back"
        );
        assert!(
            in_range(&t) && t.level == 0,
            "a parsed bundle is out of range: {t:?}"
        );
        parsed = true;
    }
    Outcome::from(parsed)
}

/// The witness's `add-checkpoint` request body: `AddCheckpoint::parse`, then what the witness
/// does with it before its state is read: the note, the checkpoint, the log signature and the
/// consistency proof (against the checkpoint's own root as the old root).
pub fn witness_body(data: &[u8]) -> Outcome {
    let Ok(req) = AddCheckpoint::parse(data) else {
        return Outcome::Refused;
    };
    assert_eq!(
        req.to_body().as_bytes(),
        data,
        "a request body does not write back"
    );
    assert!(
        req.proof.len() <= MAX_PROOF_LINES,
        "{} proof lines",
        req.proof.len()
    );
    if let Ok(note) = Note::parse(&req.checkpoint) {
        let _ = note.verify(std::slice::from_ref(log_verifier()));
        if let Ok(cp) = Checkpoint::parse(note.text()) {
            let _ = verify_consistency(req.old_size, cp.size, &cp.root, &cp.root, &req.proof);
        }
    }
    Outcome::Parsed
}

fn utf8(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// A published factor series (`tanji factors publish`, reports): `Series::parse_csv`; what
/// parses writes back as CSV that parses to the same series.
pub fn factor_series_csv(data: &[u8]) -> Outcome {
    let Some(Ok(series)) = utf8(data).map(Series::parse_csv) else {
        return Outcome::Refused;
    };
    let csv = series.to_csv();
    match Series::parse_csv(&csv) {
        Ok(back) => assert_eq!(back.to_csv(), csv, "a series CSV is not a fixed point"),
        Err(e) => panic!("the CSV of a parsed series does not parse: {e}\n{csv}"),
    }
    for w in series.rows.windows(2) {
        assert!(
            (w[0].start, &w[0].region) < (w[1].start, &w[1].region),
            "rows not sorted by start, then region"
        );
    }
    Outcome::Parsed
}

/// Generation by source (`tanji factors compute`): `parse_generation_csv`.
pub fn generation_csv(data: &[u8]) -> Outcome {
    let Some(Ok(rows)) = utf8(data).map(parse_generation_csv) else {
        return Outcome::Refused;
    };
    for r in &rows {
        assert!(r.start < r.end, "an empty interval: {r:?}");
        assert!(
            r.mwh.is_finite() && r.mwh >= 0.0,
            "energy out of range: {r:?}"
        );
    }
    Outcome::Parsed
}

/// Flows between regions (`tanji factors compute --exchanges`): `parse_exchanges_csv`.
pub fn exchanges_csv(data: &[u8]) -> Outcome {
    let Some(Ok(rows)) = utf8(data).map(parse_exchanges_csv) else {
        return Outcome::Refused;
    };
    for r in &rows {
        assert!(r.start < r.end, "an empty interval: {r:?}");
        assert!(
            r.mwh.is_finite() && r.mwh >= 0.0,
            "energy out of range: {r:?}"
        );
    }
    Outcome::Parsed
}

/// Per-source emission factors (`tanji factors compute --source-factors`):
/// `SourceFactors::parse_csv`.
pub fn source_factors_csv(data: &[u8]) -> Outcome {
    let Some(Ok(table)) = utf8(data).map(SourceFactors::parse_csv) else {
        return Outcome::Refused;
    };
    for source in tanji_factors::Source::ALL {
        let (direct, lifecycle) = table.get(source);
        assert!(
            direct.is_finite() && direct >= 0.0 && lifecycle.is_finite() && lifecycle >= 0.0,
            "{source}: factors out of range: {direct}, {lifecycle}"
        );
    }
    Outcome::Parsed
}

/// Historical meter values (`tanji import`): `parse_import_csv` at [`IMPORT_INTERVAL_S`], then
/// `import_channels` for every meter: every row lands in exactly one channel of at most
/// `MAX_VALUES` values within one UTC day, at its exact value.
pub fn import_csv(data: &[u8]) -> Outcome {
    let Some(Ok(by_meter)) = utf8(data).map(|t| parse_import_csv(t, IMPORT_INTERVAL_S)) else {
        return Outcome::Refused;
    };
    for (meter, rows) in &by_meter {
        let Ok(channels) = import_channels(meter, rows, IMPORT_INTERVAL_S) else {
            continue;
        };
        let mut next = rows.iter();
        for (day, c) in &channels {
            assert!(!c.values.is_empty() && c.values.len() <= MAX_VALUES);
            for (i, v) in c.values.iter().enumerate() {
                let Some(row) = next.next() else {
                    panic!("{meter}: more values than rows");
                };
                let start = c.start + i as i64 * i64::from(IMPORT_INTERVAL_S);
                assert_eq!(row.start, start, "{meter}: a value at the wrong start");
                assert_eq!(
                    start.div_euclid(86_400),
                    *day,
                    "{meter}: a run crosses a day"
                );
                let scale = 10i64.pow(u32::from(c.decimals - row.decimals));
                assert_eq!(
                    row.value.checked_mul(scale),
                    Some(*v),
                    "{meter}: value changed"
                );
            }
        }
        assert!(
            next.next().is_none(),
            "{meter}: rows left out of every channel"
        );
    }
    Outcome::Parsed
}

/// Whether two JSON values are equal but for floats that differ in their last bits (the
/// default `serde_json` float parser is not exact to the ulp).
fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x != y => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && json_close(vx, vy))
        }
        _ => a == b,
    }
}

/// An enterprise inputs document (`tanji inputs publish`, reports): `InputsFile` from JSON;
/// what parses writes back as JSON that parses to the same document.
pub fn inputs_json(data: &[u8]) -> Outcome {
    let Ok(doc) = serde_json::from_slice::<InputsFile>(data) else {
        return Outcome::Refused;
    };
    let json = match serde_json::to_string(&doc) {
        Ok(j) => j,
        Err(e) => panic!("a parsed inputs document does not serialize: {e}"),
    };
    let back: InputsFile = match serde_json::from_str(&json) {
        Ok(b) => b,
        Err(e) => panic!("the JSON of a parsed inputs document does not parse: {e}\n{json}"),
    };
    if back != doc {
        let (a, b) = (serde_json::to_value(&doc), serde_json::to_value(&back));
        let close = matches!((&a, &b), (Ok(a), Ok(b)) if json_close(a, b));
        assert!(close, "inputs JSON round trip changed the document: {json}");
    }
    Outcome::Parsed
}

/// The server's TOML configuration (`tanji serve --config`): `Config::parse`; what parses
/// passes its own check again and has usable limits.
pub fn server_config(data: &[u8]) -> Outcome {
    let Some(Ok(config)) = utf8(data).map(|t| Config::parse(t, "fuzz.toml")) else {
        return Outcome::Refused;
    };
    assert!(
        config.check("fuzz.toml").is_ok(),
        "a parsed config fails its check"
    );
    assert!(config.batch.max_records >= 1 && config.http.max_records_per_request >= 1);
    let _ = config.batch.window();
    Outcome::Parsed
}

/// The upload body splitter (`POST /api/v1/uploads` and MQTT payloads):
/// `tanji_server::ingest::decode_body` with at most [`BODY_MAX_RECORDS`] records. A body is
/// refused with a 4xx, or split into 1..=max records, each the exact JSON text of one record
/// decoded as `parse_json_upload` decodes it.
pub fn upload_body(data: &[u8]) -> Outcome {
    match tanji_server::ingest::decode_body(data, BODY_MAX_RECORDS, "fuzz") {
        Err(e) => {
            assert!(e.status.is_client_error(), "refused with {}", e.status);
            Outcome::Refused
        }
        Ok((items, array)) => {
            assert!(!items.is_empty() && items.len() <= BODY_MAX_RECORDS);
            assert!(
                array || items.len() == 1,
                "an object split into {}",
                items.len()
            );
            for item in &items {
                let Ok(raw) = std::str::from_utf8(&item.raw) else {
                    panic!("{}: a record's text is not UTF-8", item.source);
                };
                // JSON by the grammar, as the server reads it (`27e600` is a JSON number
                // even though it does not fit an f64).
                assert!(
                    serde_json::from_str::<Box<serde_json::value::RawValue>>(raw).is_ok(),
                    "{}: a record's text is not JSON: {raw}",
                    item.source
                );
                let again = parse_json_upload(raw);
                match (&item.parsed, &again) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a, b, "{}: decoded differently", item.source);
                        upload_round_trips(a);
                    }
                    (Err(_), Err(_)) => {}
                    _ => panic!(
                        "{}: decoded differently from parse_json_upload",
                        item.source
                    ),
                }
            }
            Outcome::Parsed
        }
    }
}
