//! Products and CBAM, worked by hand. Each test names its source or rationale.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use tanji_accounting::cbam::*;
use tanji_accounting::*;
use tanji_units::{Carrier, Unit};

/// 2022-01-01T00:00:00Z.
const Y2022: i64 = 1_640_995_200;
const H: i64 = 3600;

fn series(meter: &str, carrier: Carrier, unit: Unit, v: &[i64]) -> IntervalSeries {
    IntervalSeries {
        meter: meter.to_owned(),
        carrier,
        unit,
        fuel: None,
        start: Y2022,
        interval_s: 3600,
        values: v.iter().map(|&x| Some(x)).collect(),
    }
}

fn inputs(hours: i64, series: Vec<IntervalSeries>) -> Inputs {
    Inputs {
        enterprise: "e-cement-steel".to_owned(),
        period_start: Y2022,
        period_end: Y2022 + hours * H,
        series,
        certificates: vec![],
        purchases: vec![],
        output: None,
    }
}

fn record(
    product: &str,
    cn: &str,
    kg: i64,
    line: &str,
    from_h: i64,
    to_h: i64,
) -> ProductionRecord {
    ProductionRecord {
        product: product.to_owned(),
        cn_code: cn.to_owned(),
        kg,
        line: Some(line.to_owned()),
        start: Y2022 + from_h * H,
        end: Y2022 + to_h * H,
    }
}

/// China's 2022 national grid average, 0.5366 tCO2/MWh (MEE/NBS, docs/reference/factors.md):
/// a public grid factor of the country of origin, as Annex IV allows for the default.
fn cn_default() -> NamedFactor {
    NamedFactor {
        value: 536.6,
        source: "MEE/NBS 2022 national grid average 0.5366 tCO2/MWh (reference/factors.md)"
            .to_owned(),
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(m, l)| (m.to_string(), l.to_string()))
        .collect()
}

/// One enterprise, two lines, two hours at 400 then 600 g/kWh:
/// - cement line: kiln import 500 kWh then 1 500 kWh; kiln gas 10 000 Nm3 in hour 0;
///   calcination 36.75 t CO2 (70 t clinker × 525 kg CO2/t clinker, the WBCSD CSI Cement CO2
///   Protocol default for calcination; 100 t cement at a clinker ratio of 0.7);
///   100 t of Portland cement, CN 2523 29 00.
/// - steel line: mill import 1 200 kWh in hour 0; furnace gas 5 000 Nm3 in hour 0;
///   50 t of rebar, CN 7214 20 00.
fn plant() -> (Inputs, TableFactors, ProductInputs) {
    let inp = inputs(
        2,
        vec![
            series(
                "elec-kiln",
                Carrier::ElectricityImport,
                Unit::KWh,
                &[500_000, 1_500_000],
            ),
            series(
                "elec-mill",
                Carrier::ElectricityImport,
                Unit::KWh,
                &[1_200_000, 0],
            ),
            series("gas-kiln", Carrier::NaturalGas, Unit::M3, &[10_000_000, 0]),
            series(
                "gas-furnace",
                Carrier::NaturalGas,
                Unit::M3,
                &[5_000_000, 0],
            ),
        ],
    );
    let f = TableFactors::regular("two-hours", Y2022, H, &[400.0, 600.0]);
    let pi = ProductInputs {
        production: vec![
            record("PO 42.5 cement", "2523 29 00", 100_000, "cement", 0, 2),
            record("rebar HRB400", "7214 20 00", 50_000, "steel", 0, 2),
        ],
        meter_lines: map(&[
            ("elec-kiln", "cement"),
            ("gas-kiln", "cement"),
            ("elec-mill", "steel"),
            ("gas-furnace", "steel"),
        ]),
        process: vec![ProcessEmission {
            id: "calcination".to_owned(),
            line: Some("cement".to_owned()),
            start: Y2022,
            end: Y2022 + 2 * H,
            g: 36_750_000,
            source: "70 t clinker × 525 kg CO2/t (WBCSD CSI Cement CO2 Protocol default)"
                .to_owned(),
        }],
        country_default: cn_default(),
        actual_electricity: None,
        cost: None,
        import_year: None,
        benchmarks: BTreeMap::new(),
        importer_annual_t: None,
    };
    (inp, f, pi)
}

