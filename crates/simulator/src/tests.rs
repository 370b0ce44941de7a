use super::*;
use tanji_units::time::{days_from_civil, local_day, local_second, weekday, PARK_UTC_OFFSET_S};

/// The local day number and the seconds since local midnight of the instant `t`.
fn local_day_and_second(t: i64) -> (i64, i64) {
    (
        local_day(t, PARK_UTC_OFFSET_S),
        local_second(t, PARK_UTC_OFFSET_S),
    )
}

/// 2025-03-03T00:00:00Z, a Monday, outside any holiday.
const MARCH_2025: i64 = 1_740_960_000;

fn spec(seed: u64, days: u32) -> ParkSpec {
    ParkSpec {
        seed,
        enterprises: 20,
        start_day: MARCH_2025,
        days,
    }
}

fn role_values(park: &Park, e: usize, v: &DayValues, role: MeterRole) -> Option<Vec<i64>> {
    let i = park.devices[e].meters.iter().position(|m| m.role == role)?;
    Some(v.meters[i].clone())
}

/// Local hour (0–23) of interval `i` of a day starting at `start`.
fn local_hour(start: i64, i: usize) -> i64 {
    local_day_and_second(start + i as i64 * 900).1 / 3600
}

#[test]
fn park_composition() {
    let park = Park::generate(spec(42, 1));
    assert_eq!(park.enterprises.len(), 20);
    assert_eq!(park.devices.len(), 20);
    assert_eq!(park.devices[0].device, "d-0001");
    assert_eq!(park.devices[19].device, "d-0020");
    assert_eq!(park.enterprises[0].id, "e-0001");
    assert_eq!(park.devices[0].meters[0].meter, "m-0001-grid");
    assert_eq!(park.devices[0].meters[0].carrier, "electricity_import");
    assert_eq!(park.devices[0].meters[0].unit, "kWh");

    let with_pv = park.enterprises.iter().filter(|e| e.pv.is_some()).count();
    assert!((11..=13).contains(&with_pv), "{with_pv} of 20 with PV");
    let with_gas = park.enterprises.iter().filter(|e| e.gas.is_some()).count();
    assert!((5..=15).contains(&with_gas), "{with_gas} of 20 with gas");
    for e in &park.enterprises {
        assert!(
            (200.0..=5000.0).contains(&e.load.peak_kw),
            "{}",
            e.load.peak_kw
        );
        if let Some(pv) = &e.pv {
            assert!((100.0..=2000.0).contains(&pv.kwp), "{}", pv.kwp);
        }
    }
    assert!(park
        .enterprises
        .iter()
        .any(|e| e.load.shift.is_daytime_heavy()));
    assert!(park
        .enterprises
        .iter()
        .any(|e| !e.load.shift.is_daytime_heavy()));

    // Meter ids are unique across the park; one registration per meter, with the device key.
    let regs = park.registrations(MARCH_2025 - 86_400);
    let meters: usize = park.devices.iter().map(|d| d.meters.len()).sum();
    assert_eq!(regs.len(), meters);
    let mut ids: Vec<&str> = regs.iter().map(|r| r.meter.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), meters);
    for r in &regs {
        let d = park.devices.iter().find(|d| d.device == r.device).unwrap();
        assert_eq!(r.public_key.as_bytes(), d.key.verifying_key().as_bytes());
        assert_eq!(r.enterprise, d.enterprise);
        assert!(r.rated_per_hour_milli > 0);
        assert_eq!(r.registered_at, MARCH_2025 - 86_400);
    }
}

#[test]
fn enterprises_do_not_depend_on_park_size() {
    let small = Park::generate(ParkSpec {
        enterprises: 5,
        ..spec(42, 1)
    });
    let big = Park::generate(spec(42, 1));
    assert_eq!(small.enterprises[..], big.enterprises[..5]);
    assert_eq!(
        small.devices[3].key.to_bytes(),
        big.devices[3].key.to_bytes()
    );
}

#[test]
fn start_day_is_rounded_to_utc_midnight() {
    let park = Park::generate(ParkSpec {
        start_day: MARCH_2025 + 3600,
        ..spec(1, 1)
    });
    assert_eq!(park.spec.start_day, MARCH_2025);
}

#[test]
fn a_day_does_not_depend_on_the_first_day() {
    let a = Park::generate(spec(9, 12));
    let b = Park::generate(ParkSpec {
        start_day: MARCH_2025 + 10 * 86_400,
        ..spec(9, 2)
    });
    for e in 0..20 {
        assert_eq!(a.day_values(e, 10), b.day_values(e, 0));
    }
    assert_eq!(a.day_values(0, 12), None);
    assert_eq!(a.day_values(20, 0), None);
}

