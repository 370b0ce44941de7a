//! The enterprise and park report ([`ReportDoc`]) as tables ([`ToTabular`]): one table per
//! section, every figure copied from the report as its JSON holds it (g CO2, Wh, fractions),
//! never recomputed, so a spreadsheet cell equals the JSON value at the same path.

use serde_json::Value;

use crate::doc::{EnterpriseDoc, FactorCoverage, FilledShare, ReportDoc};
use crate::export::{content_hash, CONTENT_HASH_LABEL};
use crate::tabular::{Cell, Column, Table, Tabular, ToTabular};

const G: &str = "g CO2";
const WH: &str = "Wh";
const FRACTION: &str = "fraction";
/// The label of the park-total row in tables with one row per enterprise.
pub const PARK_TOTAL: &str = "Park total 园区合计";

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .fold(v, |cur, k| cur.get(k).unwrap_or(&Value::Null))
}

/// The integer at `path`, or an empty cell when the report has none there.
fn int(v: &Value, path: &[&str]) -> Cell {
    at(v, path).as_i64().map_or(Cell::Empty, Cell::Int)
}

/// The number at `path` shown with `decimals`, or an empty cell.
fn num(v: &Value, path: &[&str], decimals: u8) -> Cell {
    at(v, path)
        .as_f64()
        .map_or(Cell::Empty, |value| Cell::Number { value, decimals })
}

fn text(v: &Value, path: &[&str]) -> Cell {
    match at(v, path) {
        Value::String(s) => Cell::Text(s.clone()),
        Value::Bool(b) => Cell::Text(b.to_string()),
        Value::Number(n) => Cell::Text(n.to_string()),
        _ => Cell::Empty,
    }
}

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn opt(x: Option<f64>, decimals: u8) -> Cell {
    x.map_or(Cell::Empty, |value| Cell::Number { value, decimals })
}

fn uint(x: u64) -> Cell {
    i64::try_from(x).map_or_else(|_| Cell::Text(x.to_string()), Cell::Int)
}

fn table(title: &str, columns: Vec<Column>) -> Table {
    Table {
        title: title.into(),
        columns,
        rows: Vec::new(),
        notes: Vec::new(),
    }
}

fn enterprise_col() -> Column {
    Column::text("Enterprise 企业")
}

impl ToTabular for ReportDoc {
    fn to_tabular(&self) -> Tabular {
        let (title, kind) = match &self.scope.enterprise {
            Some(e) => (
                format!("Carbon report 碳排放报告 — enterprise {e}"),
                "enterprise",
            ),
            None => (
                format!("Carbon report 碳排放报告 — park {}", self.scope.park),
                "park",
            ),
        };
        let mut tables = vec![
            scopes(self),
            electricity(self),
            comparison(self),
            by_hour(self),
            fuel_lines(self),
            market(self),
            coverage(self),
            meters(self),
        ];
        if self.reports.iter().any(|e| e.products.is_some()) {
            tables.push(products(self));
        }
        tables.push(issues(self));
        Tabular {
            title,
            kind: kind.into(),
            summary: summary(self),
            tables,
            provenance: provenance(self),
        }
    }
}

fn summary(d: &ReportDoc) -> Vec<(String, String)> {
    let p = &d.parameters;
    let mut s = vec![
        ("Park 园区".into(), d.scope.park.clone()),
        (
            "Scope 范围".into(),
            match &d.scope.enterprise {
                Some(e) => format!("enterprise 企业 {e}"),
                None => format!("park 园区 ({} enterprises 家企业)", d.reports.len()),
            },
        ),
        (
            "Period 报告期 (UTC, end exclusive)".into(),
            format!("{} – {}", d.period.start, d.period.end),
        ),
        (
            "Grid factors 电网排放因子".into(),
            format!("{}, region {}", p.factors, p.region),
        ),
        (
            "Fixed annual factor 固定年均因子".into(),
            format!(
                "{} tCO2/MWh ({}: {})",
                p.fixed_factor.t_per_mwh, p.fixed_factor.basis, p.fixed_factor.source
            ),
        ),
    ];
    if let Some(i) = &p.inputs {
        s.push(("Enterprise inputs 企业输入".into(), i.clone()));
    }
    if d.provenance.factors.synthetic {
        s.push((
            "SYNTHETIC grid factors 合成数据".into(),
            format!(
                "region {} is a synthetic grid year made for demonstration: these figures illustrate the method and are not a measurement",
                p.region
            ),
        ));
    }
    for x in d.issues.iter().filter(|x| x.kind == "factor_coverage") {
        s.push(("Warning 警告".into(), x.message.clone()));
    }
    if d.has_no_data() {
        s.push((
            "Warning 警告".into(),
            "no meter has an accepted upload in the period: every figure is zero".into(),
        ));
    }
    s.push((
        "Methods 方法版本".into(),
        format!(
            "{} · {} · {}",
            d.methods.accounting, d.methods.factors, d.methods.report
        ),
    ));
    s.push((
        "Figures 数据".into(),
        "as in the report's JSON: emissions in g CO2, energy in Wh, shares as fractions (0.25 = 25%)"
            .into(),
    ));
    s
}

