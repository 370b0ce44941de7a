#![allow(clippy::unwrap_used, clippy::expect_used)]
//! JSON forms: exact round trips and errors that name the field and value.

mod common;
use common::*;
use proptest::prelude::*;
use tanji_readings::*;

fn json_err(line: &str) -> (String, String) {
    match parse_json_upload(line).unwrap_err() {
        DecodeError::Json { field, message } => (field, message),
        DecodeError::Invalid {
            field,
            value,
            reason,
        } => (field, format!("{value}: {reason}")),
        other => panic!("unexpected {other:?}"),
    }
}

fn vector_json() -> String {
    upload_to_json(&vector_upload())
}

#[test]
fn json_round_trips_exactly() {
    let u = vector_upload();
    let line = upload_to_json(&u);
    assert!(!line.contains('\n'));
    let back = parse_json_upload(&line).unwrap();
    assert_eq!(back, u);
    assert_eq!(upload_to_json(&back), line);
    // serde trait impls agree with the functions
    assert_eq!(serde_json::to_string(&u).unwrap(), line);
    assert_eq!(serde_json::from_str::<SignedUpload>(&line).unwrap(), u);

    let r = vector_registration();
    let line = registration_to_json(&r);
    assert_eq!(parse_json_registration(&line).unwrap(), r);
    assert_eq!(
        serde_json::from_str::<DeviceRegistration>(&line).unwrap(),
        r
    );
}

#[test]
fn whitespace_field_order_offsets_and_uppercase_hex_are_accepted() {
    let u = vector_upload();
    let c = &u.body.channels[1];
    let line = format!(
        r#" {{ "signature" : "{}", "channels": [ {}, {{"values":[150,149,0,1023],"interval_s":900,"start":"2026-11-01T08:00:00+08:00","decimals":2,"unit":"m3","carrier":"natural_gas","meter":"{}"}} ],
            "prev":"{}", "seq":1, "device":"d-0001" }} "#,
        hex::encode_upper(u.signature),
        serde_json::to_string(&u.body.channels[0]).unwrap(),
        c.meter,
        "0".repeat(64),
    );
    assert_eq!(parse_json_upload(&line).unwrap(), u);
}

#[test]
fn errors_name_field_and_value() {
    let good = vector_json();

    let (f, m) = json_err(&good.replace(&"0".repeat(64), "00zz"));
    assert_eq!(f, "prev");
    assert!(m.contains("\"00zz\" is not 64 hex digits"), "{m}");

    let (f, m) = json_err(&good.replacen("2026-11-01T00:00:00Z", "2026-11-01 00:00", 1));
    assert_eq!(f, "channels[0].start");
    assert!(
        m.contains("\"2026-11-01 00:00\" is not an RFC 3339 time"),
        "{m}"
    );

    let (f, m) = json_err(&good.replacen("2026-11-01T00:00:00Z", "2026-11-01T00:00:00.5Z", 1));
    assert_eq!(f, "channels[0].start");
    assert!(m.contains("fractional seconds"), "{m}");

    let (f, m) = json_err(&good.replace("[150,149,0,1023]", "[150,149,1.5,1023]"));
    assert_eq!(f, "channels[1].values[2]");
    assert!(m.contains("1.5"), "{m}");

    let (f, m) = json_err(&good.replace("\"seq\":1", "\"seq\":\"1\""));
    assert_eq!(f, "seq");
    assert!(m.contains("invalid type: string \"1\""), "{m}");

    let (f, m) = json_err(&good.replace("\"seq\":1", "\"seq\":-1"));
    assert_eq!(f, "seq");
    assert!(m.contains("-1"), "{m}");

    let (f, m) = json_err(&good.replace("\"decimals\":3", "\"decimals\":300"));
    assert_eq!(f, "channels[0].decimals");
    assert!(m.contains("300"), "{m}");

    let (f, m) = json_err(&good.replace("\"decimals\":3", "\"decimals\":7"));
    assert_eq!(f, "channels[0].decimals");
    assert!(m.starts_with("7: decimals must be 0 to 6"), "{m}");

    let (f, m) = json_err(&good.replace("\"seq\":1", "\"seq\":1,\"extra\":true"));
    assert_eq!(f, "record");
    assert!(m.contains("unknown field `extra`"), "{m}");

    let (f, m) = json_err(&good.replace("\"seq\":1,", ""));
    assert_eq!(f, "record");
    assert!(m.contains("missing field `seq`"), "{m}");

    let (f, m) = json_err(&good.replace("\"seq\":1", "\"seq\":1,\"seq\":2"));
    assert_eq!(f, "seq");
    assert!(m.contains("duplicate field `seq`"), "{m}");

    let (f, m) = json_err(&good.replace("\"interval_s\":900,", ""));
    assert_eq!(f, "channels[0]");
    assert!(m.contains("missing field `interval_s`"), "{m}");

    let (f, m) = json_err(&format!("{good} {{}}"));
    assert_eq!(f, "record");
    assert!(m.contains("trailing characters"), "{m}");

    let (f, m) = json_err(&good.replace("d-0001", "d 0001"));
    assert_eq!(f, "device");
    assert!(m.contains("\"d 0001\""), "{m}");

    let (f, _) = json_err(&good.replace("\"seq\":1", "\"seq\":0"));
    assert_eq!(f, "seq");

    let (f, m) = json_err("[]");
    assert_eq!(f, "record");
    assert!(m.contains("an upload record object"), "{m}");
}