#[test]
fn same_seed_same_uploads_different_seed_different() {
    let hashes = |seed| -> Vec<Hash> {
        Park::generate(spec(seed, 3))
            .uploads()
            .map(|u| u.record_hash())
            .collect()
    };
    let a = hashes(7);
    assert_eq!(a.len(), 60);
    assert_eq!(a, hashes(7));
    let b = hashes(8);
    assert_eq!(b.len(), 60);
    assert!(a.iter().zip(&b).all(|(x, y)| x != y));
}

#[test]
fn uploads_are_ordered_and_chained() {
    let park = Park::generate(spec(3, 5));
    let uploads = park.uploads();
    assert_eq!(uploads.len(), 100);
    let mut last: std::collections::BTreeMap<String, (u64, Hash)> = Default::default();
    for (k, u) in uploads.enumerate() {
        let day = (k / 20) as u32;
        let device = &park.devices[k % 20];
        assert_eq!(u.body.device, device.device);
        assert_eq!(u.body.seq, u64::from(day) + 1);
        assert!(u.verify_signature(&device.key.verifying_key()));
        match last.get(&u.body.device) {
            None => assert_eq!(u.body.prev, ZERO_HASH),
            Some(&(seq, hash)) => {
                assert_eq!(seq + 1, u.body.seq);
                assert_eq!(u.body.prev, hash);
            }
        }
        assert_eq!(u.body.channels.len(), device.meters.len());
        for (c, m) in u.body.channels.iter().zip(&device.meters) {
            assert_eq!(c.meter, m.meter);
            assert_eq!(c.start, park.day_start(day));
            assert_eq!(c.interval_s, 900);
            assert_eq!(c.values.len(), 96);
        }
        last.insert(u.body.device.clone(), (u.body.seq, u.record_hash()));
    }
    assert_eq!(last.len(), 20);
}

/// The uploads signed through the signing core (into a buffer, as firmware signs) are the
/// very records the owned encoder and `ed25519_dalek` make: the same bytes, signatures and
/// chain, so every park simulated before the core existed has the same log.
#[test]
fn uploads_signed_by_the_core_are_the_records_signed_directly() {
    let park = Park::generate(spec(3, 5));
    let mut prev = vec![ZERO_HASH; park.devices.len()];
    for (k, u) in park.uploads().enumerate() {
        let d = k % park.devices.len();
        let body = park
            .body(d, (k / park.devices.len()) as u32, prev[d])
            .unwrap();
        let direct = body.sign(&park.devices[d].key);
        assert_eq!(u, direct);
        assert_eq!(u.to_bytes(), direct.to_bytes());
        prev[d] = direct.record_hash();
    }
}

#[test]
fn uploads_pass_format_limits() {
    let park = Park::generate(spec(5, 1));
    for d in 0..park.devices.len() {
        let body = park.body(d, 0, ZERO_HASH).unwrap();
        body.check_limits().unwrap();
    }
    for r in park.registrations(MARCH_2025) {
        r.check().unwrap();
    }
}

#[test]
fn energy_balance_and_capacity_hold_in_every_interval() {
    let park = Park::generate(spec(11, 30));
    for day in 0..30 {
        for (e, device) in park.devices.iter().enumerate() {
            let v = park.day_values(e, day).unwrap();
            let body = park.body(e, day, ZERO_HASH).unwrap();
            for (c, m) in body.channels.iter().zip(&device.meters) {
                let cap = m.interval_cap();
                for &x in &c.values {
                    assert!(x >= 0, "{} negative {x}", m.meter);
                    assert!(x <= cap, "{} value {x} above cap {cap}", m.meter);
                }
            }
            let import = role_values(&park, e, &v, MeterRole::GridImport).unwrap();
            let zeros = vec![0; 96];
            let pv = role_values(&park, e, &v, MeterRole::PvGeneration).unwrap_or(zeros.clone());
            let export = role_values(&park, e, &v, MeterRole::GridExport).unwrap_or(zeros);
            for i in 0..96 {
                assert_eq!(v.site_load[i], import[i] + pv[i] - export[i]);
                assert!(import[i] == 0 || export[i] == 0);
                assert!(v.site_load[i] > 0, "a site always draws some base load");
            }
        }
    }
}

