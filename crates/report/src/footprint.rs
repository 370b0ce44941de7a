//! Product carbon footprints after ISO 14067:2018 from an enterprise report with products:
//! gate to gate from the metered data (the products section's allocation of the enterprise's
//! fuels, process emissions, purchased heat and hourly grid electricity), and cradle to gate
//! with the upstream materials each product declares (supplier values with their sources, from
//! the inputs publication's `footprint` section). Electricity is shown three ways: location-
//! based (every interval's own grid factor), market-based (the report's market-based figure,
//! shared by grid electricity), and under the EU Battery Regulation's rule ([`BATTERY_RULE`]).
//!
//! Exports: the PACT (WBCSD Pathfinder) `ProductFootprint` JSON ([`pact`]; Technical
//! Specifications v2, the schema vendored in `crates/report/pact/`), and a readable
//! declaration through [`ToTabular`].
//!
//! Nothing is recomputed from meters here: the physical allocation is the products section's
//! (mass share, or by production line), and an economic allocation redistributes the same
//! enterprise totals by each product's share of the period's production value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::tabular::{Cell, Column, Table, Tabular, ToTabular};
use crate::{InputsFile, ReportDoc, ReportError};

/// The contract id of a footprint document.
pub const FOOTPRINT_FORMAT: &str = "tanji-footprint/v1";

/// The PACT Technical Specifications version the export follows (that of the vendored schema,
/// `crates/report/pact/openapi-v2.yaml`, `info.version`).
pub const PACT_SPEC_VERSION: &str = "2.3.3";

/// What the EU Battery Regulation allows in electricity modelling, and how tanji applies it.
pub const BATTERY_RULE: &str = "Regulation (EU) 2023/1542 (Batteries Regulation), Article 7 \
and Annex II: the carbon footprint of electric-vehicle, LMT and rechargeable industrial \
batteries is calculated by the rules of the delegated act adopted under Article 7(1). The JRC \
rules prepared for it (JRC, Rules for the calculation of the Carbon Footprint of Electric \
Vehicle Batteries, CFB-EV, 2023) and the draft delegated act model electricity of the \
manufacturing stage at the average consumption mix of the country of production, except \
electricity from a direct connection (on-site generation or a direct line) to a generating \
installation, which carries that installation's factor; contractual instruments (guarantees of \
origin, power purchase agreements without a direct connection) are not accepted [as the JRC \
rules and the draft act state them; check the adopted delegated act]. tanji applies it as: \
the product's grid electricity at the country average factor of the products inputs \
(country_default), the part a declared direct technical link covers at the linked \
generator's factor; a declared PPA is not used";

/// The `footprint` section of an enterprise's inputs: who declares, how to allocate, and per
/// product its identity and upstream materials.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FootprintInputs {
    /// The company that declares the footprints (PACT `companyName`).
    pub company_name: String,
    /// Its identifiers as URNs (PACT `companyIds`), e.g. `urn:uscc:91350000XXXXXXXXXX`.
    pub company_ids: Vec<String>,
    /// Country of production, ISO 3166-1 alpha-2 (`CN`).
    pub country: String,
    /// How several products that share meters share the emissions.
    #[serde(default)]
    pub allocation: AllocationRule,
    /// Which electricity figure the PACT export carries (default: market-based).
    #[serde(default)]
    pub pact_electricity: ElectricityBasis,
    /// Per product id (as in the production records).
    pub products: BTreeMap<String, ProductDeclaration>,
}

/// The allocation rule of ISO 14067:2018, 6.4.6.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocationRule {
    /// Physical: by mass, as the products section allocates (by production line where meters
    /// are mapped to lines).
    #[default]
    Physical,
    /// Economic: the enterprise's emissions by each product's share of production value
    /// (mass × price per t).
    Economic,
}

/// An electricity modelling basis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElectricityBasis {
    /// Every interval's own grid factor.
    Location,
    /// The market-based figure (instruments, then the residual factor).
    #[default]
    Market,
}