fn product<'a>(r: &'a ProductReport, name: &str) -> &'a ProductResult {
    r.products.iter().find(|p| p.product == name).unwrap()
}

// Natural gas (NDRC 2015 default table, as in worked_examples.rs): EF 0.055539 t/GJ,
// NCV 389.31 GJ/10^4 Nm3. 10 000 Nm3 → 389.31 GJ × 0.055539 = 21.62188809 t;
// 5 000 Nm3 → 10.810944045 t.
// Cement (by line): direct = 21 621 888.09 + 36 750 000 = 58 371 888 g;
//   electricity 2 000 kWh: precise 500 × 0.4 + 1 500 × 0.6 = 1 100 kg (550 g/kWh);
//   default 2 000 × 536.6 = 1 073 200 g. Cement is not in Annex II: indirect counts at the
//   default: counted 59 445 088 g, SEE 0.59445088 t/t. Footprint 59 471 888 g (+26 800 g).
// Steel (by line): direct 10 810 944 g; electricity 1 200 kWh: precise 480 000 g,
//   default 643 920 g, not counted (Annex II): counted = SEE × 50 t = 10 810 944 g,
//   SEE 0.21621888 t/t. Footprint 11 290 944 g.
#[test]
fn cement_counts_indirect_steel_does_not() {
    let (inp, f, pi) = plant();
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    assert_eq!(r.allocation, Allocation::ProductionLine);
    assert_eq!(r.method, CBAM_METHOD);
    assert_eq!(r.totals.direct_g, 21_621_888 + 10_810_944 + 36_750_000);
    assert_eq!(r.totals.electricity_wh, 3_200_000);
    assert_eq!(r.totals.electricity_precise_g, 1_580_000);
    assert!(r.notes.is_empty(), "{:?}", r.notes);

    let c = product(&r, "PO 42.5 cement");
    assert!(c.cn.cbam_good && c.cn.indirect_emissions_count);
    assert_eq!(c.cn.category, Some(Category::Cement));
    assert_eq!(c.kg, 100_000);
    assert_eq!(c.direct_g, 58_371_888);
    assert_eq!(c.electricity.wh, 2_000_000);
    assert_eq!(c.electricity.precise_g, 1_100_000);
    assert!((c.electricity.precise_g_per_kwh.unwrap() - 550.0).abs() < 1e-9);
    assert_eq!(c.electricity.default_g, 1_073_200);
    assert_eq!(c.electricity.cbam_basis, FactorBasis::CountryDefault);
    assert_eq!(c.electricity.cbam_g, 1_073_200);
    assert!(c
        .electricity
        .why
        .contains("No direct technical link or power purchase agreement"));
    let cb = c.cbam.as_ref().unwrap();
    assert!(cb.indirect_counted);
    assert_eq!(cb.indirect_g, 1_073_200);
    assert_eq!(cb.counted_g, 59_445_088);
    assert!((cb.see_direct_t_per_t - 0.58371888).abs() < 1e-12);
    assert!((cb.see_indirect_t_per_t - 0.010732).abs() < 1e-12);
    assert!((cb.see_t_per_t - 0.59445088).abs() < 1e-12);
    assert_eq!(c.footprint.total_g, 59_471_888);
    assert_eq!(c.footprint.difference_g, Some(26_800));
    assert!(
        c.footprint.basis.starts_with("precise:"),
        "{}",
        c.footprint.basis
    );
    assert!(
        c.footprint.basis.contains("Not the CBAM figure"),
        "{}",
        c.footprint.basis
    );
    assert_eq!(
        c.allocation,
        AllocationParts {
            line_g: 59_471_888,
            line_idle_g: 0,
            shared_g: 0
        }
    );

    let s = product(&r, "rebar HRB400");
    assert!(s.cn.cbam_good && !s.cn.indirect_emissions_count);
    assert_eq!(s.cn.category, Some(Category::IronAndSteel));
    assert_eq!(s.direct_g, 10_810_944);
    assert_eq!(s.electricity.precise_g, 480_000);
    assert_eq!(s.electricity.default_g, 643_920);
    let sb = s.cbam.as_ref().unwrap();
    assert!(!sb.indirect_counted);
    assert_eq!(sb.indirect_g, 0);
    assert_eq!(sb.counted_g, 10_810_944);
    assert!((sb.see_t_per_t - 0.21621888).abs() < 1e-12);
    assert!((sb.see_indirect_t_per_t - 0.0128784).abs() < 1e-12);
    assert!(sb.rule.contains("Annex II"), "{}", sb.rule);
    assert!(
        s.electricity.why.contains("do not count (Annex II)"),
        "{}",
        s.electricity.why
    );
    assert_eq!(s.footprint.total_g, 11_290_944);
    assert_eq!(s.footprint.difference_g, Some(480_000));

    // Everything is allocated: products sum to the totals (to rounding, 1 g per product).
    let sum: i64 = r.products.iter().map(|p| p.footprint.total_g).sum();
    let total = r.totals.direct_g + r.totals.electricity_precise_g;
    assert!((sum - total).abs() <= 2, "{sum} vs {total}");
    serde_json::to_string(&r).unwrap();
}