/// Totals by scope, one row per enterprise and the park total.
fn scopes(d: &ReportDoc) -> Table {
    let mut tb = table(
        "Totals by scope 按范围汇总",
        vec![
            enterprise_col(),
            Column::with_unit("Scope 1 fossil 范围一", G),
            Column::with_unit("Scope 1 biogenic 生物质", G),
            Column::with_unit("Scope 2 location-based 范围二(基于位置)", G),
            Column::with_unit("of which electricity 电力", G),
            Column::with_unit("of which heat and steam 热力", G),
            Column::with_unit("Scope 2 market-based 范围二(基于市场)", G),
        ],
    );
    for e in &d.reports {
        let f = &e.figures;
        tb.rows.push(vec![
            t(&e.enterprise),
            int(f, &["scope1", "fossil_g"]),
            int(f, &["scope1", "biogenic_g"]),
            int(f, &["scope2_location", "total_g"]),
            int(f, &["scope2_location", "electricity_g"]),
            int(f, &["scope2_location", "heat_g"]),
            int(f, &["scope2_market", "total_g"]),
        ]);
    }
    if let Some(p) = &d.park_totals {
        tb.rows.push(vec![
            t(PARK_TOTAL),
            Cell::Int(p.scope1_g),
            Cell::Empty,
            Cell::Int(p.scope2_location_g),
            Cell::Empty,
            Cell::Empty,
            Cell::Int(p.scope2_market_g),
        ]);
        tb.notes.push(
            "The park total row is park_totals of the JSON (sums over the enterprises); it carries no biogenic, electricity or heat split.".into(),
        );
    }
    tb.notes.push("Scope 1: fossil CO2 of fuels burnt on site (GB/T 32150 parameters in the Scope 1 lines table); biogenic CO2 is reported apart. Scope 2 location-based: grid import at each interval's own factor, plus purchased heat and steam; market-based: after green certificates and purchases, uncovered import at the residual factor.".into());
    tb
}

/// Electricity flows and green shares.
fn electricity(d: &ReportDoc) -> Table {
    let mut tb = table(
        "Electricity 电力",
        vec![
            enterprise_col(),
            Column::with_unit("Consumed 用电量", WH),
            Column::with_unit("Grid import 电网购电", WH),
            Column::with_unit("Export 上网电量", WH),
            Column::with_unit("PV generation 光伏发电", WH),
            Column::with_unit("PV self-consumed 光伏自用", WH),
            Column::with_unit("Green 绿电", WH),
            Column::with_unit("Green share 绿电使用率", FRACTION),
            Column::with_unit("Hourly CFE match 逐时绿电匹配率", FRACTION),
        ],
    );
    for e in &d.reports {
        let f = &e.figures;
        tb.rows.push(vec![
            t(&e.enterprise),
            int(f, &["indicators", "consumption_wh"]),
            int(f, &["scope2_location", "import_wh"]),
            int(f, &["scope2_location", "export_wh"]),
            int(f, &["scope2_location", "pv_generation_wh"]),
            int(f, &["scope2_location", "pv_self_consumed_wh"]),
            int(f, &["indicators", "green_wh"]),
            num(f, &["indicators", "green_share"], 4),
            num(f, &["indicators", "cfe_score"], 4),
        ]);
    }
    if let Some(p) = &d.park_totals {
        tb.rows.push(vec![
            t(PARK_TOTAL),
            Cell::Int(p.consumption_wh),
            Cell::Int(p.import_wh),
            Cell::Int(p.export_wh),
            Cell::Empty,
            Cell::Int(p.pv_self_consumed_wh),
            Cell::Int(p.green_wh),
            opt(p.green_share, 4),
            Cell::Empty,
        ]);
    }
    tb.notes.push("Green share: (PV consumed on site + applied certificates and purchases) ÷ consumption. Hourly CFE match: the share of consumption matched by carbon-free supply in the same hour.".into());
    for e in &d.reports {
        if let Value::Object(i) = at(&e.figures, &["indicators", "intensity"]) {
            let v = Value::Object(i.clone());
            tb.notes.push(format!(
                "{}: intensity per {} of output ({} in the period, in thousandths): {} kWh, {} GJ, {} tCO2 location-based, {} tCO2 market-based per unit.",
                e.enterprise,
                at(&v, &["unit"]).as_str().unwrap_or(""),
                at(&v, &["output_milli"]),
                at(&v, &["electricity_kwh_per_unit"]),
                at(&v, &["energy_gj_per_unit"]),
                at(&v, &["location_t_per_unit"]),
                at(&v, &["market_t_per_unit"]),
            ));
        }
    }
    tb
}

