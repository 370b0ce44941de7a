//! The enterprise greenhouse-gas inventory in the layout of GB/T 32150-2015 (工业企业温室气体
//! 排放核算和报告通则), its report template (Appendix): enterprise information, accounting
//! boundary, emissions by source and type, activity data and emission factors with their
//! sources, data quality management and uncertainty — with the ISO 14064-1:2018 categories
//! beside it.
//!
//! Every figure is taken from an enterprise's `tanji-report/v1` report ([`ReportDoc`]): the
//! Scope 1 fuel lines, the location- and market-based Scope 2 figures, heat and steam lines and
//! the process emissions of its products section. Nothing is recomputed, so the inventory's
//! totals are the report's, and `tanji audit` of the report covers every number here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::doc::EnterpriseDoc;
use crate::tabular::{Cell, Column, Table, Tabular, ToTabular};
use crate::{ReportDoc, ReportError};

/// The contract id of an inventory document.
pub const INVENTORY_FORMAT: &str = "tanji-inventory/v1";

/// The standard whose report template the inventory follows.
pub const GBT_32150: &str =
    "GB/T 32150-2015 工业企业温室气体排放核算和报告通则 (General guideline of \
greenhouse gas emissions accounting and reporting for industrial enterprises), report template \
of its Appendix";

/// The standard whose categories are shown beside.
pub const ISO_14064_1: &str = "ISO 14064-1:2018, clause 5.2.4 (Category 1 direct; 2 imported \
energy; 3 transportation; 4 products used by the organization; 5 use of its products; 6 other)";

/// An enterprise's GHG inventory, built from its report by [`inventory`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InventoryDoc {
    /// Always [`INVENTORY_FORMAT`].
    pub format: String,
    /// [`GBT_32150`].
    pub standard: String,
    /// [`ISO_14064_1`].
    pub categories_standard: String,
    /// 1 企业基本情况: the reporting enterprise.
    pub enterprise: EnterpriseInfo,
    /// 2 核算边界: what the inventory covers and leaves out.
    pub boundary: Boundary,
    /// 3 排放源 / 4 活动数据和排放因子: one line per emission source.
    pub sources: Vec<SourceLine>,
    /// 5 排放量: totals by type.
    pub totals: InventoryTotals,
    /// The ISO 14064-1 categories with their emissions.
    pub iso_categories: Vec<IsoCategory>,
    /// 6 数据质量管理: how complete and how measured the data are.
    pub data_quality: DataQuality,
    /// 7 不确定性: what is stated about uncertainty.
    pub uncertainty: String,
    /// Where the figures come from: the report's log checkpoint, factor and inputs
    /// publications and methods.
    pub provenance: Vec<(String, String)>,
}

/// The reporting enterprise and period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnterpriseInfo {
    /// Enterprise id as registered in the park.
    pub enterprise: String,
    /// The park.
    pub park: String,
    /// Period start, RFC 3339 UTC.
    pub period_start: String,
    /// Period end (exclusive).
    pub period_end: String,
}

/// The accounting boundary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Boundary {
    /// In words.
    pub description: String,
    /// The meters inside it: `meter (carrier, scope)`.
    pub meters: Vec<String>,
    /// What GB/T 32150 lists and the inventory does not quantify.
    pub not_quantified: Vec<String>,
}

/// One emission source with its activity data and factor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceLine {
    /// `fuel_combustion` (化石燃料燃烧), `process` (工业生产过程), `purchased_electricity`
    /// (净购入电力), `purchased_heat` (净购入热力).
    pub kind: String,
    /// The meter or process-emission id.
    pub subject: String,
    /// Fuel, carrier or how the emission was computed.
    pub what: String,
    /// Activity data in `activity_unit` (`None` where it is given directly in g).
    pub activity: Option<f64>,
    /// Unit of `activity` (`GJ`, `MWh`).
    pub activity_unit: String,
    /// Emission factor in `factor_unit`.
    pub factor: Option<f64>,
    /// Unit of `factor` (`tCO2/GJ`, `tCO2/MWh`).
    pub factor_unit: String,
    /// Where the factor comes from.
    pub factor_source: String,
    /// CO2, g.
    pub emissions_g: i64,
    /// Its ISO 14064-1 category (1 or 2).
    pub iso_category: u8,
}