// Annex IV of Regulation (EU) 2023/956 (EC CBAM Q&A): an actual electricity factor only with
// a direct technical link or a PPA. A wind PPA for 1 600 kWh (half the 3 200 kWh grid import;
// wind direct factor 0, reference/factors.md) halves the default-factor share:
// cement 2 000 kWh → 1 000 kWh × 0 + 1 000 kWh × 536.6 = 536 600 g counted instead of
// 1 073 200 g; counted 58 908 488 g. Steel's counted figure does not move (direct only).
#[test]
fn ppa_changes_the_factor_cbam_allows() {
    let (inp, f, mut pi) = plant();
    pi.actual_electricity = Some(ActualElectricity {
        link: SupplyLink::PowerPurchaseAgreement,
        id: "PPA-2022-017".to_owned(),
        generator: "Putian offshore wind farm".to_owned(),
        wh: 1_600_000,
        factor: NamedFactor {
            value: 0.0,
            source: "wind, direct emissions 0 g/kWh (reference/factors.md)".to_owned(),
        },
    });
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    assert_eq!(r.actual_coverage, Some(0.5));
    let c = product(&r, "PO 42.5 cement");
    assert_eq!(c.electricity.cbam_basis, FactorBasis::Actual);
    assert_eq!(c.electricity.actual_covered_wh, Some(1_000_000));
    assert_eq!(c.electricity.actual_g, Some(536_600));
    assert_eq!(c.electricity.default_g, 1_073_200);
    assert_eq!(c.electricity.precise_g, 1_100_000);
    assert!(
        c.electricity
            .why
            .contains("power purchase agreement (PPA-2022-017"),
        "{}",
        c.electricity.why
    );
    assert_eq!(c.cbam.as_ref().unwrap().counted_g, 58_908_488);

    let s = product(&r, "rebar HRB400");
    assert_eq!(s.electricity.actual_g, Some(321_960)); // 600 kWh × 536.6
    assert_eq!(s.cbam.as_ref().unwrap().counted_g, 10_810_944);

    // The PPA moves the cement's counted figure by 536 600 − 1 073 200 = −536 600 g against
    // the default; the hourly factor moves it by nothing; steel's not at all (Annex II).
    let e = &c.cbam.as_ref().unwrap().hourly_effect;
    assert_eq!((e.hourly_g, e.link_g), (0, -536_600));
    assert_eq!(e.precise_vs_cbam_g, 1_100_000 - 536_600);
    assert!(
        e.text.contains("-0.537 t against the default"),
        "{}",
        e.text
    );
    assert_eq!(s.cbam.as_ref().unwrap().hourly_effect.link_g, 0);

    // Without the PPA the cement figure is the default one (previous test): 59 445 088 g.
    let (inp, f, pi) = plant();
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    assert_eq!(
        product(&r, "PO 42.5 cement")
            .cbam
            .as_ref()
            .unwrap()
            .counted_g,
        59_445_088
    );
}