#[test]
fn pv_is_zero_at_night_and_positive_at_midday() {
    let park = Park::generate(spec(21, 30));
    let mut midday_days = 0;
    let mut pv_days = 0;
    for (e, ent) in park.enterprises.iter().enumerate() {
        if ent.pv.is_none() {
            continue;
        }
        for day in 0..30 {
            let v = park.day_values(e, day).unwrap();
            let pv = role_values(&park, e, &v, MeterRole::PvGeneration).unwrap();
            let mut midday = 0;
            for (i, &x) in pv.iter().enumerate() {
                let h = local_hour(v.start, i);
                if !(5..19).contains(&h) {
                    assert_eq!(x, 0, "PV at local hour {h}");
                }
                if (11..13).contains(&h) {
                    midday += x;
                }
            }
            pv_days += 1;
            if midday > 0 {
                midday_days += 1;
            }
        }
    }
    assert!(pv_days > 0);
    assert!(
        midday_days * 10 >= pv_days * 9,
        "{midday_days} of {pv_days}"
    );
}

#[test]
fn pv_follows_the_season() {
    // A clear-sky-free comparison: the same system's June output starts earlier and ends later
    // than its December output (first and last non-zero local hours over a month).
    let park_for = |y, m, d| {
        Park::generate(ParkSpec {
            start_day: days_from_civil(y, m, d) * 86_400,
            ..spec(4, 20)
        })
    };
    let e = park_for(2025, 6, 10)
        .enterprises
        .iter()
        .position(|e| e.pv.is_some())
        .unwrap();
    let span = |park: &Park| {
        let (mut first, mut last) = (24 * 60, 0);
        for day in 0..20 {
            let v = park.day_values(e, day).unwrap();
            let pv = role_values(park, e, &v, MeterRole::PvGeneration).unwrap();
            for (i, &x) in pv.iter().enumerate() {
                if x > 0 {
                    let minute = local_day_and_second(v.start + i as i64 * 900).1 / 60;
                    first = first.min(minute);
                    last = last.max(minute);
                }
            }
        }
        (first, last)
    };
    let (june_first, june_last) = span(&park_for(2025, 6, 10));
    let (dec_first, dec_last) = span(&park_for(2025, 12, 10));
    // Sunrise ~05:22 / sunset ~19:05 in June, ~06:50 / ~17:25 in December.
    assert!((300..=345).contains(&june_first), "June first {june_first}");
    assert!((1110..=1155).contains(&june_last), "June last {june_last}");
    assert!(
        (390..=420).contains(&dec_first),
        "December first {dec_first}"
    );
    assert!(
        (1020..=1050).contains(&dec_last),
        "December last {dec_last}"
    );
}

#[test]
fn annual_pv_yield_is_typical_for_fujian() {
    // Typical rooftop PV in Fujian yields about 1,100–1,200 kWh/kWp a year.
    let park = Park::generate(ParkSpec {
        start_day: days_from_civil(2025, 1, 1) * 86_400,
        enterprises: 3,
        ..spec(2025, 365)
    });
    let mut yields = Vec::new();
    for (e, ent) in park.enterprises.iter().enumerate() {
        let Some(pv) = &ent.pv else { continue };
        let wh: i64 = (0..365)
            .map(|d| {
                let v = park.day_values(e, d).unwrap();
                role_values(&park, e, &v, MeterRole::PvGeneration)
                    .unwrap()
                    .iter()
                    .sum::<i64>()
            })
            .sum();
        yields.push(wh as f64 / 1000.0 / pv.kwp);
    }
    assert!(!yields.is_empty());
    for y in yields {
        assert!((1050.0..=1250.0).contains(&y), "yield {y} kWh/kWp");
    }
}

#[test]
fn daytime_heavy_sites_use_more_by_day_than_at_night() {
    let park = Park::generate(spec(13, 14));
    let mut checked = 0;
    for (e, ent) in park.enterprises.iter().enumerate() {
        if !ent.load.shift.is_daytime_heavy() {
            continue;
        }
        let (mut day_sum, mut day_n, mut night_sum, mut night_n) = (0, 0, 0, 0);
        for d in 0..14 {
            let v = park.day_values(e, d).unwrap();
            for (i, &x) in v.site_load.iter().enumerate() {
                let t = v.start + i as i64 * 900;
                let (n, second) = local_day_and_second(t);
                if weekday(n) >= 5 {
                    continue;
                }
                let h = second / 3600;
                if (10..15).contains(&h) {
                    day_sum += x;
                    day_n += 1;
                } else if h < 5 {
                    night_sum += x;
                    night_n += 1;
                }
            }
        }
        let day_mean = day_sum as f64 / f64::from(day_n);
        let night_mean = night_sum as f64 / f64::from(night_n);
        assert!(
            day_mean > 2.0 * night_mean,
            "{}: day {day_mean} night {night_mean}",
            ent.id
        );
        checked += 1;
    }
    assert!(checked >= 5, "{checked} daytime-heavy sites");
}

