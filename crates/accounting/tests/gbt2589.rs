//! The standard-coal coefficients in the code equal the reference table they cite,
//! `docs/reference/gbt2589.md` (GB/T 2589 Appendix A), row by row.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tanji_accounting::energy::COEFFICIENTS;

#[test]
fn every_coefficient_equals_its_row_in_the_reference_table() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/reference/gbt2589.md"
    );
    let text = std::fs::read_to_string(path).expect("docs/reference/gbt2589.md");
    let start = text.find("<!-- gbt2589:begin -->").expect("begin marker");
    let end = text.find("<!-- gbt2589:end -->").expect("end marker");
    let rows: Vec<Vec<String>> = text[start..end]
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| id "))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), COEFFICIENTS.len(), "one table row per constant");
    for (row, c) in rows.iter().zip(COEFFICIENTS.iter()) {
        assert_eq!(row[0], c.id);
        assert_eq!(row[1], c.carrier.code(), "{}", c.id);
        assert_eq!(row[2], c.name_zh, "{}", c.id);
        let value: f64 = row[4].parse().unwrap();
        assert_eq!(value, c.kgce, "{}", c.id);
        assert_eq!(row[5], format!("kgce/{}", c.per), "{}", c.id);
        assert_eq!(row[7], c.checked, "{}", c.id);
    }
}

#[test]
fn each_coefficient_is_its_heating_value_over_7000_kcal() {
    // The table's coefficients are ratios of heating values in kcal to 7 000 kcal/kgce, rounded
    // to 4 decimals (its kJ figures are the kcal × 4.1816 of the 2008 edition).
    for (id, kcal) in [
        ("raw_coal", 5_000.0),
        ("washed_coal", 6_300.0),
        ("crude_oil", 10_000.0),
        ("fuel_oil", 10_000.0),
        ("gasoline", 10_300.0),
        ("diesel", 10_200.0),
        ("lpg", 12_000.0),
        ("natural_gas_oil_field", 9_310.0),
        ("natural_gas_gas_field", 8_500.0),
        ("steam_low_pressure", 900.0), // 900 Mcal/t = 900 kcal/kg
        ("electricity_equivalent", 860.0),
    ] {
        let c = tanji_accounting::energy::coefficient(id).unwrap();
        let ratio: f64 = kcal / 7_000.0;
        assert!(
            (ratio - c.kgce).abs() <= 0.00005 + 1e-12,
            "{id}: {ratio} vs {}",
            c.kgce
        );
    }
    // Heat: 1 MJ = 1 000 kJ ÷ 29 307 kJ/kgce = 0.034121 kgce → 0.03412.
    let heat = tanji_accounting::energy::coefficient("heat").unwrap();
    assert!((1_000.0 / tanji_accounting::energy::KJ_PER_KGCE - heat.kgce).abs() < 5e-6);
}
