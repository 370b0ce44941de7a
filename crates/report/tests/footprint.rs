//! Product footprints and the PACT export on a hand-made report of two products with one
//! upstream material, every expected figure computed by hand; the PACT JSON validated against
//! the PACT v2 schema vendored in `crates/report/pact/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use tanji_report::{footprints, pact, render_document, Document, Format, InputsFile, ReportDoc};

/// An enterprise report of 2026-10-01 … 2026-10-04 whose products section shares 3 t of direct
/// CO2 and 10 MWh of grid electricity (5 t at the hourly factors; market-based 6 t) by mass
/// between product A (2 t) and product B (8 t): shares 0.2 and 0.8.
fn report() -> ReportDoc {
    serde_json::from_value(json!({
        "format": "tanji-report/v1",
        "scope": {"kind": "enterprise", "enterprise": "e-1", "park": "t"},
        "period": {"start": "2026-10-01T00:00:00Z", "end": "2026-10-04T00:00:00Z"},
        "parameters": {
            "factors": "fj@v1", "region": "FJ",
            "fixed_factor": {"t_per_mwh": 0.5, "basis": "given", "source": "test"},
            "utc_offset_s": 28800, "inputs": "in@v1"
        },
        "methods": {"accounting": "a", "factors": "f", "report": "tanji-report/v1"},
        "reports": [{
            "enterprise": "e-1", "meters": [], "uploads": 1,
            "figures": {"scope2_market": {"electricity_g": 6_000_000}},
            "products": {
                "method": "tanji-accounting/cbam-v2",
                "allocation": "mass_share",
                "allocation_reason": "no meter→line map was given: all emissions are shared by each product's mass share over the period",
                "country_default": {"value": 581.0, "source": "test country average"},
                "actual_electricity": null,
                "totals": {"direct_g": 3_000_000, "electricity_wh": 10_000_000, "electricity_precise_g": 5_000_000, "kg": 10_000},
                "products": [
                    {"product": "A", "kg": 2_000, "direct_g": 600_000,
                     "electricity": {"wh": 2_000_000, "precise_g": 1_000_000, "default_g": 1_162_000}},
                    {"product": "B", "kg": 8_000, "direct_g": 2_400_000,
                     "electricity": {"wh": 8_000_000, "precise_g": 4_000_000, "default_g": 4_648_000}}
                ]
            }
        }],
        "issues": [],
        "provenance": {
            "log": {"origin": "t.example/log", "verifier_key": "k"},
            "checkpoint": {"size": 9, "root": "r00t", "note": "n"},
            "factors": {"id": "fj@v1", "index": 1, "content_sha256": "ab", "method": "m", "region": "FJ", "synthetic": true},
            "leaves": []
        }
    }))
    .unwrap()
}

fn inputs(allocation: &str) -> InputsFile {
    serde_json::from_value(json!({"enterprises": {"e-1": {"footprint": {
        "company_name": "Example Aluminium Co.",
        "company_ids": ["urn:uscc:91350000000000000X"],
        "country": "CN",
        "allocation": allocation,
        "products": {
            "A": {
                "name": "Alloy wheel blank", "description": "cast aluminium blank",
                "cpc": "41532", "ids": ["urn:example:product:A"],
                "price_per_t": {"value": 20_000.0, "source": "price list 2026-10"},
                "materials": [{
                    "material": "aluminium ingot", "supplier": "Smelter S",
                    "kg_per_t": 500.0, "kg_co2e_per_kg": 8.0,
                    "source": "Smelter S PCF declaration 2026-07, cradle to gate"
                }]
            },
            "B": {
                "name": "Profile", "description": "extruded profile",
                "cpc": "41533", "ids": ["urn:example:product:B"],
                "price_per_t": {"value": 2_500.0, "source": "price list 2026-10"}
            }
        }
    }}}}))
    .unwrap()
}

