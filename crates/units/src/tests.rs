#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

#[test]
fn carrier_codes_round_trip_and_are_stable() {
    let codes: Vec<&str> = Carrier::ALL.iter().map(|c| c.code()).collect();
    assert_eq!(
        codes,
        [
            "electricity_import",
            "electricity_export",
            "pv_generation",
            "natural_gas",
            "diesel",
            "gasoline",
            "coal",
            "lpg",
            "fuel_oil",
            "steam",
            "heat"
        ]
    );
    for c in Carrier::ALL {
        assert_eq!(c.code().parse::<Carrier>(), Ok(c));
        assert_eq!(c.to_string(), c.code());
    }
    let err = "Electricity_Import".parse::<Carrier>().unwrap_err();
    assert_eq!(err, UnknownCarrier("Electricity_Import".into()));
    assert!(err.to_string().contains("\"Electricity_Import\""));
}

#[test]
fn unit_codes_round_trip_and_are_case_sensitive() {
    for u in Unit::ALL {
        assert_eq!(u.code().parse::<Unit>(), Ok(u));
    }
    assert_eq!("m3".parse::<Unit>(), Ok(Unit::M3));
    assert_eq!("kWh".parse::<Unit>(), Ok(Unit::KWh));
    let err = "KWH".parse::<Unit>().unwrap_err();
    assert_eq!(err.0, "KWH");
    assert!(err.to_string().contains("\"KWH\""));
    assert!("".parse::<Unit>().is_err());
}

#[test]
fn dimensions_and_base_factors() {
    assert_eq!(Unit::MJ.dimension(), Dimension::Energy);
    assert_eq!(Unit::M3.dimension(), Dimension::Volume);
    assert_eq!(Unit::T.dimension(), Dimension::Mass);
    assert_eq!(Unit::MJ.to_base(), Ratio { num: 2500, den: 9 });
    assert_eq!(
        Unit::GJ.to_base(),
        Ratio {
            num: 2_500_000,
            den: 9
        }
    );
    assert_eq!(
        Unit::MWh.to_base(),
        Ratio {
            num: 1_000_000,
            den: 1
        }
    );
    for u in Unit::ALL {
        assert_eq!(u.dimension().base().to_base(), Ratio { num: 1, den: 1 });
        assert_eq!(u.factor_to(u), Some(Ratio { num: 1, den: 1 }));
    }
}

#[test]
fn factors_between_units_are_exact() {
    // 1 kWh = 3.6 MJ = 18/5 MJ
    assert_eq!(
        Unit::KWh.factor_to(Unit::MJ),
        Some(Ratio { num: 18, den: 5 })
    );
    // 1 GJ = 1000/3.6 kWh = 2500/9 kWh
    assert_eq!(
        Unit::GJ.factor_to(Unit::KWh),
        Some(Ratio { num: 2500, den: 9 })
    );
    assert_eq!(
        Unit::MWh.factor_to(Unit::GJ),
        Some(Ratio { num: 18, den: 5 })
    );
    assert_eq!(
        Unit::T.factor_to(Unit::Kg),
        Some(Ratio { num: 1000, den: 1 })
    );
    assert_eq!(
        Unit::L.factor_to(Unit::M3),
        Some(Ratio { num: 1, den: 1000 })
    );
    assert_eq!(Unit::KWh.factor_to(Unit::M3), None);
    assert_eq!(Unit::Kg.factor_to(Unit::L), None);
}

#[test]
fn fixed_conversions_are_exact_or_refused() {
    let mj = |s: &str| s.parse::<Fixed>().unwrap();
    // 1.8 MJ = 0.5 kWh = 500 Wh exactly
    assert_eq!(
        mj("1.8").convert_exact(Unit::MJ, Unit::Wh, 0),
        Some(Fixed::from_int(500))
    );
    // 1 MJ = 277.777… Wh: not representable
    assert_eq!(mj("1").convert_exact(Unit::MJ, Unit::Wh, 6), None);
    // 12.345 kWh = 44.442 MJ
    assert_eq!(
        mj("12.345").convert_exact(Unit::KWh, Unit::MJ, 3),
        Some(mj("44.442"))
    );
    assert_eq!(mj("1").convert_exact(Unit::KWh, Unit::Kg, 0), None);
}

#[test]
fn accepts_table() {
    use Carrier::*;
    use Unit::*;
    let table: [(Carrier, &[Unit]); 11] = [
        (ElectricityImport, &[Wh, KWh, MWh]),
        (ElectricityExport, &[Wh, KWh, MWh]),
        (PvGeneration, &[Wh, KWh, MWh]),
        (NaturalGas, &[M3, MJ, GJ, KWh]),
        (Diesel, &[L, Kg, T]),
        (Gasoline, &[L, Kg, T]),
        (Coal, &[Kg, T]),
        (Lpg, &[Kg, T, M3]),
        (FuelOil, &[L, Kg, T]),
        (Steam, &[T, Kg, GJ, MJ]),
        (Heat, &[GJ, MJ, KWh, MWh]),
    ];
    for (c, units) in table {
        for u in Unit::ALL {
            assert_eq!(c.accepts(u), units.contains(&u), "{c} {u}");
        }
    }
}

