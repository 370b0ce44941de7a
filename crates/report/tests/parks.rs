//! The operator's cross-park query on PostgreSQL: three parks in one database (each its own
//! partition of the reporting index), each with its own factor publication; the emissions by
//! park and enterprise over one day are checked against figures computed by hand, readings
//! outside the period are left out, and the park without readings is named as such.
//! SKIPPED without a PostgreSQL server outside CI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use tanji_park::{Incoming, Park, PublicationRequest};
use tanji_readings::{Channel, DeviceRegistration, UploadBody, ZERO_HASH};
use tanji_report::{parks_emissions, ParkFigures};
use tanji_store::{conformance::postgres_test_url, PgLocation};

const DAY: i64 = 86_400;
const START: i64 = 1_790_812_800; // 2026-10-01T00:00:00Z
const NOW: i64 = START + 10 * DAY;

/// A schema of its own, dropped at the end.
struct Schema(String, String);

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.0, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.1));
        }
    }
}

/// Two days of hourly factors for region `R`, all `g_per_kwh`.
fn publish_constant_factors(park: &mut Park, g_per_kwh: u32) {
    let mut csv = String::from(
        "region,start,end,production_direct,production_lifecycle,consumption_direct,consumption_lifecycle,consumption_mwh\n",
    );
    for h in 0..48 {
        let t = |s: i64| tanji_units::time::rfc3339(s);
        let start = START + h * 3600;
        csv.push_str(&format!(
            "R,{},{},{g_per_kwh},{g_per_kwh},{g_per_kwh},{g_per_kwh},100\n",
            t(start),
            t(start + 3600)
        ));
    }
    park.publish(&PublicationRequest {
        name: "grid".into(),
        method: tanji_factors::METHOD.into(),
        content: csv.into_bytes(),
        regions: vec!["R".into()],
        period: (START, START + 2 * DAY),
        intervals: 48,
        inputs: Vec::new(),
        calibrations: Vec::new(),
        published_at: NOW,
    })
    .unwrap();
}

/// Meter `m` of enterprise `e` on device `m`, reading `milli_kwh` thousandths of a kWh every
/// quarter-hour of each of `days` days from START.
fn meter(park: &mut Park, e: &str, m: &str, milli_kwh: i64, days: i64) {
    let key = SigningKey::from_bytes(&[m.len() as u8 + m.as_bytes()[m.len() - 1]; 32]);
    park.register(&[DeviceRegistration {
        device: m.into(),
        public_key: tanji_readings::PublicKey::Ed25519(key.verifying_key().to_bytes()),
        enterprise: e.into(),
        meter: m.into(),
        carrier: "electricity_import".into(),
        unit: "kWh".into(),
        rated_per_hour_milli: 100_000,
        registered_at: START,
    }])
    .unwrap();
    let mut prev = ZERO_HASH;
    let mut batch = Vec::new();
    for day in 0..days {
        let u = UploadBody {
            device: m.into(),
            seq: day as u64 + 1,
            prev,
            channels: vec![Channel {
                meter: m.into(),
                carrier: "electricity_import".into(),
                unit: "kWh".into(),
                decimals: 3,
                start: START + day * DAY,
                interval_s: 900,
                values: vec![milli_kwh; 96],
            }],
        }
        .sign(&key);
        prev = u.record_hash();
        batch.push(Incoming {
            source: format!("test:{m}:{day}"),
            raw: Vec::new(),
            parsed: Ok(u),
            checked: None,
        });
    }
    if batch.is_empty() {
        return;
    }
    let outcomes = park.ingest(batch, NOW).unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, tanji_park::Outcome::Accepted { .. })),
        "{outcomes:?}"
    );
}