// Same plant, no meter→line map: everything by mass share over the period (cement 100 t,
// steel 50 t → 2/3 and 1/3). Direct 69 182 832.135 g → 46 121 888.09 and 23 060 944.045;
// electricity 3 200 kWh → 2 133 333.3 and 1 066 666.7 Wh; precise 1 580 000 g →
// 1 053 333.3 and 526 666.7 g; default 2 133 333.3 × 0.5366 = 1 144 746.7 g.
#[test]
fn allocation_by_mass_share_without_a_map() {
    let (inp, f, mut pi) = plant();
    pi.meter_lines.clear();
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    assert_eq!(r.allocation, Allocation::MassShare);
    assert!(r.allocation_reason.starts_with("no meter→line map"));
    let c = product(&r, "PO 42.5 cement");
    assert_eq!(c.direct_g, 46_121_888);
    assert_eq!(c.electricity.wh, 2_133_333);
    assert_eq!(c.electricity.precise_g, 1_053_333);
    assert_eq!(c.electricity.default_g, 1_144_747);
    assert_eq!(c.allocation.shared_g, 46_121_888 + 1_053_333);
    let s = product(&r, "rebar HRB400");
    assert_eq!(s.direct_g, 23_060_944);
    assert_eq!(s.electricity.wh, 1_066_667);
    assert_eq!(s.electricity.precise_g, 526_667);
    assert!(s.footprint.basis.contains("by mass share over the period"));
}

// Allocation by line and interval. One press line, three hours at 400, 600, 500 g/kWh;
// 1 000, 1 000, 500 kWh. Bolts (10 t, CN 7318 15 42) are pressed in hour 0, gear housings
// (30 t, CN 8483 40 00, not a CBAM good) in hour 1; hour 2 is idle. An office meter with no
// line draws 300 kWh in hour 0.
//   bolts:    hour 0 400 000 g; idle hour 250 000 g × 10/40 = 62 500 g; office 120 000 × 1/4 = 30 000 g
//   housings: hour 1 600 000 g; idle 187 500 g; office 90 000 g
// By mass alone the bolts would get 1/4 of (400 000 + 600 000 + 250 000 + 120 000) g
// = 342 500 g, not 492 500 g.
#[test]
fn allocation_by_line_and_interval() {
    let inp = inputs(
        3,
        vec![
            series(
                "press",
                Carrier::ElectricityImport,
                Unit::KWh,
                &[1_000_000, 1_000_000, 500_000],
            ),
            series(
                "office",
                Carrier::ElectricityImport,
                Unit::KWh,
                &[300_000, 0, 0],
            ),
        ],
    );
    let f = TableFactors::regular("three-hours", Y2022, H, &[400.0, 600.0, 500.0]);
    let pi = ProductInputs {
        production: vec![
            record("bolts M12", "7318 15 42", 10_000, "press", 0, 1),
            record("gear housing", "8483.40.00", 30_000, "press", 1, 2),
        ],
        meter_lines: map(&[("press", "press")]),
        process: vec![],
        country_default: cn_default(),
        actual_electricity: None,
        cost: None,
        import_year: None,
        benchmarks: BTreeMap::new(),
        importer_annual_t: None,
    };
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    let b = product(&r, "bolts M12");
    assert_eq!(
        b.allocation,
        AllocationParts {
            line_g: 400_000,
            line_idle_g: 62_500,
            shared_g: 30_000
        }
    );
    assert_eq!(b.electricity.precise_g, 492_500);
    assert_eq!(b.electricity.wh, 1_000_000 + 125_000 + 75_000);
    assert_eq!(b.lines, vec!["press".to_owned()]);
    let bc = b.cbam.as_ref().unwrap();
    assert!(!bc.indirect_counted); // iron and steel: Annex II
    assert_eq!(bc.counted_g, 0);
    let h = product(&r, "gear housing");
    assert_eq!(h.electricity.precise_g, 877_500);
    assert!(!h.cn.cbam_good);
    assert!(h.cbam.is_none());
    assert!(h.footprint.cbam_counted_g.is_none());
    assert_eq!(h.footprint.total_g, 877_500);
    assert!(
        h.cn.explanation.contains("not listed in Annex I"),
        "{}",
        h.cn.explanation
    );

    // The same data by mass share: bolts get a quarter of everything.
    let mut pi = pi;
    pi.meter_lines.clear();
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    assert_eq!(product(&r, "bolts M12").electricity.precise_g, 342_500);
}