/// One product's identity and upstream materials.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductDeclaration {
    /// Trade name (PACT `productNameCompany`).
    pub name: String,
    /// Description (PACT `productDescription`).
    pub description: String,
    /// UN CPC code (PACT `productCategoryCpc`).
    pub cpc: String,
    /// Product identifiers as URNs (PACT `productIds`).
    pub ids: Vec<String>,
    /// Price per t, with its source: needed by the economic allocation.
    #[serde(default)]
    pub price_per_t: Option<tanji_accounting::NamedFactor>,
    /// Upstream materials per t of product.
    #[serde(default)]
    pub materials: Vec<UpstreamMaterial>,
}

/// A purchased material and its supplier's declared cradle-to-gate footprint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamMaterial {
    /// Material.
    pub material: String,
    /// Supplier.
    pub supplier: String,
    /// kg of material per t of product.
    pub kg_per_t: f64,
    /// The supplier's value, kg CO2e per kg of material.
    pub kg_co2e_per_kg: f64,
    /// Where the value comes from (the supplier's declaration, its id and date).
    pub source: String,
}

/// Product footprints of one enterprise over one period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FootprintDoc {
    /// Always [`FOOTPRINT_FORMAT`].
    pub format: String,
    /// ISO 14067:2018.
    pub standard: String,
    /// Enterprise id.
    pub enterprise: String,
    /// The declaring company.
    pub company_name: String,
    /// Its URNs.
    pub company_ids: Vec<String>,
    /// Country of production.
    pub country: String,
    /// Period start, RFC 3339 UTC.
    pub period_start: String,
    /// Period end (exclusive).
    pub period_end: String,
    /// The allocation rule.
    pub allocation: AllocationRule,
    /// The rule in words, with what it rests on.
    pub allocation_description: String,
    /// The system boundary in words.
    pub boundary: String,
    /// How electricity is modelled in each figure.
    pub electricity: Vec<String>,
    /// The PACT export's electricity basis.
    pub pact_electricity: ElectricityBasis,
    /// Per product.
    pub products: Vec<ProductFootprint>,
    /// What the footprints leave out.
    pub not_included: Vec<String>,
    /// Where the figures come from.
    pub provenance: Vec<(String, String)>,
    /// Log origin and checkpoint root, for the PACT ids.
    pub checkpoint_root: String,
}

/// One product's footprint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductFootprint {
    /// Product id.
    pub product: String,
    /// Its declaration.
    pub declaration: ProductDeclaration,
    /// Produced in the period, kg.
    pub kg: i64,
    /// Its share of the enterprise's emissions under the economic rule (`None`: physical).
    pub economic_share: Option<f64>,
    /// Fuels, process emissions and purchased heat allocated, g.
    pub direct_g: i64,
    /// Grid electricity allocated, Wh.
    pub electricity_wh: i64,
    /// That electricity, location-based, g.
    pub electricity_location_g: i64,
    /// Market-based, g.
    pub electricity_market_g: i64,
    /// Under [`BATTERY_RULE`], g.
    pub electricity_battery_rule_g: i64,
    /// Upstream materials, each with its emissions.
    pub upstream: Vec<MaterialLine>,
    /// Σ upstream, g.
    pub upstream_g: i64,
    /// Gate to gate (direct + electricity), g.
    pub gate_to_gate: Variants,
    /// Cradle to gate (gate to gate + upstream), g.
    pub cradle_to_gate: Variants,
    /// Cradle to gate per kg of product, kg CO2e/kg (= t/t).
    pub per_kg: VariantsPerKg,
    /// Share of the cradle-to-gate (market-based) figure from metered data, %.
    pub primary_data_share: f64,
}

/// An upstream material's contribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaterialLine {
    /// The declared material.
    pub material: UpstreamMaterial,
    /// kg used: kg_per_t × t of product.
    pub kg: f64,
    /// kg × kg_co2e_per_kg, g.
    pub g: i64,
}

/// A figure at each electricity basis, g.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variants {
    /// Location-based.
    pub location_g: i64,
    /// Market-based.
    pub market_g: i64,
    /// Under the EU Battery Regulation's electricity rule.
    pub battery_rule_g: i64,
}

/// A figure per kg of product at each electricity basis, kg CO2e/kg.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantsPerKg {
    /// Location-based.
    pub location: f64,
    /// Market-based.
    pub market: f64,
    /// Under the EU Battery Regulation's electricity rule.
    pub battery_rule: f64,
}

fn int(v: &Value, path: &[&str]) -> i64 {
    let mut cur = v;
    for p in path {
        cur = &cur[p];
    }
    cur.as_i64().unwrap_or(0)
}