/// Totals by type, g CO2.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InventoryTotals {
    /// Fossil fuel combustion: the report's `scope1.fossil_g`.
    pub fuel_combustion_g: i64,
    /// Biogenic CO2 of fuel combustion, reported separately (not in the totals).
    pub biogenic_g: i64,
    /// Process emissions from the products inputs (0 without them).
    pub process_g: i64,
    /// Purchased electricity, location-based (each interval's own grid factor), net of
    /// exports where the report nets them: `scope2_location.total_g − scope2_location.heat_g`.
    pub electricity_location_g: i64,
    /// Purchased electricity, market-based: `scope2_market.electricity_g`.
    pub electricity_market_g: i64,
    /// Purchased heat and steam: `scope2_location.heat_g`.
    pub heat_g: i64,
    /// fuel + process + electricity (location) + heat.
    pub total_location_g: i64,
    /// fuel + process + electricity (market) + heat.
    pub total_market_g: i64,
}

/// One ISO 14064-1 category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IsoCategory {
    /// 1 … 6.
    pub category: u8,
    /// Its name.
    pub name: String,
    /// Emissions, g (`None`: not quantified).
    pub emissions_g: Option<i64>,
    /// What it holds here.
    pub note: String,
}

/// Data quality.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataQuality {
    /// Interval values measured by meters whose uploads are signed and logged.
    pub values: u64,
    /// Of those, filled (not measured).
    pub filled_values: u64,
    /// Grid intervals without an hourly factor (counted at the fixed factor).
    pub intervals_without_factor: u64,
    /// Fuel lines whose parameters were not confirmed against the standard's table.
    pub unverified_fuel_lines: Vec<String>,
    /// The report's data issues, as `kind: subject: message`.
    pub issues: Vec<String>,
    /// How the data are managed, in words.
    pub management: String,
}