/// The fixed annual factor against each interval's own factor.
fn comparison(d: &ReportDoc) -> Table {
    let mut tb = table(
        "Fixed vs hourly factor 固定因子与动态因子",
        vec![
            enterprise_col(),
            Column::with_unit("Grid import 电网购电", WH),
            Column::with_unit("Fixed factor 固定因子", "gCO2/kWh"),
            Column::with_unit("At the fixed factor 按固定因子", G),
            Column::with_unit("At hourly factors 按动态因子", G),
            Column::with_unit("Difference fixed − hourly 差值", G),
            Column::with_unit("Difference 差值", "%"),
            Column::with_unit("of which season 季节", G),
            Column::with_unit("of which timing 时段", G),
        ],
    );
    for e in &d.reports {
        let c = at(&e.figures, &["comparison"]);
        tb.rows.push(vec![
            t(&e.enterprise),
            int(c, &["import_wh"]),
            num(c, &["fixed_factor", "value"], 1),
            int(c, &["fixed_g"]),
            int(c, &["dynamic_g"]),
            int(c, &["difference_g"]),
            num(c, &["difference_pct"], 2),
            int(c, &["season_g"]),
            int(c, &["timing_g"]),
        ]);
        let why = at(c, &["reason"])
            .as_str()
            .unwrap_or("nothing to compare: no hourly factor covers this period's grid import");
        tb.notes.push(format!("{} — why 原因: {why}", e.enterprise));
    }
    if let Some(p) = &d.park_totals {
        tb.rows.push(vec![
            t(PARK_TOTAL),
            Cell::Int(p.import_wh),
            Cell::Empty,
            Cell::Int(p.fixed_g),
            Cell::Int(p.dynamic_g),
            Cell::Int(p.difference_g),
            opt(p.difference_pct, 2),
            Cell::Empty,
            Cell::Empty,
        ]);
    }
    tb
}

/// The comparison by hour of day (local time).
fn by_hour(d: &ReportDoc) -> Table {
    let mut tb = table(
        "Hour of day 分时段",
        vec![
            enterprise_col(),
            Column::text("Hour 时段 (local)"),
            Column::with_unit("Grid import 电网购电", WH),
            Column::with_unit("Share of use 用电占比", FRACTION),
            Column::with_unit("Mean factor 平均因子", "gCO2/kWh"),
            Column::with_unit("Use-weighted factor 加权因子", "gCO2/kWh"),
            Column::with_unit("Fixed − hourly 差值", G),
        ],
    );
    for e in &d.reports {
        let hours = at(&e.figures, &["comparison", "by_hour"])
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for h in hours {
            tb.rows.push(vec![
                t(&e.enterprise),
                at(h, &["hour"])
                    .as_i64()
                    .map_or(Cell::Empty, |x| t(format!("{x:02}:00"))),
                int(h, &["import_wh"]),
                num(h, &["share"], 4),
                num(h, &["mean_factor_g_per_kwh"], 1),
                num(h, &["weighted_factor_g_per_kwh"], 1),
                int(h, &["difference_g"]),
            ]);
        }
    }
    tb.notes.push(format!(
        "Hours in local time, UTC{:+}.",
        d.parameters.utc_offset_s / 3600
    ));
    tb
}