fn bad(what: String) -> ReportError {
    ReportError::Request(what)
}

/// A product's physical figures as the products section allocates them.
struct Physical {
    id: String,
    kg: i64,
    direct_g: i64,
    wh: i64,
    location_g: i64,
    battery_g: i64,
}

fn physical(products: &Value) -> Vec<Physical> {
    let direct_link = products["actual_electricity"]["link"] == "direct_technical_link";
    products["products"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let el = &p["electricity"];
            Physical {
                id: p["product"].as_str().unwrap_or_default().to_owned(),
                kg: int(p, &["kg"]),
                direct_g: int(p, &["direct_g"]),
                wh: int(el, &["wh"]),
                location_g: int(el, &["precise_g"]),
                battery_g: if direct_link {
                    el["actual_g"]
                        .as_i64()
                        .unwrap_or_else(|| int(el, &["default_g"]))
                } else {
                    int(el, &["default_g"])
                },
            }
        })
        .collect()
}

fn check_inputs(fi: &FootprintInputs, enterprise: &str) -> Result<(), ReportError> {
    let at = |what: String| {
        bad(format!(
            "inputs, enterprise {enterprise}, footprint: {what}"
        ))
    };
    let urn = |s: &str| s.len() > 4 && s[..4].eq_ignore_ascii_case("urn:");
    if fi.company_name.trim().is_empty() {
        return Err(at("company_name is empty".into()));
    }
    if fi.company_ids.is_empty() || !fi.company_ids.iter().all(|s| urn(s)) {
        return Err(at(format!(
            "company_ids {:?}: give at least one, each a URN (urn:…)",
            fi.company_ids
        )));
    }
    if fi.country.len() != 2 || !fi.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(at(format!(
            "country {:?} is not an ISO 3166-1 alpha-2 code such as CN",
            fi.country
        )));
    }
    for (id, p) in &fi.products {
        if p.ids.is_empty() || !p.ids.iter().all(|s| urn(s)) {
            return Err(at(format!(
                "product {id}: ids {:?}: give at least one, each a URN (urn:…)",
                p.ids
            )));
        }
        if p.cpc.trim().is_empty() || p.name.trim().is_empty() {
            return Err(at(format!("product {id}: name and cpc must not be empty")));
        }
        for m in &p.materials {
            for (what, v) in [
                ("kg_per_t", m.kg_per_t),
                ("kg_co2e_per_kg", m.kg_co2e_per_kg),
            ] {
                if !v.is_finite() || v < 0.0 {
                    return Err(at(format!(
                        "product {id}, material {}: {what} {v} must be a finite number ≥ 0",
                        m.material
                    )));
                }
            }
        }
        if let Some(pr) = &p.price_per_t {
            if !pr.value.is_finite() || pr.value <= 0.0 {
                return Err(at(format!(
                    "product {id}: price_per_t {} must be a finite number > 0",
                    pr.value
                )));
            }
        }
    }
    Ok(())
}