// The brief's worked example: 1 000 t × (80 EUR/t − 60 CNY/t ÷ 7.8 CNY/EUR)
// = 1 000 × 72.307692 = 72 307.69 EUR = 1 000 × (80 × 7.8 − 60) CNY = 564 000.00 CNY.
// Prices are illustrative (EU ETS traded roughly 60–100 EUR/t in 2022–2025); the formula is
// Article 9 of Regulation (EU) 2023/956 (deduction of the carbon price paid at origin).
#[test]
fn certificate_cost_by_hand() {
    let inputs = CostInputs {
        ets_eur_per_t: 80.0,
        ets_source: "illustrative EU ETS price, EUR/t".to_owned(),
        cny_per_eur: 7.8,
        exchange_source: "illustrative CNY/EUR".to_owned(),
        origin_cny_per_t: 60.0,
        origin_source: "illustrative China national ETS effective price, CNY/t".to_owned(),
    };
    let c = certificate_cost(1_000_000_000, &inputs).unwrap();
    assert_eq!(c.counted_t, 1000.0);
    assert!((c.origin_eur_per_t - 7.692_307_692).abs() < 1e-8);
    assert!((c.net_eur_per_t - 72.307_692_307).abs() < 1e-8);
    assert_eq!(c.cost_eur, 72_307.69);
    assert_eq!(c.cost_cny, 564_000.0);
    assert!(!c.capped_at_zero);
    assert!(
        c.formula.contains("= 72307.69 EUR = 564000.00 CNY"),
        "{}",
        c.formula
    );

    // An origin price above the ETS price never makes the cost negative:
    // 700 CNY/t ÷ 7.8 = 89.74 EUR/t > 80 EUR/t.
    let high = CostInputs {
        origin_cny_per_t: 700.0,
        ..inputs.clone()
    };
    let c = certificate_cost(1_000_000_000, &high).unwrap();
    assert_eq!((c.cost_eur, c.cost_cny, c.capped_at_zero), (0.0, 0.0, true));

    // Bad inputs name the value.
    let bad = CostInputs {
        cny_per_eur: 0.0,
        ..inputs
    };
    let e = certificate_cost(1, &bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "exchange rate (CNY/EUR) 0 is not allowed: it must be a finite number above zero"
    );
}

