//! The example files under `examples/optimize/` parse, and the two that document defaults say
//! exactly what the code uses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tanji_optimizer::spec::FlexSpec;
use tanji_optimizer::Tariff;

fn read(name: &str) -> String {
    let path = format!(
        "{}/../../examples/optimize/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_example_tariff_is_the_default() {
    let t: Tariff = toml::from_str(&read("tariff-illustrative.toml")).unwrap();
    let d = Tariff::illustrative();
    assert_eq!(t.prices, d.prices);
    assert_eq!(t.periods, d.periods);
    assert_eq!(t.zone, d.zone);
}

#[test]
fn the_example_default_flex_is_the_default() {
    let f: FlexSpec = toml::from_str(&read("flex-default.toml")).unwrap();
    assert_eq!(f, FlexSpec::default_for_site());
}

#[test]
fn the_machining_example_parses_with_a_batch() {
    let f: FlexSpec = toml::from_str(&read("flex-machining.toml")).unwrap();
    assert_eq!(f.loads.len(), 3);
    assert_eq!(f.import_limit_kw, Some(2500.0));
    let bad = toml::from_str::<FlexSpec>(
        "[[load]]\nkind = \"shiftable\"\nname = \"x\"\nwindow = [\"06:00-24:00\"]\n",
    );
    assert!(bad.unwrap_err().to_string().contains("window"));
}