/// Product footprints of the one enterprise of `doc` (a report built with an inputs
/// publication that has production records), with the `footprint` section of `inputs`, the
/// inputs publication the report names.
pub fn footprints(doc: &ReportDoc, inputs: &InputsFile) -> Result<FootprintDoc, ReportError> {
    let [e] = doc.reports.as_slice() else {
        return Err(bad(format!(
            "footprints are made from one enterprise's report; this {} report has {} \
             enterprises: report with --enterprise",
            doc.scope.kind,
            doc.reports.len()
        )));
    };
    let Some(products) = &e.products else {
        return Err(bad(format!(
            "the report of {} has no products: build it with an inputs publication (--inputs) \
             whose enterprise has production records",
            e.enterprise
        )));
    };
    let Some(fi) = inputs
        .enterprises
        .get(&e.enterprise)
        .and_then(|x| x.footprint.as_ref())
    else {
        return Err(bad(format!(
            "the inputs publication has no footprint section for enterprise {}: add \
             enterprises.{}.footprint (docs/report.md, \"Product footprints\")",
            e.enterprise, e.enterprise
        )));
    };
    check_inputs(fi, &e.enterprise)?;
    let phys = physical(products);
    let shares = allocation_shares(fi, &e.enterprise, &phys)?;
    let pools = enterprise_pools(&phys);
    let market = MarketElectricity {
        g: int(&e.figures, &["scope2_market", "electricity_g"]),
        import_wh: int(products, &["totals", "electricity_wh"]),
    };
    let out = phys
        .iter()
        .map(|p| {
            let d = declaration(fi, &e.enterprise, &p.id)?.clone();
            let share = shares.as_ref().and_then(|s| s.get(&p.id).copied());
            Ok(product_footprint(p, d, share, &pools, &market))
        })
        .collect::<Result<Vec<_>, ReportError>>()?;
    Ok(FootprintDoc {
        format: FOOTPRINT_FORMAT.into(),
        standard: "ISO 14067:2018 Greenhouse gases — Carbon footprint of products".into(),
        enterprise: e.enterprise.clone(),
        company_name: fi.company_name.clone(),
        company_ids: fi.company_ids.clone(),
        country: fi.country.clone(),
        period_start: doc.period.start.clone(),
        period_end: doc.period.end.clone(),
        allocation: fi.allocation,
        allocation_description: allocation_description(fi.allocation, products),
        boundary: "gate to gate: the enterprise's metered fuels, process emissions given in the \
                   inputs, purchased heat and steam, and grid electricity over the period; \
                   cradle to gate: gate to gate + the declared upstream materials at their \
                   suppliers' cradle-to-gate values"
            .into(),
        electricity: electricity_per_basis(doc, products),
        pact_electricity: fi.pact_electricity,
        products: out,
        not_included: vec![
            "non-CO2 greenhouse gases (CO2 only; characterisation factor 1 in every IPCC \
             report)"
                .into(),
            "transport of materials to the gate, packaging, capital goods".into(),
            "upstream materials not declared; upstream emissions of fuels and electricity \
             (extraction, transmission losses)"
                .into(),
        ],
        provenance: provenance(doc, products),
        checkpoint_root: format!(
            "{} {}",
            doc.provenance.log.origin, doc.provenance.checkpoint.root
        ),
    })
}

/// The declaration of product `id`, which was produced in the period.
fn declaration<'a>(
    fi: &'a FootprintInputs,
    enterprise: &str,
    id: &str,
) -> Result<&'a ProductDeclaration, ReportError> {
    fi.products.get(id).ok_or_else(|| {
        bad(format!(
            "inputs, enterprise {enterprise}, footprint: product {id:?} was produced in the \
             period but has no declaration under footprint.products"
        ))
    })
}

/// The allocation shares: none under the physical rule (each product keeps the figures the
/// products section allocates it); under the economic rule each product's production value
/// (t × price per t) over their sum.
fn allocation_shares(
    fi: &FootprintInputs,
    enterprise: &str,
    phys: &[Physical],
) -> Result<Option<BTreeMap<String, f64>>, ReportError> {
    match fi.allocation {
        AllocationRule::Physical => Ok(None),
        AllocationRule::Economic => {
            let mut values = BTreeMap::new();
            for p in phys {
                let price = declaration(fi, enterprise, &p.id)?
                    .price_per_t
                    .as_ref()
                    .ok_or_else(|| {
                        bad(format!(
                            "inputs, enterprise {enterprise}, footprint: the economic allocation \
                             needs price_per_t for product {:?}",
                            p.id
                        ))
                    })?;
                values.insert(p.id.clone(), p.kg as f64 / 1000.0 * price.value);
            }
            let sum: f64 = values.values().sum();
            Ok(Some(
                values.into_iter().map(|(k, v)| (k, v / sum)).collect(),
            ))
        }
    }
}

/// Direct emissions (fuels, process, purchased heat) and grid electricity (Wh; g location-based
/// and under [`BATTERY_RULE`]): a product's allocated part, or the enterprise's pool.
struct Allocated {
    direct_g: i64,
    wh: i64,
    location_g: i64,
    battery_g: i64,
}

/// The enterprise's pools, which the economic rule shares: each figure summed over products.
fn enterprise_pools(phys: &[Physical]) -> Allocated {
    let total = |f: fn(&Physical) -> i64| phys.iter().map(f).sum::<i64>();
    Allocated {
        direct_g: total(|p| p.direct_g),
        wh: total(|p| p.wh),
        location_g: total(|p| p.location_g),
        battery_g: total(|p| p.battery_g),
    }
}