// Per product: cement counted 59 445 088 g at 80 EUR/t, origin 0 (rationale: the test
// assumes the installation's emissions bear no carbon price at origin):
// 59.445088 t × 80 = 4 755.61 EUR; × 7.8 = 37 093.73 CNY. Steel: 10.810944 × 80 = 864.88 EUR.
#[test]
fn cost_per_product() {
    let (inp, f, mut pi) = plant();
    pi.cost = Some(CostInputs {
        ets_eur_per_t: 80.0,
        ets_source: "illustrative".to_owned(),
        cny_per_eur: 7.8,
        exchange_source: "illustrative".to_owned(),
        origin_cny_per_t: 0.0,
        origin_source: "assumed not covered by a carbon price at origin".to_owned(),
    });
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    let c = product(&r, "PO 42.5 cement")
        .cbam
        .as_ref()
        .unwrap()
        .cost
        .clone()
        .unwrap();
    assert_eq!((c.cost_eur, c.cost_cny), (4_755.61, 37_093.73));
    let s = product(&r, "rebar HRB400")
        .cbam
        .as_ref()
        .unwrap()
        .cost
        .clone()
        .unwrap();
    assert_eq!(s.cost_eur, 864.88);
}

// Annex I of Regulation (EU) 2023/956: chapter/heading prefixes with Annex I's own exceptions.
#[test]
fn classify_cn_codes() {
    let c = classify("2523 29 00").unwrap();
    assert_eq!(
        (c.cbam_good, c.category, c.indirect_emissions_count),
        (true, Some(Category::Cement), true)
    );
    let c = classify("31021010").unwrap(); // urea
    assert_eq!(
        (c.cbam_good, c.category, c.indirect_emissions_count),
        (true, Some(Category::Fertilisers), true)
    );
    let c = classify("2814 10 00").unwrap(); // anhydrous ammonia
    assert_eq!(c.category, Some(Category::Fertilisers));
    let c = classify("7601 10 00").unwrap();
    assert_eq!(
        (c.cbam_good, c.category, c.indirect_emissions_count),
        (true, Some(Category::Aluminium), false)
    );
    let c = classify("2804.10.00").unwrap();
    assert_eq!(
        (c.cbam_good, c.category, c.indirect_emissions_count),
        (true, Some(Category::Hydrogen), false)
    );
    let c = classify("7202 11 20").unwrap(); // ferro-manganese: covered
    assert_eq!(
        (c.cbam_good, c.category),
        (true, Some(Category::IronAndSteel))
    );
    let c = classify("7202 21 00").unwrap(); // ferro-silicon: excepted
    assert!(!c.cbam_good);
    assert_eq!(c.category, Some(Category::IronAndSteel));
    assert!(c.explanation.contains("excepted"), "{}", c.explanation);
    assert!(!classify("7204 49 00").unwrap().cbam_good); // scrap
    assert!(!classify("3105 60 00").unwrap().cbam_good); // P+K fertiliser
    assert!(classify("3105 20 10").unwrap().cbam_good); // NPK
    assert!(!classify("7615 10 10").unwrap().cbam_good); // aluminium kitchenware: not listed
    assert!(classify("7318 15 42 90").unwrap().cbam_good); // 10-digit TARIC
                                                           // Unknown CN code: not a CBAM good, explained.
    let c = classify("8501 10 10").unwrap(); // small electric motors
    assert!(!c.cbam_good && c.category.is_none() && c.annex_i_entry.is_none());
    assert!(
        c.explanation
            .starts_with("CN 8501 10 10 is not listed in Annex I"),
        "{}",
        c.explanation
    );
    // Malformed codes are errors that name the code.
    let e = classify("2523").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("CN code \"2523\" is not a CN code: it has 4 digits"),
        "{e}"
    );
    let e = classify("25A3 2900").unwrap_err();
    assert!(e.to_string().contains("'A' is not a digit"), "{e}");
}