/// Scope 1 fuel lines and purchased heat and steam lines.
fn fuel_lines(d: &ReportDoc) -> Table {
    let mut tb = table(
        "Scope 1 and heat lines 范围一及热力明细",
        vec![
            enterprise_col(),
            Column::text("Meter 计量表"),
            Column::text("Carrier 能源"),
            Column::with_unit("Quantity 用量", "1/1000 of the unit"),
            Column::text("Unit 单位"),
            Column::with_unit("Activity 活动数据", "MJ"),
            Column::text("NCV 低位发热量 (see basis)"),
            Column::with_unit("Carbon content 单位热值含碳量", "tC/TJ"),
            Column::with_unit("Oxidation 碳氧化率", FRACTION),
            Column::with_unit("Emission factor 排放因子", "tCO2/GJ"),
            Column::with_unit("Emissions 排放量", G),
            Column::text("Basis 依据"),
        ],
    );
    for e in &d.reports {
        let f = &e.figures;
        let fuels = at(f, &["scope1", "lines"])
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for l in fuels {
            let mut basis = format!(
                "{} from {}; NCV {}",
                at(l, &["fuel"]).as_str().unwrap_or(""),
                at(l, &["table"]).as_str().unwrap_or(""),
                at(l, &["ncv_basis"]).as_str().unwrap_or("")
            );
            if at(l, &["verified"]) != &Value::Bool(true) {
                basis.push_str(" (unverified 未核实)");
            }
            if at(l, &["biogenic"]) == &Value::Bool(true) {
                basis.push_str("; biogenic 生物质");
            }
            if let Some(n) = at(l, &["gas_volume", "note"]).as_str() {
                basis.push_str("; ");
                basis.push_str(n);
            }
            tb.rows.push(vec![
                t(&e.enterprise),
                text(l, &["meter"]),
                text(l, &["carrier"]),
                int(l, &["quantity_milli"]),
                text(l, &["unit"]),
                int(l, &["activity_mj"]),
                num(l, &["ncv"], 3),
                num(l, &["carbon_tc_per_tj"], 2),
                num(l, &["oxidation"], 2),
                num(l, &["ef_t_per_gj"], 6),
                int(l, &["emissions_g"]),
                t(basis),
            ]);
        }
        let heat = at(f, &["scope2_location", "heat"])
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for l in heat {
            tb.rows.push(vec![
                t(&e.enterprise),
                text(l, &["meter"]),
                text(l, &["carrier"]),
                int(l, &["quantity_milli"]),
                text(l, &["unit"]),
                int(l, &["energy_mj"]),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                num(l, &["factor", "value"], 6),
                int(l, &["emissions_g"]),
                t(format!(
                    "purchased heat/steam 外购热力 (Scope 2): {}",
                    at(l, &["factor", "source"]).as_str().unwrap_or("")
                )),
            ]);
        }
    }
    tb.notes.push("Fuel lines: emissions = activity (MJ) × carbon content × oxidation × 44/12, by GB/T 32150; heat and steam lines: energy (MJ) × factor. Quantities in thousandths of the meter's unit, as logged.".into());
    tb
}

/// Market-based Scope 2: instruments and the residual factor.
fn market(d: &ReportDoc) -> Table {
    let mut tb = table(
        "Market-based Scope 2 基于市场的范围二",
        vec![
            enterprise_col(),
            Column::with_unit("Instruments 绿证与绿电", WH),
            Column::with_unit("Applied 已使用", WH),
            Column::with_unit("Unused 未使用", WH),
            Column::with_unit("Uncovered import 未覆盖购电", WH),
            Column::with_unit("Residual factor 剩余因子", "gCO2/kWh"),
            Column::with_unit("Electricity 电力", G),
            Column::with_unit("Heat and steam 热力", G),
            Column::with_unit("Total 合计", G),
            Column::text("Residual factor source 剩余因子来源"),
        ],
    );
    for e in &d.reports {
        let m = at(&e.figures, &["scope2_market"]);
        tb.rows.push(vec![
            t(&e.enterprise),
            int(m, &["instruments_wh"]),
            int(m, &["applied_wh"]),
            int(m, &["unused_wh"]),
            int(m, &["uncovered_import_wh"]),
            num(m, &["residual_factor", "value"], 1),
            int(m, &["electricity_g"]),
            int(m, &["heat_g"]),
            int(m, &["total_g"]),
            text(m, &["residual_factor", "source"]),
        ]);
        let uses = at(m, &["instruments"])
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for u in uses {
            tb.notes.push(format!(
                "{}: {} {} — {} Wh, {} Wh applied",
                e.enterprise,
                at(u, &["kind"]).as_str().unwrap_or(""),
                at(u, &["id"]).as_str().unwrap_or(""),
                at(u, &["wh"]),
                at(u, &["applied_wh"]),
            ));
        }
    }
    tb
}