#[test]
fn weekly_pattern() {
    // Four full weeks from Monday 2025-03-03: per local weekday, each site's mean daily energy.
    let park = Park::generate(spec(17, 29));
    for (e, ent) in park.enterprises.iter().enumerate() {
        let mut by_weekday = [0i64; 7];
        for d in 0..29 {
            let v = park.day_values(e, d).unwrap();
            for (i, &x) in v.site_load.iter().enumerate() {
                let (n, _) = local_day_and_second(v.start + i as i64 * 900);
                let first_local = days_from_civil(2025, 3, 3);
                if (first_local..first_local + 28).contains(&n) {
                    by_weekday[usize::from(weekday(n))] += x;
                }
            }
        }
        let weekday_mean = by_weekday[..5].iter().sum::<i64>() as f64 / 5.0;
        let saturday = by_weekday[5] as f64;
        let sunday = by_weekday[6] as f64;
        assert!(sunday < weekday_mean, "{}: {by_weekday:?}", ent.id);
        assert!(sunday <= saturday * 1.05, "{}: {by_weekday:?}", ent.id);
        if ent.load.shift.is_daytime_heavy() {
            assert!(sunday < 0.6 * weekday_mean, "{}: {by_weekday:?}", ent.id);
        }
    }
}

#[test]
fn spring_festival_is_quiet() {
    // 2026-02-17 is the Spring Festival; compare with the same weekdays three weeks later.
    let festival = days_from_civil(2026, 2, 16) * 86_400;
    let normal = days_from_civil(2026, 3, 9) * 86_400;
    let total = |start| {
        let park = Park::generate(ParkSpec {
            start_day: start,
            ..spec(5, 5)
        });
        (0..20)
            .flat_map(|e| (0..4).map(move |d| (e, d)))
            .map(|(e, d)| park.day_values(e, d).unwrap().site_load.iter().sum::<i64>())
            .sum::<i64>()
    };
    let (holiday, working) = (total(festival), total(normal));
    assert!(
        (holiday as f64) < 0.75 * working as f64,
        "{holiday} vs {working}"
    );
}

#[test]
fn gas_follows_production_and_diesel_runs_monthly() {
    let park = Park::generate(ParkSpec {
        enterprises: 40,
        ..spec(23, 31)
    });
    let mut gas_sites = 0;
    let mut diesel_sites = 0;
    for (e, ent) in park.enterprises.iter().enumerate() {
        let days: Vec<DayValues> = (0..31).map(|d| park.day_values(e, d).unwrap()).collect();
        if ent.gas.is_some() {
            gas_sites += 1;
            let total: i64 = days
                .iter()
                .map(|v| {
                    role_values(&park, e, v, MeterRole::NaturalGas)
                        .unwrap()
                        .iter()
                        .sum::<i64>()
                })
                .sum();
            assert!(total > 0);
        }
        if ent.diesel.is_some() {
            diesel_sites += 1;
            let running: usize = days
                .iter()
                .map(|v| {
                    role_values(&park, e, v, MeterRole::Diesel)
                        .unwrap()
                        .iter()
                        .filter(|&&x| x > 0)
                        .count()
                })
                .sum();
            // One 30-minute test in March 2025, possibly a second on 1–2 April.
            assert!((2..=4).contains(&running), "{}: {running} slots", ent.id);
        }
    }
    assert!(gas_sites >= 10, "{gas_sites} gas sites");
    assert!(diesel_sites >= 1, "{diesel_sites} diesel sites");
}

#[test]
fn empty_parks_have_no_uploads() {
    assert_eq!(Park::generate(spec(1, 0)).uploads().count(), 0);
    let none = Park::generate(ParkSpec {
        enterprises: 0,
        ..spec(1, 3)
    });
    assert_eq!(none.uploads().count(), 0);
    assert!(none.registrations(0).is_empty());
}

/// The registry and accepted records of a park server, in memory.
#[derive(Default)]
struct Server {
    keys: std::collections::BTreeMap<String, tanji_readings::VerifyingKey>,
    meters: std::collections::BTreeMap<(String, String), tanji_readings::MeterInfo>,
    accepted: std::collections::BTreeMap<(String, u64), (Hash, Hash)>,
    /// (meter, start, end, device, seq) of every accepted channel.
    spans: Vec<(String, i64, i64, String, u64)>,
}