/// A product's part: its own physical figures, or with an economic share that share of each
/// pool (rounded to the gram and the Wh).
fn allocated(p: &Physical, share: Option<f64>, pools: &Allocated) -> Allocated {
    let part = |own: i64, pool: i64| share.map_or(own, |s| (pool as f64 * s).round() as i64);
    Allocated {
        direct_g: part(p.direct_g, pools.direct_g),
        wh: part(p.wh, pools.wh),
        location_g: part(p.location_g, pools.location_g),
        battery_g: part(p.battery_g, pools.battery_g),
    }
}

/// The enterprise's market-based electricity and its grid import, over which products share
/// it by their grid electricity.
struct MarketElectricity {
    g: i64,
    import_wh: i64,
}

impl MarketElectricity {
    /// The market-based g of `wh` of grid electricity.
    fn share(&self, wh: i64) -> i64 {
        if self.import_wh > 0 {
            (self.g as f64 * wh as f64 / self.import_wh as f64).round() as i64
        } else {
            0
        }
    }
}

/// One product's footprint: its allocated direct emissions and electricity at each basis, its
/// upstream materials, gate to gate and cradle to gate.
fn product_footprint(
    p: &Physical,
    declaration: ProductDeclaration,
    share: Option<f64>,
    pools: &Allocated,
    market: &MarketElectricity,
) -> ProductFootprint {
    let a = allocated(p, share, pools);
    let market_g = market.share(a.wh);
    let upstream = upstream_materials(&declaration, p.kg);
    let upstream_g = upstream.iter().map(|m| m.g).sum();
    let gate = Variants {
        location_g: a.direct_g + a.location_g,
        market_g: a.direct_g + market_g,
        battery_rule_g: a.direct_g + a.battery_g,
    };
    let cradle = Variants {
        location_g: gate.location_g + upstream_g,
        market_g: gate.market_g + upstream_g,
        battery_rule_g: gate.battery_rule_g + upstream_g,
    };
    ProductFootprint {
        product: p.id.clone(),
        declaration,
        kg: p.kg,
        economic_share: share,
        direct_g: a.direct_g,
        electricity_wh: a.wh,
        electricity_location_g: a.location_g,
        electricity_market_g: market_g,
        electricity_battery_rule_g: a.battery_g,
        per_kg: per_kg(&cradle, p.kg),
        primary_data_share: primary_data_share(&gate, &cradle),
        upstream,
        upstream_g,
        gate_to_gate: gate,
        cradle_to_gate: cradle,
    }
}

/// The declared upstream materials of `kg` of product, each at its supplier's value.
fn upstream_materials(declaration: &ProductDeclaration, kg: i64) -> Vec<MaterialLine> {
    let t = kg as f64 / 1000.0;
    declaration
        .materials
        .iter()
        .map(|m| {
            let kg = m.kg_per_t * t;
            MaterialLine {
                material: m.clone(),
                kg,
                g: (kg * m.kg_co2e_per_kg * 1000.0).round() as i64,
            }
        })
        .collect()
}

/// Cradle to gate per kg of product (0 when none was produced).
fn per_kg(cradle: &Variants, kg: i64) -> VariantsPerKg {
    let per = |g: i64| {
        if kg > 0 {
            g as f64 / 1000.0 / kg as f64
        } else {
            0.0
        }
    };
    VariantsPerKg {
        location: per(cradle.location_g),
        market: per(cradle.market_g),
        battery_rule: per(cradle.battery_rule_g),
    }
}

/// The metered (gate-to-gate) share of the market-based cradle-to-gate figure, %.
fn primary_data_share(gate: &Variants, cradle: &Variants) -> f64 {
    if cradle.market_g > 0 {
        100.0 * gate.market_g as f64 / cradle.market_g as f64
    } else {
        100.0
    }
}

/// The allocation rule in words, with what it rests on.
fn allocation_description(rule: AllocationRule, products: &Value) -> String {
    match rule {
        AllocationRule::Physical => format!(
            "physical (ISO 14067:2018, 6.4.6.2): {}",
            products["allocation_reason"].as_str().unwrap_or_default()
        ),
        AllocationRule::Economic => {
            "economic (ISO 14067:2018, 6.4.6.2, where a physical relationship cannot be \
             established): the enterprise's direct emissions and grid electricity (each at \
             every basis) are shared by each product's production value in the period, t × \
             price per t (the prices and their sources are in the declarations)"
                .to_owned()
        }
    }
}