fn coverage_row(who: &str, c: Option<&FactorCoverage>, f: Option<&FilledShare>) -> Vec<Cell> {
    let mut row = vec![t(who)];
    match c {
        Some(c) => row.extend([
            t(&c.series),
            t(format!("{} – {}", c.series_from, c.series_to)),
            uint(c.intervals),
            uint(c.intervals_without_factor),
        ]),
        None => row.extend([Cell::Empty, Cell::Empty, Cell::Empty, Cell::Empty]),
    }
    match f {
        Some(f) => row.extend([
            uint(f.filled_values),
            uint(f.values),
            Cell::Number {
                value: f.share,
                decimals: 4,
            },
        ]),
        None => row.extend([Cell::Empty, Cell::Empty, Cell::Empty]),
    }
    row
}

/// Factor coverage of the grid intervals and the share of filled values.
fn coverage(d: &ReportDoc) -> Table {
    let mut tb = table(
        "Factor coverage and filled values 因子覆盖与插补",
        vec![
            enterprise_col(),
            Column::text("Factor series 因子序列"),
            Column::text("Series span 序列时段 (UTC)"),
            Column::with_unit("Grid intervals 电网时段", "intervals"),
            Column::with_unit("Without hourly factor 缺少因子", "intervals"),
            Column::with_unit("Filled values 插补值", "values"),
            Column::with_unit("All values 全部值", "values"),
            Column::with_unit("Filled share 插补比例", FRACTION),
        ],
    );
    for e in &d.reports {
        tb.rows.push(coverage_row(
            &e.enterprise,
            e.factor_coverage.as_ref(),
            e.filled_share.as_ref(),
        ));
    }
    if let Some(p) = &d.park_totals {
        tb.rows.push(coverage_row(
            PARK_TOTAL,
            p.factor_coverage.as_ref(),
            p.filled_share.as_ref(),
        ));
    }
    tb.notes.push("Grid intervals without an hourly factor are counted at the fixed factor. Filled values are interpolated, taken from the interval-of-day profile, or counted as zero, not measured.".into());
    tb
}

fn meters(d: &ReportDoc) -> Table {
    let mut tb = table(
        "Meters 计量表",
        vec![
            enterprise_col(),
            Column::text("Meter 计量表"),
            Column::text("Device 设备"),
            Column::text("Carrier 能源"),
            Column::text("Unit 单位"),
            Column::text("Scope 范围"),
            Column::with_unit("Interval 间隔", "s"),
            Column::with_unit("Intervals 时段数", "intervals"),
            Column::with_unit("Missing 缺失", "intervals"),
        ],
    );
    for e in &d.reports {
        for m in &e.meters {
            tb.rows.push(vec![
                t(&e.enterprise),
                t(&m.meter),
                t(&m.device),
                t(&m.carrier),
                t(&m.unit),
                t(&m.scope),
                Cell::Int(i64::from(m.interval_s)),
                uint(m.intervals),
                uint(m.missing),
            ]);
        }
    }
    tb.notes.push(
        d.reports
            .iter()
            .map(|e| format!("{}: {} accepted uploads", e.enterprise, e.uploads))
            .collect::<Vec<_>>()
            .join("; "),
    );
    tb
}

/// Products, their CBAM figures and footprints.
fn products(d: &ReportDoc) -> Table {
    let mut tb = table(
        "Products and CBAM 产品与CBAM",
        vec![
            enterprise_col(),
            Column::text("Product 产品"),
            Column::text("CN code 商品编码"),
            Column::with_unit("Mass 产量", "kg"),
            Column::with_unit("Direct 直接排放", G),
            Column::with_unit("Electricity 电力", WH),
            Column::with_unit("Indirect, hourly factors 间接(动态因子)", G),
            Column::with_unit("Indirect, CBAM factor 间接(CBAM因子)", G),
            Column::with_unit("CBAM counted 计入CBAM", G),
            Column::with_unit("SEE 特定隐含排放", "tCO2/t"),
            Column::with_unit("Footprint 碳足迹", G),
            Column::with_unit("Footprint 碳足迹", "tCO2/t"),
        ],
    );
    for e in &d.reports {
        let Some(p) = &e.products else { continue };
        let list = at(p, &["products"])
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for x in list {
            tb.rows.push(vec![
                t(&e.enterprise),
                text(x, &["product"]),
                text(x, &["cn", "code"]),
                int(x, &["kg"]),
                int(x, &["direct_g"]),
                int(x, &["electricity", "wh"]),
                int(x, &["electricity", "precise_g"]),
                int(x, &["electricity", "cbam_g"]),
                int(x, &["cbam", "counted_g"]),
                num(x, &["cbam", "see_t_per_t"], 4),
                int(x, &["footprint", "total_g"]),
                num(x, &["footprint", "t_per_t"], 4),
            ]);
        }
        if let Some(r) = at(p, &["allocation_reason"]).as_str() {
            tb.notes
                .push(format!("{}: allocation 分配 — {r}", e.enterprise));
        }
        for n in at(p, &["notes"]).as_array().map_or(&[][..], Vec::as_slice) {
            if let Some(n) = n.as_str() {
                tb.notes.push(format!("{}: {n}", e.enterprise));
            }
        }
    }
    tb
}