#[test]
fn emissions_by_park_and_enterprise_over_a_period() {
    let Some(url) = postgres_test_url() else {
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = Schema(
        url.clone(),
        format!("tanji_parks_{}_{nanos}", std::process::id()),
    );
    let store = format!("{url}?schema={}", schema.1);
    let tmp = tempfile::tempdir().unwrap();
    let open =
        |name: &str| Park::create_on(&tmp.path().join(name), name, None, Some(&store)).unwrap();

    // Park a at 500 g/kWh: e-a1 reads 1.000 kWh, e-a2 2.000 kWh a quarter-hour, for two days.
    let mut a = open("a");
    publish_constant_factors(&mut a, 500);
    meter(&mut a, "e-a1", "m-a1", 1_000, 2);
    meter(&mut a, "e-a2", "m-a2", 2_000, 2);
    // Park b at 250 g/kWh: e-b1 reads 0.500 kWh a quarter-hour, one day.
    let mut b = open("b");
    publish_constant_factors(&mut b, 250);
    meter(&mut b, "e-b1", "m-b1", 500, 1);
    // Park c: a registered meter that has sent nothing.
    let mut c = open("c");
    publish_constant_factors(&mut c, 500);
    meter(&mut c, "e-c1", "m-c1", 1_000, 0);

    // The first day only: the second day of park a is outside the period.
    let at = PgLocation::parse(&store).unwrap();
    let q = parks_emissions(&at, (START, START + DAY)).unwrap();
    let names: Vec<&str> = q.parks.iter().map(|p| p.park.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);

    let figures = |i: usize| match &q.parks[i].figures {
        ParkFigures::Data {
            enterprises,
            totals,
            ..
        } => (enterprises.clone(), totals.clone()),
        other => panic!("park {}: {other:?}", q.parks[i].park),
    };
    let (ea, ta) = figures(0);
    let rows: Vec<(&str, i64, i64)> = ea
        .iter()
        .map(|e| {
            (
                e.enterprise.as_str(),
                e.totals.import_wh,
                e.totals.scope2_location_g,
            )
        })
        .collect();
    // e-a1: 96 × 1.000 kWh = 96 kWh = 96,000 Wh; × 500 g/kWh = 48,000 g.
    // e-a2: 96 × 2.000 kWh = 192,000 Wh; × 500 g/kWh = 96,000 g.
    assert_eq!(rows, [("e-a1", 96_000, 48_000), ("e-a2", 192_000, 96_000)]);
    assert_eq!((ta.import_wh, ta.scope2_location_g), (288_000, 144_000));
    let (eb, tb) = figures(1);
    // e-b1: 96 × 0.500 kWh = 48,000 Wh; × 250 g/kWh = 12,000 g.
    assert_eq!(eb.len(), 1);
    assert_eq!((tb.import_wh, tb.scope2_location_g), (48_000, 12_000));
    assert!(
        matches!(&q.parks[2].figures, ParkFigures::NoData { reason } if reason.contains("no accepted reading")),
        "{:?}",
        q.parks[2].figures
    );
    assert_eq!(q.without_data(), ["c"]);
    // All parks: 288,000 + 48,000 = 336,000 Wh; 144,000 + 12,000 = 156,000 g.
    assert_eq!(
        (q.totals.import_wh, q.totals.scope2_location_g),
        (336_000, 156_000)
    );
    assert_eq!(q.totals.enterprises, 3);
    // The table: 96,000 Wh = 0.096 MWh, 48,000 g = 0.048 t; the park without data is named.
    let text = q.to_text();
    assert!(text.contains("a\te-a1\t1\t0.096\t0.000\t0.048\t"), "{text}");
    assert!(
        text.contains("(all parks)\t\t\t0.336\t0.000\t0.156\t"),
        "{text}"
    );
    assert!(text.contains("1 park(s) without figures"), "{text}");
    assert!(text.contains("  c: no accepted reading"), "{text}");

    // Both days of park a: twice its first day.
    let q2 = parks_emissions(&at, (START, START + 2 * DAY)).unwrap();
    let ParkFigures::Data { totals, .. } = &q2.parks[0].figures else {
        panic!("{:?}", q2.parks[0].figures);
    };
    assert_eq!(
        (totals.import_wh, totals.scope2_location_g),
        (576_000, 288_000)
    );

    // Each park's readings are in its own partition of the index, by month.
    let mut pg = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let parts: Vec<String> = pg
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND p.relname LIKE 'channels_p%' AND c.relkind = 'r' ORDER BY 1",
            &[&schema.1],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts.iter().all(|p| p.ends_with("_202610")), "{parts:?}");
    assert_ne!(parts[0], parts[1]);
    drop((a, b, c));
}