/// How electricity is modelled at each basis: location-based, market-based and under
/// [`BATTERY_RULE`] at the products inputs' country average.
fn electricity_per_basis(doc: &ReportDoc, products: &Value) -> Vec<String> {
    let country_default = &products["country_default"];
    vec![
        format!(
            "location-based: each interval's grid import at that interval's factor of {} \
             (region {}), allocated with the product's electricity",
            doc.parameters.factors, doc.parameters.region
        ),
        "market-based: the enterprise's market-based electricity figure (instruments applied \
         to grid import, the rest at the residual factor) shared by each product's share of \
         grid electricity"
            .to_owned(),
        format!(
            "EU Battery Regulation rule: country average {} gCO2/kWh ({}); {BATTERY_RULE}",
            country_default["value"].as_f64().unwrap_or(0.0),
            country_default["source"].as_str().unwrap_or_default()
        ),
    ]
}

/// The report's provenance ([`crate::inventory::report_provenance`]) with the products
/// method after the accounting method.
fn provenance(doc: &ReportDoc, products: &Value) -> Vec<(String, String)> {
    let mut provenance = crate::inventory::report_provenance(
        doc,
        "inputs publication (production records, upstream values)",
    );
    provenance.insert(
        2,
        (
            "products method".into(),
            products["method"].as_str().unwrap_or_default().to_owned(),
        ),
    );
    provenance
}

/// A decimal string as PACT writes numbers: up to 6 decimals, no trailing zeros.
fn decimal(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_owned()
    }
}