fn issue_row(source: &str, e: Option<&EnterpriseDoc>, x: &Value) -> Vec<Cell> {
    vec![
        t(source),
        e.map_or(Cell::Empty, |e| t(&e.enterprise)),
        text(x, &["kind"]),
        text(x, &["meter"]),
        int(x, &["intervals"]),
        int(x, &["effect_g"]),
        text(x, &["message"]),
    ]
}

/// Every data issue: those met while assembling the input from the log, and accounting's.
fn issues(d: &ReportDoc) -> Table {
    let mut tb = table(
        "Data issues 数据问题",
        vec![
            Column::text("Found by 来源"),
            enterprise_col(),
            Column::text("Kind 类型"),
            Column::text("Subject 对象"),
            Column::with_unit("Intervals 时段数", "intervals"),
            Column::with_unit("Effect 影响", G),
            Column::text("What happened 说明"),
        ],
    );
    for x in &d.issues {
        tb.rows.push(vec![
            t("log 日志"),
            Cell::Empty,
            t(&x.kind),
            t(&x.subject),
            Cell::Empty,
            Cell::Empty,
            t(&x.message),
        ]);
    }
    for e in &d.reports {
        for x in at(&e.figures, &["issues"])
            .as_array()
            .map_or(&[][..], Vec::as_slice)
        {
            tb.rows.push(issue_row("accounting 核算", Some(e), x));
        }
    }
    if tb.rows.is_empty() {
        tb.notes.push("None 无: every interval of every meter in the period is covered by an accepted, signed upload.".into());
    }
    tb
}

fn provenance(d: &ReportDoc) -> Vec<(String, String)> {
    let p = &d.provenance;
    let count = |k: &str| p.leaves.iter().filter(|l| l.kind == k).count();
    let mut v = vec![
        ("Log 账本".into(), p.log.origin.clone()),
        (
            "Log verifier key 账本公钥".into(),
            p.log.verifier_key.clone(),
        ),
        (
            "Checkpoint 检查点".into(),
            format!("size {} · root {}", p.checkpoint.size, p.checkpoint.root),
        ),
        (
            "Checkpoint note 签名检查点".into(),
            p.checkpoint.note.clone(),
        ),
        (
            "Factor publication 排放因子发布".into(),
            format!(
                "{} (log entry {}) · region {} · method {}{}",
                p.factors.id,
                p.factors.index,
                p.factors.region,
                p.factors.method,
                if p.factors.synthetic {
                    " · synthetic 合成"
                } else {
                    ""
                }
            ),
        ),
        (
            "Factor series SHA-256".into(),
            p.factors.content_sha256.clone(),
        ),
    ];
    if let Some(i) = &p.inputs {
        v.push((
            "Inputs publication 企业输入发布".into(),
            format!(
                "{} (log entry {}) · sha256 {}",
                i.id, i.index, i.content_sha256
            ),
        ));
    }
    v.extend([
        (
            "Methods 方法版本".into(),
            format!(
                "accounting {} · factors {} · report {}",
                d.methods.accounting, d.methods.factors, d.methods.report
            ),
        ),
        (
            "Log entries used 使用的日志条目".into(),
            format!(
                "{} (uploads {}, imports {}, registrations {}, publications {}), each with its leaf hash in the JSON report",
                p.leaves.len(),
                count("upload"),
                count("import"),
                count("registration"),
                count("publication")
            ),
        ),
        (
            "Audit 审计".into(),
            format!(
                "tanji audit REPORT.json --dir PARK_DIR --key '{}'",
                p.log.verifier_key
            ),
        ),
        (CONTENT_HASH_LABEL.into(), content_hash(d)),
    ]);
    v
}