fn int(v: &Value, path: &[&str]) -> i64 {
    let mut cur = v;
    for p in path {
        cur = &cur[p];
    }
    cur.as_i64().unwrap_or(0)
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// The GHG inventory of the one enterprise of `doc` (an enterprise report).
pub fn inventory(doc: &ReportDoc) -> Result<InventoryDoc, ReportError> {
    let [e] = doc.reports.as_slice() else {
        return Err(ReportError::Request(format!(
            "an inventory is made from one enterprise's report; this {} report has {} \
             enterprises: report with --enterprise",
            doc.scope.kind,
            doc.reports.len()
        )));
    };
    let totals = totals(e);
    Ok(InventoryDoc {
        format: INVENTORY_FORMAT.into(),
        standard: GBT_32150.into(),
        categories_standard: ISO_14064_1.into(),
        enterprise: EnterpriseInfo {
            enterprise: e.enterprise.clone(),
            park: doc.scope.park.clone(),
            period_start: doc.period.start.clone(),
            period_end: doc.period.end.clone(),
        },
        boundary: boundary(e),
        sources: sources_by_kind(doc, e),
        iso_categories: iso_categories(&totals),
        totals,
        data_quality: data_quality(doc, e),
        uncertainty: "not stated: tanji reports measured figures and counts filled values; no \
                      uncertainty range is computed (GB/T 32150 asks for it where stated)"
            .into(),
        provenance: report_provenance(doc, "inputs publication"),
    })
}

/// 2 核算边界: operational control, the enterprise's meters, and what is not quantified.
fn boundary(e: &EnterpriseDoc) -> Boundary {
    Boundary {
        description: "operational control: every meter registered to the enterprise in the \
                      park log (fuels, grid import and export, on-site PV, purchased heat \
                      and steam) over the reporting period"
            .into(),
        meters: e
            .meters
            .iter()
            .map(|m| format!("{} ({}, {})", m.meter, m.carrier, m.scope))
            .collect(),
        not_quantified: vec![
            "non-CO2 greenhouse gases (CH4, N2O, HFCs, PFCs, SF6, NF3)".into(),
            "process emissions not given in the products inputs".into(),
            "CO2 recovered and used, and carbon in products (固碳产品隐含的排放)".into(),
            "emissions of sources without a registered meter".into(),
        ],
    }
}

/// The report's Scope 1 fuel lines.
fn fuel_lines(figures: &Value) -> impl Iterator<Item = &Value> {
    figures["scope1"]["lines"].as_array().into_iter().flatten()
}

/// Process emissions given in the products inputs, g (0 without them).
fn process_g(e: &EnterpriseDoc) -> i64 {
    e.products
        .as_ref()
        .map_or(0, |p| int(p, &["totals", "process_g"]))
}

/// Purchased electricity, location-based: the Scope 2 total less its heat and steam.
fn electricity_location_g(scope2_location: &Value) -> i64 {
    int(scope2_location, &["total_g"]) - int(scope2_location, &["heat_g"])
}

/// 3 排放源 / 4 活动数据和排放因子, by kind: fuel combustion, process emissions, purchased
/// electricity, purchased heat and steam.
fn sources_by_kind(doc: &ReportDoc, e: &EnterpriseDoc) -> Vec<SourceLine> {
    let loc = &e.figures["scope2_location"];
    let mut sources: Vec<SourceLine> = fuel_lines(&e.figures).map(fuel_combustion).collect();
    sources.extend(process_emissions(e));
    sources.push(purchased_electricity(doc, loc));
    sources.extend(
        loc["heat"]
            .as_array()
            .into_iter()
            .flatten()
            .map(purchased_heat),
    );
    sources
}

/// 化石燃料燃烧: one Scope 1 fuel line (biogenic CO2 counted as 0, reported separately).
fn fuel_combustion(l: &Value) -> SourceLine {
    let biogenic = l["biogenic"].as_bool().unwrap_or(false);
    let verified = l["verified"].as_bool().unwrap_or(false);
    SourceLine {
        kind: "fuel_combustion".into(),
        subject: text(l, "meter"),
        what: format!(
            "{} ({}){}",
            text(l, "fuel"),
            text(l, "carrier"),
            if biogenic {
                ", biogenic: reported separately"
            } else {
                ""
            }
        ),
        activity: Some(int(l, &["activity_mj"]) as f64 / 1000.0),
        activity_unit: "GJ".into(),
        factor: l["ef_t_per_gj"].as_f64(),
        factor_unit: "tCO2/GJ".into(),
        factor_source: format!(
            "{} ({}){}",
            text(l, "source"),
            text(l, "table"),
            if verified {
                ""
            } else {
                "; not confirmed against the table"
            }
        ),
        emissions_g: if biogenic {
            0
        } else {
            int(l, &["emissions_g"])
        },
        iso_category: 1,
    }
}

/// 工业生产过程: the process CO2 of the products inputs, when there is any.
fn process_emissions(e: &EnterpriseDoc) -> Option<SourceLine> {
    let process_g = process_g(e);
    (process_g != 0).then(|| SourceLine {
        kind: "process".into(),
        subject: "process emissions".into(),
        what: "process CO2 given in the products inputs".into(),
        activity: None,
        activity_unit: String::new(),
        factor: None,
        factor_unit: String::new(),
        factor_source: "the inputs publication's process entries, each with its source".into(),
        emissions_g: process_g,
        iso_category: 1,
    })
}

/// 净购入电力: grid import, location-based, at the import-weighted mean of the interval
/// factors.
fn purchased_electricity(doc: &ReportDoc, loc: &Value) -> SourceLine {
    let import_wh = int(loc, &["import_wh"]);
    let electricity_g = int(loc, &["electricity_g"]);
    SourceLine {
        kind: "purchased_electricity".into(),
        subject: "grid import".into(),
        what: format!(
            "electricity, location-based{}",
            if loc["exports_netted"].as_bool().unwrap_or(false) {
                format!(", net of exports ({} g)", int(loc, &["export_g"]))
            } else {
                String::new()
            }
        ),
        activity: Some(import_wh as f64 / 1e6),
        activity_unit: "MWh".into(),
        factor: (import_wh > 0).then(|| electricity_g as f64 / import_wh as f64),
        factor_unit: "tCO2/MWh".into(),
        factor_source: format!(
            "each interval's grid factor of {} (region {}); the import-weighted mean is shown",
            doc.parameters.factors, doc.parameters.region
        ),
        emissions_g: electricity_location_g(loc),
        iso_category: 2,
    }
}

/// 净购入热力: one purchased heat or steam line.
fn purchased_heat(h: &Value) -> SourceLine {
    SourceLine {
        kind: "purchased_heat".into(),
        subject: text(h, "meter"),
        what: text(h, "carrier"),
        activity: Some(int(h, &["energy_mj"]) as f64 / 1000.0),
        activity_unit: "GJ".into(),
        factor: h["factor"]["value"].as_f64(),
        factor_unit: "tCO2/GJ".into(),
        factor_source: text(&h["factor"], "source"),
        emissions_g: int(h, &["emissions_g"]),
        iso_category: 2,
    }
}

/// 5 排放量: the report's figures by type, and the location- and market-based totals.
fn totals(e: &EnterpriseDoc) -> InventoryTotals {
    let f = &e.figures;
    let fuel_combustion_g = int(f, &["scope1", "fossil_g"]);
    let process_g = process_g(e);
    let electricity_location_g = electricity_location_g(&f["scope2_location"]);
    let electricity_market_g = int(f, &["scope2_market", "electricity_g"]);
    let heat_g = int(f, &["scope2_location", "heat_g"]);
    InventoryTotals {
        fuel_combustion_g,
        biogenic_g: int(f, &["scope1", "biogenic_g"]),
        process_g,
        electricity_location_g,
        electricity_market_g,
        heat_g,
        total_location_g: fuel_combustion_g + process_g + electricity_location_g + heat_g,
        total_market_g: fuel_combustion_g + process_g + electricity_market_g + heat_g,
    }
}

/// The six ISO 14064-1 categories: 1 and 2 from the totals, 3 to 6 not quantified.
fn iso_categories(totals: &InventoryTotals) -> Vec<IsoCategory> {
    let not_quantified = |what: &str| format!("not quantified: {what}");
    let electricity_market_g = totals.electricity_market_g;
    vec![
        IsoCategory {
            category: 1,
            name: "Direct GHG emissions and removals".into(),
            emissions_g: Some(totals.fuel_combustion_g + totals.process_g),
            note: "fossil fuel combustion + process emissions (CO2 only)".into(),
        },
        IsoCategory {
            category: 2,
            name: "Indirect GHG emissions from imported energy".into(),
            emissions_g: Some(totals.electricity_location_g + totals.heat_g),
            note: format!(
                "purchased electricity (location-based; market-based {electricity_market_g} g) \
                 + purchased heat and steam"
            ),
        },
        IsoCategory {
            category: 3,
            name: "Indirect GHG emissions from transportation".into(),
            emissions_g: None,
            note: not_quantified("no transport data in the park log"),
        },
        IsoCategory {
            category: 4,
            name: "Indirect GHG emissions from products used by the organization".into(),
            emissions_g: None,
            note: not_quantified(
                "purchased materials (declared upstream values appear in product footprints)",
            ),
        },
        IsoCategory {
            category: 5,
            name: "Indirect GHG emissions associated with the use of products from the \
                   organization"
                .into(),
            emissions_g: None,
            note: not_quantified("use of sold products"),
        },
        IsoCategory {
            category: 6,
            name: "Indirect GHG emissions from other sources".into(),
            emissions_g: None,
            note: not_quantified("other sources"),
        },
    ]
}

/// 6 数据质量管理: measured and filled values, intervals without a factor, unconfirmed fuel
/// lines and the report's data issues.
fn data_quality(doc: &ReportDoc, e: &EnterpriseDoc) -> DataQuality {
    let fs = e.filled_share.as_ref();
    DataQuality {
        values: fs.map_or(0, |s| s.values),
        filled_values: fs.map_or(0, |s| s.filled_values),
        intervals_without_factor: e
            .factor_coverage
            .as_ref()
            .map_or(0, |c| c.intervals_without_factor),
        unverified_fuel_lines: fuel_lines(&e.figures)
            .filter(|l| !l["verified"].as_bool().unwrap_or(false))
            .map(|l| text(l, "meter"))
            .collect(),
        issues: doc
            .issues
            .iter()
            .map(|i| format!("{}: {}: {}", i.kind, i.subject, i.message))
            .chain(
                e.figures["issues"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| format!("{}: {}", text(i, "kind"), text(i, "message"))),
            )
            .collect(),
        management: "activity data are interval values uploaded and signed by registered \
                     meters, appended to a Merkle log with signed checkpoints; gaps are filled \
                     and counted (filled_values); every figure is recomputed from the log by \
                     `tanji audit`"
            .into(),
    }
}

/// The report's format, method, log checkpoint and the publications it used: what every
/// document made from a report lists, the inputs publication under `inputs_label`.
pub(crate) fn report_provenance(doc: &ReportDoc, inputs_label: &str) -> Vec<(String, String)> {
    let mut provenance = vec![
        ("report format".into(), doc.format.clone()),
        ("accounting method".into(), doc.methods.accounting.clone()),
        ("log".into(), doc.provenance.log.origin.clone()),
        (
            "checkpoint".into(),
            format!(
                "size {} root {}",
                doc.provenance.checkpoint.size, doc.provenance.checkpoint.root
            ),
        ),
        (
            "factor publication".into(),
            format!(
                "{} (sha256 {})",
                doc.provenance.factors.id, doc.provenance.factors.content_sha256
            ),
        ),
    ];
    if let Some(i) = &doc.provenance.inputs {
        provenance.push((
            inputs_label.into(),
            format!("{} (sha256 {})", i.id, i.content_sha256),
        ));
    }
    provenance
}

/// g as a t cell with 3 decimals.
fn tonnes(g: i64) -> Cell {
    Cell::Number {
        value: g as f64 / 1e6,
        decimals: 3,
    }
}

impl ToTabular for InventoryDoc {
    fn to_tabular(&self) -> Tabular {
        Tabular {
            title: "温室气体排放报告 GHG inventory (GB/T 32150-2015)".into(),
            kind: "inventory".into(),
            summary: summary(self),
            tables: vec![
                boundary_table(&self.boundary),
                sources_table(&self.sources),
                totals_table(&self.totals),
                iso_table(&self.iso_categories),
                quality_table(&self.data_quality, &self.uncertainty),
            ],
            provenance: self.provenance.clone(),
        }
    }
}

/// 1 企业基本情况, the standards and the two totals.
fn summary(doc: &InventoryDoc) -> Vec<(String, String)> {
    let e = &doc.enterprise;
    vec![
        ("Enterprise 企业".into(), e.enterprise.clone()),
        ("Park 园区".into(), e.park.clone()),
        (
            "Period 核算期".into(),
            format!("{} – {}", e.period_start, e.period_end),
        ),
        ("Standard 标准".into(), doc.standard.clone()),
        ("Categories".into(), doc.categories_standard.clone()),
        (
            "Total, location-based (t CO2)".into(),
            format!("{:.3}", doc.totals.total_location_g as f64 / 1e6),
        ),
        (
            "Total, market-based (t CO2)".into(),
            format!("{:.3}", doc.totals.total_market_g as f64 / 1e6),
        ),
    ]
}

fn boundary_table(boundary: &Boundary) -> Table {
    Table {
        title: "2 Boundary 核算边界".into(),
        columns: vec![Column::text("Meter (carrier, scope)")],
        rows: boundary
            .meters
            .iter()
            .map(|m| vec![Cell::Text(m.clone())])
            .collect(),
        notes: std::iter::once(boundary.description.clone())
            .chain(boundary.not_quantified.clone())
            .collect(),
    }
}

fn sources_table(sources: &[SourceLine]) -> Table {
    let opt =
        |x: Option<f64>, d: u8| x.map_or(Cell::Empty, |value| Cell::Number { value, decimals: d });
    Table {
        title: "3-4 Sources, activity data and factors 排放源、活动数据和排放因子".into(),
        columns: vec![
            Column::text("Type"),
            Column::text("Source"),
            Column::text("What"),
            Column::text("Activity"),
            Column::text("Activity unit"),
            Column::text("Factor"),
            Column::text("Factor unit"),
            Column::text("Factor source"),
            Column::with_unit("Emissions", "t CO2"),
            Column::text("ISO 14064-1 category"),
        ],
        rows: sources
            .iter()
            .map(|s| {
                vec![
                    Cell::Text(s.kind.clone()),
                    Cell::Text(s.subject.clone()),
                    Cell::Text(s.what.clone()),
                    opt(s.activity, 3),
                    Cell::Text(s.activity_unit.clone()),
                    opt(s.factor, 5),
                    Cell::Text(s.factor_unit.clone()),
                    Cell::Text(s.factor_source.clone()),
                    tonnes(s.emissions_g),
                    Cell::Int(i64::from(s.iso_category)),
                ]
            })
            .collect(),
        notes: Vec::new(),
    }
}

fn totals_table(x: &InventoryTotals) -> Table {
    Table {
        title: "5 Emissions by type 排放量".into(),
        columns: vec![
            Column::text("Type"),
            Column::with_unit("Emissions", "t CO2"),
        ],
        rows: [
            ("Fuel combustion 化石燃料燃烧", x.fuel_combustion_g),
            ("Process 工业生产过程", x.process_g),
            (
                "Purchased electricity, location-based 净购入电力",
                x.electricity_location_g,
            ),
            (
                "Purchased electricity, market-based",
                x.electricity_market_g,
            ),
            ("Purchased heat and steam 净购入热力", x.heat_g),
            ("Total, location-based 合计", x.total_location_g),
            ("Total, market-based", x.total_market_g),
            ("Biogenic CO2 (not in totals)", x.biogenic_g),
        ]
        .into_iter()
        .map(|(k, g)| vec![Cell::Text(k.into()), tonnes(g)])
        .collect(),
        notes: Vec::new(),
    }
}

fn iso_table(categories: &[IsoCategory]) -> Table {
    Table {
        title: "ISO 14064-1 categories".into(),
        columns: vec![
            Column::text("Category"),
            Column::text("Name"),
            Column::with_unit("Emissions", "t CO2"),
            Column::text("Note"),
        ],
        rows: categories
            .iter()
            .map(|c| {
                vec![
                    Cell::Int(i64::from(c.category)),
                    Cell::Text(c.name.clone()),
                    c.emissions_g.map_or(Cell::Empty, tonnes),
                    Cell::Text(c.note.clone()),
                ]
            })
            .collect(),
        notes: Vec::new(),
    }
}

fn quality_table(q: &DataQuality, uncertainty: &str) -> Table {
    Table {
        title: "6-7 Data quality and uncertainty 数据质量管理和不确定性".into(),
        columns: vec![Column::text("Item"), Column::text("Value")],
        rows: vec![
            vec![
                Cell::Text("interval values".into()),
                Cell::Int(q.values as i64),
            ],
            vec![
                Cell::Text("filled values".into()),
                Cell::Int(q.filled_values as i64),
            ],
            vec![
                Cell::Text("grid intervals without an hourly factor".into()),
                Cell::Int(q.intervals_without_factor as i64),
            ],
            vec![
                Cell::Text("fuel lines not confirmed against their table".into()),
                Cell::Text(q.unverified_fuel_lines.join(", ")),
            ],
            vec![
                Cell::Text("uncertainty".into()),
                Cell::Text(uncertainty.to_owned()),
            ],
        ],
        notes: std::iter::once(q.management.clone())
            .chain(q.issues.clone())
            .collect(),
    }
}