/// A UUID (version 4 layout) derived from `seed`, so the same footprint always has the same id.
fn uuid_of(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// The PACT `ProductFootprint` of every product (Technical Specifications v2, declared unit
/// kilogram, cradle to gate at the basis `doc.pact_electricity` names), created at `created`
/// (Unix seconds).
pub fn pact(doc: &FootprintDoc, created: i64) -> Vec<Value> {
    doc.products
        .iter()
        .map(|p| {
            let per_kg = match doc.pact_electricity {
                ElectricityBasis::Location => p.per_kg.location,
                ElectricityBasis::Market => p.per_kg.market,
            };
            let basis = match doc.pact_electricity {
                ElectricityBasis::Location => "location-based",
                ElectricityBasis::Market => "market-based",
            };
            json!({
                "id": uuid_of(&format!("{} {} {} {}", doc.checkpoint_root, doc.enterprise, p.product, doc.period_start)),
                "specVersion": PACT_SPEC_VERSION,
                "version": 1,
                "created": tanji_units::time::rfc3339(created),
                "status": "Active",
                "companyName": doc.company_name,
                "companyIds": doc.company_ids,
                "productDescription": p.declaration.description,
                "productIds": p.declaration.ids,
                "productCategoryCpc": p.declaration.cpc,
                "productNameCompany": p.declaration.name,
                "comment": format!(
                    "ISO 14067 cradle-to-gate footprint from metered data (tanji {}); electricity \
                     {basis}; {} kg produced in the period; CO2 only; fossil and biogenic carbon \
                     content of the product not measured (given as 0). Location-based {} and \
                     EU Battery Regulation rule {} kgCO2e/kg.",
                    doc.format, p.kg, decimal(p.per_kg.location), decimal(p.per_kg.battery_rule)
                ),
                "pcf": {
                    "declaredUnit": "kilogram",
                    "unitaryProductAmount": "1",
                    "pCfExcludingBiogenic": decimal(per_kg),
                    "fossilGhgEmissions": decimal(per_kg),
                    "fossilCarbonContent": "0",
                    "biogenicCarbonContent": "0",
                    "characterizationFactors": "AR6",
                    "ipccCharacterizationFactorsSources": ["AR6"],
                    "crossSectoralStandardsUsed": ["ISO Standard 14067"],
                    "crossSectoralStandards": ["ISO14067"],
                    "boundaryProcessesDescription": doc.boundary,
                    "referencePeriodStart": doc.period_start,
                    "referencePeriodEnd": doc.period_end,
                    "geographyCountry": doc.country,
                    "exemptedEmissionsPercent": 0.0,
                    "exemptedEmissionsDescription": doc.not_included.join("; "),
                    "packagingEmissionsIncluded": false,
                    "allocationRulesDescription": doc.allocation_description,
                    "primaryDataShare": (p.primary_data_share * 100.0).round() / 100.0,
                }
            })
        })
        .collect()
}

impl ToTabular for FootprintDoc {
    fn to_tabular(&self) -> Tabular {
        let t = |g: i64| Cell::Number {
            value: g as f64 / 1e6,
            decimals: 3,
        };
        let n = |value: f64, decimals: u8| Cell::Number { value, decimals };
        let summary = vec![
            ("Company".into(), self.company_name.clone()),
            ("Enterprise".into(), self.enterprise.clone()),
            ("Country".into(), self.country.clone()),
            (
                "Reference period".into(),
                format!("{} – {}", self.period_start, self.period_end),
            ),
            ("Standard".into(), self.standard.clone()),
            ("Declared unit".into(), "1 kg of product".into()),
            ("Allocation".into(), self.allocation_description.clone()),
            ("Boundary".into(), self.boundary.clone()),
        ];
        let products = Table {
            title: "Footprints per product".into(),
            columns: vec![
                Column::text("Product"),
                Column::with_unit("Produced", "t"),
                Column::with_unit("Direct", "t CO2"),
                Column::with_unit("Electricity", "MWh"),
                Column::with_unit("Electricity, location", "t CO2"),
                Column::with_unit("Electricity, market", "t CO2"),
                Column::with_unit("Electricity, EU battery rule", "t CO2"),
                Column::with_unit("Upstream", "t CO2e"),
                Column::with_unit("Cradle to gate, location", "kg CO2e/kg"),
                Column::with_unit("Cradle to gate, market", "kg CO2e/kg"),
                Column::with_unit("Cradle to gate, EU battery rule", "kg CO2e/kg"),
                Column::with_unit("Primary data share", "%"),
            ],
            rows: self
                .products
                .iter()
                .map(|p| {
                    vec![
                        Cell::Text(format!("{} ({})", p.declaration.name, p.product)),
                        n(p.kg as f64 / 1000.0, 3),
                        t(p.direct_g),
                        n(p.electricity_wh as f64 / 1e6, 3),
                        t(p.electricity_location_g),
                        t(p.electricity_market_g),
                        t(p.electricity_battery_rule_g),
                        t(p.upstream_g),
                        n(p.per_kg.location, 4),
                        n(p.per_kg.market, 4),
                        n(p.per_kg.battery_rule, 4),
                        n(p.primary_data_share, 1),
                    ]
                })
                .collect(),
            notes: self.electricity.clone(),
        };
        let upstream = Table {
            title: "Upstream materials (declared values)".into(),
            columns: vec![
                Column::text("Product"),
                Column::text("Material"),
                Column::text("Supplier"),
                Column::with_unit("Used", "kg"),
                Column::with_unit("Supplier value", "kg CO2e/kg"),
                Column::with_unit("Emissions", "t CO2e"),
                Column::text("Source"),
            ],
            rows: self
                .products
                .iter()
                .flat_map(|p| {
                    p.upstream.iter().map(|m| {
                        vec![
                            Cell::Text(p.product.clone()),
                            Cell::Text(m.material.material.clone()),
                            Cell::Text(m.material.supplier.clone()),
                            n(m.kg, 3),
                            n(m.material.kg_co2e_per_kg, 4),
                            t(m.g),
                            Cell::Text(m.material.source.clone()),
                        ]
                    })
                })
                .collect(),
            notes: Vec::new(),
        };
        let excluded = Table {
            title: "Not included".into(),
            columns: vec![Column::text("What")],
            rows: self
                .not_included
                .iter()
                .map(|x| vec![Cell::Text(x.clone())])
                .collect(),
            notes: Vec::new(),
        };
        Tabular {
            title: "产品碳足迹声明 Product carbon footprint declaration (ISO 14067:2018)".into(),
            kind: "footprint".into(),
            summary,
            tables: vec![products, upstream, excluded],
            provenance: self.provenance.clone(),
        }
    }
}