#[test]
fn two_products_by_mass_with_an_upstream_material() {
    let f = footprints(&report(), &inputs("physical")).unwrap();
    let [a, b] = f.products.as_slice() else {
        panic!("two products")
    };
    // A: direct 600,000 g; electricity 2 MWh: location 1,000,000 g (the products section's
    // hourly figure), market 6,000,000 × 2/10 = 1,200,000 g, battery rule 2,000 kWh × 581 =
    // 1,162,000 g; upstream 2 t × 500 kg/t = 1,000 kg × 8 kg/kg = 8,000,000 g.
    assert_eq!(a.direct_g, 600_000);
    assert_eq!(a.electricity_location_g, 1_000_000);
    assert_eq!(a.electricity_market_g, 1_200_000);
    assert_eq!(a.electricity_battery_rule_g, 1_162_000);
    assert_eq!(a.upstream[0].kg, 1_000.0);
    assert_eq!(a.upstream_g, 8_000_000);
    // Gate to gate: 1,600,000 / 1,800,000 / 1,762,000; cradle to gate + 8,000,000.
    assert_eq!(a.gate_to_gate.location_g, 1_600_000);
    assert_eq!(a.cradle_to_gate.market_g, 9_800_000);
    assert_eq!(a.cradle_to_gate.battery_rule_g, 9_762_000);
    // Per kg: 9,600,000 g ÷ 2,000 kg = 4,800 g/kg = 4.8 kg/kg; 4.9; 4.881.
    assert!((a.per_kg.location - 4.8).abs() < 1e-12);
    assert!((a.per_kg.market - 4.9).abs() < 1e-12);
    assert!((a.per_kg.battery_rule - 4.881).abs() < 1e-12);
    // Primary data: 1,800,000 ÷ 9,800,000 = 18.3673…%.
    assert!((a.primary_data_share - 18.367_346_938_775_51).abs() < 1e-9);
    // B: no material: 2,400,000 + 4,000,000 = 6,400,000 g ÷ 8,000 kg = 0.8 kg/kg; market
    // 2,400,000 + 4,800,000 = 7,200,000 → 0.9; battery 2,400,000 + 4,648,000 → 0.881.
    assert_eq!(b.cradle_to_gate.location_g, 6_400_000);
    assert!((b.per_kg.market - 0.9).abs() < 1e-12);
    assert!((b.per_kg.battery_rule - 0.881).abs() < 1e-12);
    assert_eq!(b.primary_data_share, 100.0);
    assert!(f.allocation_description.starts_with("physical"));
}

#[test]
fn the_economic_rule_shares_by_production_value() {
    let f = footprints(&report(), &inputs("economic")).unwrap();
    let [a, b] = f.products.as_slice() else {
        panic!("two products")
    };
    // Values: A 2 t × 20,000 = 40,000; B 8 t × 2,500 = 20,000; shares 2/3 and 1/3.
    assert!((a.economic_share.unwrap() - 2.0 / 3.0).abs() < 1e-12);
    // A: direct 3,000,000 × 2/3 = 2,000,000; electricity 10,000,000 Wh × 2/3 = 6,666,667 Wh;
    // location 5,000,000 × 2/3 = 3,333,333 g; market 6,000,000 × 6,666,667/10,000,000 =
    // 4,000,000 g; battery (1,162,000 + 4,648,000) × 2/3 = 3,873,333 g.
    assert_eq!(a.direct_g, 2_000_000);
    assert_eq!(a.electricity_wh, 6_666_667);
    assert_eq!(a.electricity_location_g, 3_333_333);
    assert_eq!(a.electricity_market_g, 4_000_000);
    assert_eq!(a.electricity_battery_rule_g, 3_873_333);
    // Cradle to gate, location: 2,000,000 + 3,333,333 + 8,000,000 = 13,333,333 g.
    assert_eq!(a.cradle_to_gate.location_g, 13_333_333);
    // B: direct 1,000,000; location 1,666,667.
    assert_eq!(b.direct_g, 1_000_000);
    assert_eq!(b.electricity_location_g, 1_666_667);
}