#[test]
fn bad_production_input_is_refused_with_the_value() {
    let (inp, f, mut pi) = plant();
    pi.production.push(record(
        "PO 42.5 cement",
        "2523 10 00",
        1_000,
        "cement",
        0,
        1,
    ));
    let e = products(&inp, &f, &Options::default(), &pi).unwrap_err();
    assert_eq!(
        e.to_string(),
        "product \"PO 42.5 cement\" has CN code 2523 29 00 in one record and 2523 10 00 in \
         record 2; a product has one CN code: name the variants as separate products"
    );
    let (inp, f, mut pi) = plant();
    pi.production[1].kg = -5;
    let e = products(&inp, &f, &Options::default(), &pi).unwrap_err();
    assert_eq!(
        e.to_string(),
        "production record 1 (product \"rebar HRB400\"): mass -5 kg is negative"
    );
    let (inp, f, mut pi) = plant();
    for r in &mut pi.production {
        r.start += 10 * H;
        r.end += 10 * H;
    }
    let e = products(&inp, &f, &Options::default(), &pi).unwrap_err();
    assert!(matches!(e, CbamError::NoProduction { .. }), "{e}");
}

// Purchased heat counts as a direct emission under CBAM (emissions from heat consumed in the
// production process count regardless of where it was produced): 100 GJ of purchased heat at
// the NDRC default 0.11 t/GJ = 11 t, on the cement line.
#[test]
fn purchased_heat_is_direct_for_cbam() {
    let (mut inp, f, mut pi) = plant();
    inp.series
        .push(series("heat-kiln", Carrier::Heat, Unit::GJ, &[100_000, 0]));
    pi.meter_lines
        .insert("heat-kiln".to_owned(), "cement".to_owned());
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    assert_eq!(r.totals.heat_g, 11_000_000);
    assert_eq!(
        product(&r, "PO 42.5 cement").direct_g,
        58_371_888 + 11_000_000
    );
}

// The per-interval view sums to the report's totals.
#[test]
fn intervals_sum_to_the_report() {
    let (inp, f, _) = plant();
    let (r, iv) = compute_with_intervals(&inp, &f, &Options::default()).unwrap();
    assert_eq!(r, compute(&inp, &f, &Options::default()).unwrap());
    let elec: f64 = iv
        .iter()
        .filter(|i| i.carrier == Carrier::ElectricityImport)
        .map(|i| i.g)
        .sum();
    let wh: i64 = iv.iter().map(|i| i.wh).sum();
    let fuel: f64 = iv
        .iter()
        .filter(|i| i.carrier == Carrier::NaturalGas)
        .map(|i| i.g)
        .sum();
    assert_eq!(elec as i64, r.scope2_location.electricity_g);
    assert_eq!(wh, r.scope2_location.import_wh);
    assert_eq!(fuel.round() as i64, r.scope1.fossil_g);
    assert_eq!(iv.len(), 8);
}

fn prices(origin_cny_per_t: f64) -> CostInputs {
    CostInputs {
        ets_eur_per_t: 80.0,
        ets_source: "illustrative".to_owned(),
        cny_per_eur: 7.8,
        exchange_source: "illustrative".to_owned(),
        origin_cny_per_t,
        origin_source: "illustrative".to_owned(),
    }
}