#[test]
fn fixed_display() {
    assert_eq!(Fixed::new(12_345, 3).unwrap().to_string(), "12.345");
    assert_eq!(Fixed::new(-3_200, 3).unwrap().to_string(), "-3.200");
    assert_eq!(Fixed::new(-5, 2).unwrap().to_string(), "-0.05");
    assert_eq!(Fixed::new(7, 0).unwrap().to_string(), "7");
    assert_eq!(Fixed::new(0, 6).unwrap().to_string(), "0.000000");
    assert_eq!(
        Fixed::new(i64::MIN, 6).unwrap().to_string(),
        "-9223372036854.775808"
    );
    assert_eq!(Fixed::new(1, 7), Err(FixedError::TooManyDecimals(7)));
}

#[test]
fn fixed_parse() {
    let f = "12.345".parse::<Fixed>().unwrap();
    assert_eq!((f.raw(), f.decimals()), (12_345, 3));
    let f = "-0.05".parse::<Fixed>().unwrap();
    assert_eq!((f.raw(), f.decimals()), (-5, 2));
    let f = "1.50".parse::<Fixed>().unwrap();
    assert_eq!((f.raw(), f.decimals()), (150, 2));
    let f = "-9223372036854.775808".parse::<Fixed>().unwrap();
    assert_eq!(f.raw(), i64::MIN);
    assert_eq!(
        "9223372036854.775808".parse::<Fixed>(),
        Err(FixedError::Overflow)
    );
    for bad in [
        "",
        "-",
        ".5",
        "5.",
        "+1",
        "1e3",
        "1.2345678",
        " 1",
        "1,5",
        "--1",
        "1.-2",
    ] {
        assert!(bad.parse::<Fixed>().is_err(), "{bad:?}");
    }
}

#[test]
fn fixed_compares_across_decimals() {
    let a = Fixed::new(150, 2).unwrap();
    let b = Fixed::new(15, 1).unwrap();
    let c = Fixed::new(1_501, 3).unwrap();
    assert_eq!(a, b);
    assert!(c > a);
    assert!(Fixed::new(-1, 6).unwrap() < Fixed::from_int(0));
    assert!(Fixed::new(i64::MAX, 0).unwrap() > Fixed::new(i64::MAX, 6).unwrap());
}

#[test]
fn fixed_arithmetic() {
    let a: Fixed = "1.5".parse().unwrap();
    let b: Fixed = "0.25".parse().unwrap();
    assert_eq!(a.checked_add(b).unwrap().to_string(), "1.75");
    assert_eq!(b.checked_sub(a).unwrap().to_string(), "-1.25");
    assert_eq!(a.checked_mul_int(4).unwrap().to_string(), "6.0");
    assert_eq!(
        Fixed::from_int(i64::MAX).checked_add(Fixed::from_int(1)),
        None
    );
    assert_eq!(a.rescale(3).unwrap().raw(), 1_500);
    assert_eq!(b.rescale(1), None);
    assert_eq!(Fixed::from_int(i64::MAX).rescale(1), None);
}

#[test]
fn intervals() {
    assert_eq!(ALLOWED_INTERVALS, [60, 300, 600, 900, 1800, 3600]);
    // 2026-11-01T00:00:00Z and 00:15
    assert!(is_aligned(1_793_491_200, 900));
    assert!(is_aligned(1_793_491_200 + 900, 900));
    assert!(!is_aligned(1_793_491_200 + 60, 900));
    assert!(is_aligned(1_793_491_200 + 60, 60));
    assert!(is_aligned(-3600, 3600));
    assert!(!is_aligned(-1, 60));
    assert!(!is_aligned(0, 0));
    assert!(is_allowed_interval(900));
    assert!(!is_allowed_interval(120));
}

proptest! {
    #[test]
    fn fixed_display_parse_round_trip(raw in any::<i64>(), d in 0u8..=6) {
        let f = Fixed::new(raw, d).unwrap();
        let back: Fixed = f.to_string().parse().unwrap();
        prop_assert_eq!((back.raw(), back.decimals()), (raw, d));
    }

    #[test]
    fn fixed_order_matches_rationals(a in any::<i64>(), da in 0u8..=6, b in any::<i64>(), db in 0u8..=6) {
        let x = Fixed::new(a, da).unwrap();
        let y = Fixed::new(b, db).unwrap();
        let lhs = i128::from(a) * i128::from(pow10(db));
        let rhs = i128::from(b) * i128::from(pow10(da));
        prop_assert_eq!(x.cmp(&y), lhs.cmp(&rhs));
    }

    #[test]
    fn conversion_round_trip_when_exact(raw in -1_000_000_000i64..1_000_000_000, from in 0usize..9, to in 0usize..9) {
        let (from, to) = (Unit::ALL[from], Unit::ALL[to]);
        let x = Fixed::new(raw, 3).unwrap();
        if let Some(y) = x.convert_exact(from, to, 6) {
            prop_assert_eq!(y.convert_exact(to, from, 6), Some(x));
        }
    }
}

#[test]
fn serde_uses_codes() {
    assert_eq!(
        serde_json::to_string(&Carrier::NaturalGas).unwrap(),
        "\"natural_gas\""
    );
    assert_eq!(serde_json::from_str::<Unit>("\"m3\"").unwrap(), Unit::M3);
    let err = serde_json::from_str::<Unit>("\"M3\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown unit \"M3\""), "{err}");
}