#[test]
fn error_display_is_one_readable_sentence() {
    let err =
        parse_json_upload(&vector_json().replace("[150,149,0,1023]", "[150,\"x\"]")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "JSON channels[1].values[1]: invalid type: string \"x\", expected i64 at line 1 column 409"
    );
}

#[test]
fn value_and_channel_counts_are_capped_while_parsing() {
    let many = vec!["1"; MAX_VALUES + 1].join(",");
    let (f, m) = json_err(&vector_json().replace("[150,149,0,1023]", &format!("[{many}]")));
    assert_eq!(f, "channels[1].values[1440]");
    assert!(m.contains("more than 1440 values"), "{m}");

    let u = vector_upload();
    let ch = serde_json::to_string(&u.body.channels[0]).unwrap();
    let chans = vec![ch.as_str(); MAX_CHANNELS + 1].join(",");
    let line = format!(
        r#"{{"device":"d","seq":1,"prev":"{}","channels":[{chans}],"signature":"{}"}}"#,
        "0".repeat(64),
        "0".repeat(128)
    );
    let (f, m) = json_err(&line);
    assert_eq!(f, "channels[16]");
    assert!(m.contains("more than 16 channels"), "{m}");
}

#[test]
fn registration_json_errors() {
    let good = registration_to_json(&vector_registration());
    let err = parse_json_registration(&good.replace("\"kWh\"", "\"m3\"")).unwrap_err();
    assert!(
        matches!(&err, DecodeError::Invalid { field, value, .. } if field == "unit" && value == "m3"),
        "{err}"
    );
    let err = parse_json_registration(&good.replace("500000", "\"500 kW\"")).unwrap_err();
    assert!(
        matches!(&err, DecodeError::Json { field, message } if field == "rated_per_hour_milli" && message.contains("500 kW")),
        "{err}"
    );
}

fn channel() -> impl Strategy<Value = Channel> {
    (
        "[!-~]{1,64}",
        "[!-~]{1,64}",
        "[!-~]{1,64}",
        0u8..=6,
        0..=MAX_START,
        any::<u32>(),
        prop::collection::vec(any::<i64>(), 0..50),
    )
        .prop_map(
            |(meter, carrier, unit, decimals, start, interval_s, values)| Channel {
                meter,
                carrier,
                unit,
                decimals,
                start,
                interval_s,
                values,
            },
        )
}

proptest! {
    #[test]
    fn json_round_trip(
        device in "[!-~]{1,64}",
        seq in 1..=u64::MAX,
        prev in any::<[u8; 32]>(),
        channels in prop::collection::vec(channel(), 0..=4),
        sig in any::<[u8; 32]>(),
    ) {
        let mut signature = [7u8; 64];
        signature[..32].copy_from_slice(&sig);
        let u = SignedUpload { body: UploadBody { device, seq, prev, channels }, signature };
        let line = upload_to_json(&u);
        let back = parse_json_upload(&line).unwrap();
        prop_assert_eq!(&back, &u);
        prop_assert_eq!(upload_to_json(&back), line);
    }

    #[test]
    fn json_parse_never_panics(s in ".{0,300}") {
        let _ = parse_json_upload(&s);
        let _ = parse_json_registration(&s);
    }
}