impl tanji_readings::ValidationContext for Server {
    fn device_key(&self, device: &str) -> Option<tanji_readings::VerifyingKey> {
        self.keys.get(device).cloned()
    }
    fn meter(&self, device: &str, meter: &str) -> Option<tanji_readings::MeterInfo> {
        self.meters
            .get(&(device.to_string(), meter.to_string()))
            .cloned()
    }
    fn accepted(&self, device: &str, seq: u64) -> Option<(Hash, Hash)> {
        self.accepted.get(&(device.to_string(), seq)).copied()
    }
    fn last_seq(&self, device: &str) -> Option<u64> {
        self.accepted
            .range((device.to_string(), 0)..=(device.to_string(), u64::MAX))
            .next_back()
            .map(|((_, seq), _)| *seq)
    }
    fn overlapping(&self, meter: &str, start: i64, end: i64) -> Option<(String, u64)> {
        self.spans
            .iter()
            .find(|(m, s, e, _, _)| m == meter && *s < end && start < *e)
            .map(|(_, _, _, d, q)| (d.clone(), *q))
    }
}

#[test]
fn the_validator_accepts_every_upload() {
    let park = Park::generate(spec(29, 7));
    let mut server = Server::default();
    for r in park.registrations(MARCH_2025 - 86_400) {
        r.check().unwrap();
        server
            .keys
            .insert(r.device.clone(), r.verifying_key().unwrap());
        server
            .meters
            .insert((r.device.clone(), r.meter.clone()), r.meter_info().unwrap());
    }
    let policy = tanji_readings::Policy::at(park.day_start(7));
    for u in park.uploads() {
        let verdict =
            tanji_readings::validate(&u, &server, &policy).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verdict, tanji_readings::Verdict::Accept { issues: vec![] });
        server.accepted.insert(
            (u.body.device.clone(), u.body.seq),
            (u.record_hash(), u.body.prev),
        );
        for c in &u.body.channels {
            server.spans.push((
                c.meter.clone(),
                c.start,
                c.end().unwrap(),
                u.body.device.clone(),
                u.body.seq,
            ));
        }
    }
    assert_eq!(server.accepted.len(), 140);
}

#[test]
fn a_flat_line_fault_repeats_one_value_across_midnight_and_nothing_else() {
    let clean = Park::generate(spec(42, 3));
    let mut park = clean.clone();
    // From 22:00 UTC on day 0 to 03:00 UTC on day 1 (five hours, across midnight).
    let (from, to) = (MARCH_2025 + 22 * 3600, MARCH_2025 + 27 * 3600);
    park.faults.push(Fault::FlatLine {
        meter: "m-0002-grid".into(),
        start: from,
        end: to,
    });
    let stuck = clean.day_values(1, 0).unwrap().meters[0][88];
    for day in 0..3 {
        let (c, f) = (
            clean.day_values(1, day).unwrap(),
            park.day_values(1, day).unwrap(),
        );
        for (k, (cm, fm)) in c.meters.iter().zip(&f.meters).enumerate() {
            for i in 0..INTERVALS_PER_DAY {
                let t = c.start + i as i64 * 900;
                if k == 0 && t >= from && t < to {
                    assert_eq!(fm[i], stuck, "day {day} interval {i}");
                } else {
                    assert_eq!(fm[i], cm[i], "day {day} meter {k} interval {i}");
                }
            }
        }
        // Other enterprises are untouched.
        assert_eq!(clean.day_values(0, day), park.day_values(0, day));
    }
    // The faulty uploads are signed and chained like the others.
    let mut prev = ZERO_HASH;
    for u in park.uploads().filter(|u| u.body.device == "d-0002") {
        assert_eq!(u.body.prev, prev);
        assert!(u.verify_signature(&park.devices[1].key.verifying_key()));
        prev = u.record_hash();
    }
}

#[test]
fn the_demo_fault_is_the_last_local_night() {
    // Two days from 2025-03-03 UTC: the last night is 2025-03-05 00:00–05:00 at UTC+8.
    assert_eq!(
        Fault::demo(&spec(1, 2)),
        Fault::FlatLine {
            meter: "m-0001-grid".into(),
            start: MARCH_2025 + 86_400 + 16 * 3600,
            end: MARCH_2025 + 86_400 + 21 * 3600,
        }
    );
}