#[test]
fn missing_declarations_and_prices_are_named() {
    let mut i = inputs("economic");
    let fp = i
        .enterprises
        .get_mut("e-1")
        .unwrap()
        .footprint
        .as_mut()
        .unwrap();
    fp.products.get_mut("B").unwrap().price_per_t = None;
    let e = footprints(&report(), &i).unwrap_err().to_string();
    assert!(e.contains("needs price_per_t for product \"B\""), "{e}");
    let mut i = inputs("physical");
    let fp = i
        .enterprises
        .get_mut("e-1")
        .unwrap()
        .footprint
        .as_mut()
        .unwrap();
    fp.products.remove("A");
    let e = footprints(&report(), &i).unwrap_err().to_string();
    assert!(
        e.contains("product \"A\" was produced in the period but has no declaration"),
        "{e}"
    );
    let e = footprints(
        &report(),
        &InputsFile {
            enterprises: Default::default(),
            ..inputs("physical")
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no footprint section for enterprise e-1"), "{e}");
}

/// The PACT v2 `ProductFootprint` schema as published: the vendored OpenAPI document (a
/// verbatim copy, see `crates/report/pact/README.md`) with a root `$ref` to its schema.
fn pact_schema() -> Value {
    let yaml = include_str!("../pact/openapi-v2.yaml");
    let mut doc: Value = serde_norway::from_str(yaml).unwrap();
    doc["$ref"] = json!("#/components/schemas/ProductFootprint");
    doc
}

#[test]
fn the_pact_export_validates_against_the_published_schema() {
    let schema = pact_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let f = footprints(&report(), &inputs("physical")).unwrap();
    let created = 1_791_072_000; // 2026-10-04T00:00:00Z
    let pfs = pact(&f, created);
    assert_eq!(pfs.len(), 2);
    for pf in &pfs {
        let errors: Vec<String> = validator.iter_errors(pf).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}\n{pf:#}");
    }
    let a = &pfs[0];
    assert_eq!(a["pcf"]["pCfExcludingBiogenic"], "4.9"); // market-based, as the default asks
    assert_eq!(a["pcf"]["declaredUnit"], "kilogram");
    assert_eq!(a["pcf"]["geographyCountry"], "CN");
    assert_eq!(a["pcf"]["primaryDataShare"], 18.37);
    assert_eq!(a["created"], "2026-10-04T00:00:00Z");
    // The same footprint has the same id; another product another.
    assert_eq!(a["id"], pact(&f, created + 1)[0]["id"]);
    assert_ne!(a["id"], pfs[1]["id"]);
    // The schema is not a formality: a footprint without pcf, or with an unknown declared
    // unit, fails.
    let mut broken = a.clone();
    broken.as_object_mut().unwrap().remove("pcf");
    assert!(!validator.is_valid(&broken));
    let mut broken = a.clone();
    broken["pcf"]["declaredUnit"] = json!("tonne");
    assert!(!validator.is_valid(&broken));
    // The document form is the list response's shape.
    let text = render_document(
        &report(),
        Some(&inputs("physical")),
        Document::Pact,
        Format::Json,
        created,
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(v["data"], json!(pfs));
}

#[test]
fn the_declaration_states_allocation_boundary_sources_and_the_battery_rule() {
    let text = render_document(
        &report(),
        Some(&inputs("physical")),
        Document::Footprint,
        Format::Text,
        0,
    )
    .map(|b| String::from_utf8(b).unwrap())
    .unwrap();
    for needle in [
        "ISO 14067:2018",
        "physical (ISO 14067:2018, 6.4.6.2)",
        "gate to gate",
        "Smelter S PCF declaration 2026-07",
        "Regulation (EU) 2023/1542",
        "country average 581 gCO2/kWh (test country average)",
        "Alloy wheel blank (A) | 2.000 | 0.600 | 2.000 | 1.000 | 1.200 | 1.162 | 8.000 | 4.8000 | 4.9000 | 4.8810 | 18.4",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
    let html = render_document(
        &report(),
        Some(&inputs("physical")),
        Document::Footprint,
        Format::Html,
        0,
    )
    .map(|b| String::from_utf8(b).unwrap())
    .unwrap();
    assert!(html.contains("<td class=\"n\">4.9000</td>"), "{html}");
}

/// A format a document is not written in is refused naming the ones it is.
#[test]
fn a_document_in_a_format_it_is_not_offered_in_is_refused_naming_the_others() {
    let e = render_document(
        &report(),
        Some(&inputs("physical")),
        Document::Footprint,
        Format::Csv,
        0,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("\"csv\" is not offered") && e.contains("json, text, html, xlsx or pdf"),
        "{e}"
    );
    let e = render_document(
        &report(),
        Some(&inputs("physical")),
        Document::Pact,
        Format::Xlsx,
        0,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("use json"), "{e}");
}