// CBAM in the definitive period: the cement of `plant()` imported in 2026.
// Counted (direct + indirect at the country default, as in cement_counts_indirect_steel_does_not)
// 59.445088 t for 100 t. EU benchmark: 0.5 t CO2e/t, an ILLUSTRATIVE input (tanji has not
// confirmed the implementing act's benchmark for CN 2523 29 00). CBAM factor 2026: 97.5%.
//   free-allocation adjustment = 0.5 × 100 t × 0.975 = 48.75 t
//   certificates due = 59.445088 − 48.75 = 10.695088 t
//   cost, no origin price: 10.695088 × 80 EUR = 855.61 EUR; × 7.8 = 6 673.73 CNY
//   cost, 60 CNY/t paid at origin on the 59.445088 t: 855.60704 − 59.445088 × 60 / 7.8
//     = 855.60704 − 457.26991 = 398.34 EUR = 3 107.03 CNY.
// Without the benchmark the certificates are the counted 59.445088 t, an upper bound.
#[test]
fn cement_2026_with_the_cbam_factor() {
    let (inp, f, mut pi) = plant();
    pi.import_year = Some(2026);
    pi.benchmarks.insert(
        "PO 42.5 cement".to_owned(),
        Benchmark {
            t_per_t: 0.5,
            source: "illustrative benchmark for the test, not the implementing act's value"
                .to_owned(),
            cross_sectoral_correction: None,
        },
    );
    pi.cost = Some(prices(0.0));
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    assert!(r.rules.iter().any(|x| x.contains("2025/2083")));
    assert!(r.rules.iter().any(|x| x.contains("97.5% in 2026")));
    assert!(r.totals.heat_rule.contains("Annex IV"));
    let c = product(&r, "PO 42.5 cement").cbam.as_ref().unwrap();
    assert_eq!(c.counted_g, 59_445_088);
    let fa = &c.free_allocation;
    assert_eq!((fa.import_year, fa.cbam_factor), (Some(2026), Some(0.975)));
    assert_eq!(fa.adjustment_g, 48_750_000);
    assert!((fa.certificates_t - 10.695088).abs() < 1e-9);
    assert!(!fa.upper_bound);
    let cost = c.cost.as_ref().unwrap();
    assert_eq!((cost.cost_eur, cost.cost_cny), (855.61, 6_673.73));
    assert!(!cost.upper_bound);
    assert_eq!(cost.free_allocation_g, 48_750_000);
    // De minimis: not decided without the importer's total.
    assert_eq!(c.de_minimis.exempt, None);
    // The hourly factor changes nothing here: cement at the country default.
    assert_eq!((c.hourly_effect.hourly_g, c.hourly_effect.link_g), (0, 0));
    assert_eq!(c.hourly_effect.precise_vs_cbam_g, 1_100_000 - 1_073_200);
    assert!(c.hourly_effect.text.contains("ISO 14067"));

    // A carbon price paid at origin (Article 9).
    pi.cost = Some(prices(60.0));
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    let cost = product(&r, "PO 42.5 cement")
        .cbam
        .as_ref()
        .unwrap()
        .cost
        .clone()
        .unwrap();
    assert_eq!((cost.cost_eur, cost.cost_cny), (398.34, 3_107.03));

    // Steel has no benchmark given: its certificates are an upper bound; indirect emissions
    // do not count (Annex II) so the hourly factor cannot move it.
    let s = product(&r, "rebar HRB400").cbam.as_ref().unwrap();
    assert!(s.free_allocation.upper_bound);
    assert_eq!(s.free_allocation.certificates_t, 10.810944);
    assert!(s.cost.as_ref().unwrap().upper_bound);
    assert!(s.hourly_effect.text.contains("do not count under CBAM"));

    // An importer with 40 t of CBAM goods in the year is exempt: no cost. With 120 t it is not.
    pi.importer_annual_t = Some(NamedFactor {
        value: 40.0,
        source: "importer's customs declarations 2026".to_owned(),
    });
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    let c = product(&r, "PO 42.5 cement").cbam.as_ref().unwrap();
    assert_eq!(c.de_minimis.exempt, Some(true));
    assert!(c.cost.is_none());
    pi.importer_annual_t.as_mut().unwrap().value = 120.0;
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    assert_eq!(
        product(&r, "PO 42.5 cement")
            .cbam
            .as_ref()
            .unwrap()
            .de_minimis
            .exempt,
        Some(false)
    );

    // Imported in 2025 (transitional period): no certificates, no cost.
    pi.import_year = Some(2025);
    let r = products(&inp, &f, &Options::default(), &pi).unwrap();
    let c = product(&r, "PO 42.5 cement").cbam.as_ref().unwrap();
    assert_eq!(c.free_allocation.certificates_t, 0.0);
    assert!(c.cost.is_none());
    // From 2034 the CBAM factor is 0: certificates = counted emissions.
    assert_eq!(cbam_factor(2034), Some(0.0));
    assert_eq!(cbam_factor(2030), Some(0.515));
}
