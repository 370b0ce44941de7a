//! Park outcomes against a baseline (`tanji-outcomes/v1`): for the park and each enterprise,
//! over a period against a baseline period, energy in standard coal (GB/T 2589) and energy use
//! efficiency, electricity cost at a time-of-use tariff, green electricity share, emissions
//! location- and market-based and their change in t/yr, and whether the change can be traced
//! to followed load-shift advice. Each figure carries its method and inputs; a figure whose
//! inputs are missing is absent with the reason, never zero. `docs/report.md` describes the
//! methods.
//!
//! [`outcomes`] builds the two park reports from the log ([`crate::build`]) and prices grid
//! import per hour ([`crate::site_series`]); [`compare`] is the pure part, from the reports'
//! figures.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tanji_accounting::energy::{self, Consumption, ElectricityBasis, EnergyOptions, EnergyUse};
use tanji_accounting::Output;
use tanji_ledger::NoteVerifier;
use tanji_optimizer::tariff::Tariff;
use tanji_park::view::LogView;
use tanji_store::Store;
use tanji_units::time::rfc3339;
use tanji_units::{Carrier, Unit};

use crate::doc::PeriodDoc;
use crate::export::{ExportError, Format};
use crate::gather::{load_inputs, InputsFile, PeriodEconomics};
use crate::tabular::{Cell, Column, Table, Tabular, ToTabular};
use crate::{build, ReportDoc, ReportError, Request, Scope};

/// The contract id of an outcomes document.
pub const OUTCOMES_FORMAT: &str = "tanji-outcomes/v1";

/// Seconds in the year that annualised figures refer to: 365.25 days.
pub const YEAR_S: f64 = 365.25 * 86_400.0;

/// What the load-shift outcome says: tanji does not log the advice it gives.
pub const LOAD_SHIFT_NOT_MEASURABLE: &str = "not measurable: tanji computes load-shift advice \
on demand (`tanji optimize`, the dashboard) and does not record it in the park log, so which \
shifts were proposed for a day, and whether the load that moved was moved because of them, \
cannot be told from the data; no part of the change is attributed to advice";

/// What outcomes to compute.
#[derive(Clone, Debug, PartialEq)]
pub struct OutcomesRequest {
    /// The period `[start, end)`, Unix seconds.
    pub period: (i64, i64),
    /// The baseline period `[start, end)`.
    pub baseline: (i64, i64),
    /// Factor publication (`name@vN` or name; `None` = latest).
    pub factors: Option<String>,
    /// Region of the publication.
    pub region: Option<String>,
    /// Enterprise inputs publication: instruments, value added and output per period,
    /// measured low heating values.
    pub inputs: Option<String>,
    /// How electricity is turned into standard coal.
    pub electricity: ElectricityBasis,
    /// The tariff grid import is priced at.
    pub tariff: Tariff,
}

impl OutcomesRequest {
    /// Outcomes of `period` against `baseline`, priced at the tariff in `tariff_toml` (the
    /// `tanji optimize` format; `None` = the illustrative tariff, which the document names as
    /// such), electricity at its equal value `equal_value` kgce/kWh when given (else the
    /// equivalent value); the latest factor publication, its only region, no inputs.
    pub fn new(
        period: (i64, i64),
        baseline: (i64, i64),
        tariff_toml: Option<&str>,
        equal_value: Option<f64>,
    ) -> Result<OutcomesRequest, ReportError> {
        let tariff = match tariff_toml {
            Some(t) => toml::from_str(t)
                .map_err(|e| ReportError::Request(format!("the tariff file: {e}")))?,
            None => Tariff::illustrative(),
        };
        let electricity = equal_value.map_or(ElectricityBasis::Equivalent, |value| {
            ElectricityBasis::EqualValue(tanji_accounting::NamedFactor {
                value,
                source: "given by the user (the year's standard-coal consumption of thermal power)"
                    .into(),
            })
        });
        Ok(OutcomesRequest {
            period,
            baseline,
            factors: None,
            region: None,
            inputs: None,
            electricity,
            tariff,
        })
    }
}

/// One figure: its value, unit and method, or the reason it is absent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// The value; `None` = absent (see `absent`).
    pub value: Option<f64>,
    /// Unit.
    pub unit: String,
    /// How it is computed, with its inputs.
    pub method: String,
    /// Why it is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent: Option<String>,
}

impl Figure {
    fn of(value: f64, unit: &str, method: impl Into<String>) -> Figure {
        Figure {
            value: Some(value),
            unit: unit.into(),
            method: method.into(),
            absent: None,
        }
    }

    fn absent(unit: &str, method: impl Into<String>, why: impl Into<String>) -> Figure {
        Figure {
            value: None,
            unit: unit.into(),
            method: method.into(),
            absent: Some(why.into()),
        }
    }

    fn from(r: Result<f64, String>, unit: &str, method: impl Into<String>) -> Figure {
        match r {
            Ok(v) => Figure::of(v, unit, method),
            Err(why) => Figure::absent(unit, method, why),
        }
    }
}

/// Electricity cost at the tariff over one period, from hourly grid import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Σ hourly import × the tariff's price of the hour, CNY.
    pub cny: f64,
    /// Hours with grid import data.
    pub hours_priced: u64,
    /// Hours of the period.
    pub hours: u64,
}

/// One enterprise over one period, as [`compare`] takes it.
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodInput<'a> {
    /// The accounting figures (`EnterpriseDoc::figures`).
    pub figures: &'a serde_json::Value,
    /// Electricity cost, or why it could not be had.
    pub cost: Result<Cost, String>,
    /// Why the enterprise has no figures in the period (no meter with an accepted upload):
    /// every figure of the period is then absent with this reason, not zero.
    pub no_data: Option<String>,
}

/// One period's outcomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeriodOutcomes {
    /// Comprehensive energy consumption in standard coal, with its lines.
    pub energy: EnergyUse,
    /// tce.
    pub tce: Figure,
    /// Value added, 10⁴ CNY.
    pub value_added: Figure,
    /// Output.
    pub output: Figure,
    /// Energy use efficiency: value added per tce, 10⁴ CNY/tce.
    pub value_added_per_tce: Figure,
    /// Energy use efficiency: output per tce.
    pub output_per_tce: Figure,
    /// tce per 10⁴ CNY value added.
    pub tce_per_10k_cny: Figure,
    /// tce per unit of output.
    pub tce_per_output: Figure,
    /// tCO2 (Scope 1 + Scope 2 location-based) per 10⁴ CNY value added.
    pub tco2_per_10k_cny: Figure,
    /// Electricity cost at the tariff.
    pub cost: Figure,
    /// Green electricity share.
    pub green_share: Figure,
    /// Scope 1 + 2 location-based, t CO2.
    pub location_t: Figure,
    /// Scope 1 + 2 market-based, t CO2.
    pub market_t: Figure,
    /// location_t annualised, t/yr.
    pub location_t_per_yr: Figure,
    /// market_t annualised, t/yr.
    pub market_t_per_yr: Figure,
}

/// The change from the baseline to the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Value added per tce, %.
    pub value_added_per_tce_pct: Figure,
    /// Output per tce, %.
    pub output_per_tce_pct: Figure,
    /// Annualised cost, %.
    pub cost_per_yr_pct: Figure,
    /// Green share, percentage points.
    pub green_share_points: Figure,
    /// Location-based emissions, t/yr.
    pub location_t_per_yr: Figure,
    /// Market-based emissions, t/yr.
    pub market_t_per_yr: Figure,
    /// The part of the change due to load shifts advice proposed and that were followed.
    pub followed_advice_t_per_yr: Figure,
}

/// Outcomes of the park or one enterprise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubjectOutcomes {
    /// `park` or the enterprise id.
    pub subject: String,
    /// The period.
    pub period: PeriodOutcomes,
    /// The baseline.
    pub baseline: PeriodOutcomes,
    /// period − baseline.
    pub change: Change,
}

/// What decided the outcomes besides the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutcomesParameters {
    /// Factor publication used by both reports.
    pub factors: String,
    /// Region.
    pub region: String,
    /// Inputs publication, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<String>,
    /// Electricity in standard coal.
    pub electricity: ElectricityBasis,
    /// The tariff: name and source.
    pub tariff: String,
    /// Checkpoint (tree size) both reports were built at.
    pub checkpoint_size: u64,
    /// Its root hash, base64.
    pub checkpoint_root: String,
}

/// The outcomes document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutcomesDoc {
    /// Always [`OUTCOMES_FORMAT`].
    pub format: String,
    /// The park's name.
    pub park: String,
    /// The period.
    pub period: PeriodDoc,
    /// The baseline period.
    pub baseline: PeriodDoc,
    /// Parameters.
    pub parameters: OutcomesParameters,
    /// The park (sums over its enterprises).
    pub park_outcomes: SubjectOutcomes,
    /// Each enterprise, by id.
    pub enterprises: Vec<SubjectOutcomes>,
}

/// The accounting figures outcomes read (a subset of `tanji_accounting::Report`).
#[derive(Deserialize)]
struct Figs {
    scope1: S1,
    scope2_location: S2L,
    scope2_market: S2M,
    indicators: Ind,
}
#[derive(Deserialize)]
struct S1 {
    lines: Vec<FuelL>,
    fossil_g: i64,
}
#[derive(Deserialize)]
struct FuelL {
    meter: String,
    carrier: Carrier,
    quantity_milli: i64,
    unit: Unit,
    density_kg_per_l: Option<f64>,
    gas_volume: Option<GasV>,
}
#[derive(Deserialize)]
struct GasV {
    normal_m3_milli: i64,
}
#[derive(Deserialize)]
struct S2L {
    import_wh: i64,
    heat: Vec<HeatL>,
    total_g: i64,
}
#[derive(Deserialize)]
struct HeatL {
    meter: String,
    carrier: Carrier,
    quantity_milli: i64,
    unit: Unit,
    energy_mj: i64,
}
#[derive(Deserialize)]
struct S2M {
    total_g: i64,
}
#[derive(Deserialize)]
struct Ind {
    consumption_wh: i64,
    green_wh: i64,
}

/// The sums one subject's period outcomes are made from.
#[derive(Default)]
struct Sums {
    items: Vec<Consumption>,
    location_g: i64,
    market_g: i64,
    consumption_wh: i64,
    green_wh: i64,
    cost: Option<Result<Cost, String>>,
}

impl Sums {
    fn add(
        &mut self,
        prefix: &str,
        f: &serde_json::Value,
        cost: &Result<Cost, String>,
    ) -> Result<(), String> {
        let f: Figs = serde_json::from_value(f.clone())
            .map_err(|e| format!("{prefix}: the report's figures do not read: {e}"))?;
        let named = |m: &str| {
            if prefix.is_empty() {
                m.to_owned()
            } else {
                format!("{prefix}/{m}")
            }
        };
        self.items.push(Consumption {
            meter: named("grid"),
            carrier: Carrier::ElectricityImport,
            quantity_milli: f.scope2_location.import_wh,
            unit: Unit::KWh,
            density_kg_per_l: None,
            normal_m3_milli: None,
            energy_mj: None,
        });
        self.items
            .extend(f.scope1.lines.iter().map(|l| Consumption {
                meter: named(&l.meter),
                carrier: l.carrier,
                quantity_milli: l.quantity_milli,
                unit: l.unit,
                density_kg_per_l: l.density_kg_per_l,
                normal_m3_milli: l.gas_volume.as_ref().map(|g| g.normal_m3_milli),
                energy_mj: None,
            }));
        self.items
            .extend(f.scope2_location.heat.iter().map(|h| Consumption {
                meter: named(&h.meter),
                carrier: h.carrier,
                quantity_milli: h.quantity_milli,
                unit: h.unit,
                density_kg_per_l: None,
                normal_m3_milli: None,
                energy_mj: Some(h.energy_mj),
            }));
        self.location_g += f.scope1.fossil_g + f.scope2_location.total_g;
        self.market_g += f.scope1.fossil_g + f.scope2_market.total_g;
        self.consumption_wh += f.indicators.consumption_wh;
        self.green_wh += f.indicators.green_wh;
        self.cost = Some(match (self.cost.take(), cost) {
            (None, c) => c.clone(),
            (Some(Ok(a)), Ok(b)) => Ok(Cost {
                cny: a.cny + b.cny,
                hours_priced: a.hours_priced + b.hours_priced,
                hours: a.hours + b.hours,
            }),
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(_)), Err(e)) => Err(format!("{prefix}: {e}")),
        });
        Ok(())
    }
}

/// Value added (CNY) and output of a period, or why each is absent, and the sources the
/// inputs name for them.
type Economics = (Result<f64, String>, Result<Output, String>, Vec<String>);

/// Value added (CNY) and output of `[start, end)` from an enterprise's period entries: the
/// entries inside the period must tile it exactly (no gap, no overlap).
fn economics(entries: &[PeriodEconomics], (start, end): (i64, i64)) -> Economics {
    let mut inside: Vec<&PeriodEconomics> = entries
        .iter()
        .filter(|p| p.start >= start && p.end <= end)
        .collect();
    inside.sort_by_key(|p| p.start);
    let span = format!("{}..{}", rfc3339(start), rfc3339(end));
    let mut at = start;
    for p in &inside {
        if p.start != at {
            let why = format!(
                "the inputs' periods do not cover {span}: nothing given for {}..{}",
                rfc3339(at),
                rfc3339(p.start)
            );
            return (Err(why.clone()), Err(why), Vec::new());
        }
        at = p.end;
    }
    if inside.is_empty() || at != end {
        let why = format!(
            "the inputs publication gives no value added or output for {}..{}",
            rfc3339(at),
            rfc3339(end)
        );
        return (Err(why.clone()), Err(why), Vec::new());
    }
    let mut sources: Vec<String> = inside.iter().filter_map(|p| p.source.clone()).collect();
    sources.sort();
    sources.dedup();
    let va = inside
        .iter()
        .map(|p| p.value_added_cny.ok_or(p))
        .collect::<Result<Vec<f64>, _>>()
        .map(|v| v.iter().sum())
        .map_err(|p| {
            format!(
                "no value added given for {}..{}",
                rfc3339(p.start),
                rfc3339(p.end)
            )
        });
    let mut out: Result<Output, String> = Ok(Output {
        quantity_milli: 0,
        unit: String::new(),
    });
    for p in &inside {
        out = match (out, &p.output) {
            (Err(e), _) => Err(e),
            (Ok(_), None) => Err(format!(
                "no output given for {}..{}",
                rfc3339(p.start),
                rfc3339(p.end)
            )),
            (Ok(a), Some(o)) if a.unit.is_empty() || a.unit == o.unit => Ok(Output {
                quantity_milli: a.quantity_milli + o.quantity_milli,
                unit: o.unit.clone(),
            }),
            (Ok(a), Some(o)) => Err(format!(
                "output is given in {} and in {}; they do not add up",
                a.unit, o.unit
            )),
        };
    }
    (va, out, sources)
}

fn ratio(a: &Figure, b: &Figure, what: &str) -> Result<f64, String> {
    match (a.value, b.value) {
        (Some(x), Some(y)) if y > 0.0 => Ok(x / y),
        (Some(_), Some(_)) => Err(format!("{what}: the divisor is zero")),
        (None, _) => Err(a.absent.clone().unwrap_or_default()),
        (_, None) => Err(b.absent.clone().unwrap_or_default()),
    }
}

fn period_outcomes(
    s: &Sums,
    (va, out, sources): Economics,
    (start, end): (i64, i64),
    opts: &EnergyOptions,
) -> PeriodOutcomes {
    let from_inputs = |what: &str| match sources.is_empty() {
        true => format!("{what} of the period, from the inputs publication"),
        false => format!(
            "{what} of the period, from the inputs publication; source: {}",
            sources.join("; ")
        ),
    };
    let e = energy::standard_coal(&s.items, opts);
    let tce_method = format!(
        "Σ purchased energy (grid import, fuels, purchased heat and steam) × its {}; PV and export not counted",
        energy::SOURCE
    );
    let tce = if e.not_converted.is_empty() {
        Figure::of(e.tce, "tce", tce_method)
    } else {
        let why = e
            .not_converted
            .iter()
            .map(|n| format!("{}: {}", n.meter, n.reason))
            .collect::<Vec<_>>()
            .join("; ");
        Figure::absent(
            "tce",
            tce_method,
            format!("not every carrier converts: {why}"),
        )
    };
    let value_added = Figure::from(
        va.map(|cny| cny / 1e4),
        "10⁴ CNY",
        from_inputs("value added (增加值)"),
    );
    let out_unit = out.as_ref().map(|o| o.unit.clone()).unwrap_or_default();
    let output = Figure::from(
        out.map(|o| o.quantity_milli as f64 / 1000.0),
        &out_unit,
        from_inputs("output"),
    );
    let years = (end - start) as f64 / YEAR_S;
    let location_t = s.location_g as f64 / 1e6;
    let market_t = s.market_g as f64 / 1e6;
    let annual = "t over the period × 365.25 days ÷ the period's length in days (a plain \
                  scaling: a period shorter than a year carries its season into the figure)";
    let cost = match &s.cost {
        Some(Ok(c)) if c.hours_priced > 0 => Figure::of(
            c.cny,
            "CNY",
            format!(
                "Σ over 5-minute slots of grid import × the tariff's price of that slot; electricity \
                 only (tanji holds no fuel or heat prices); {} of {} hours have import data",
                c.hours_priced, c.hours
            ),
        ),
        Some(Ok(_)) => Figure::absent(
            "CNY",
            "hourly import × tariff",
            "no hour has grid import data",
        ),
        Some(Err(e)) => Figure::absent("CNY", "hourly import × tariff", e.clone()),
        None => Figure::absent("CNY", "hourly import × tariff", "no enterprise"),
    };
    PeriodOutcomes {
        value_added_per_tce: Figure::from(
            ratio(&value_added, &tce, "value added per tce"),
            "10⁴ CNY/tce",
            "energy use efficiency = value added ÷ comprehensive energy consumption (tce)",
        ),
        output_per_tce: Figure::from(
            ratio(&output, &tce, "output per tce"),
            &format!("{out_unit}/tce"),
            "energy use efficiency = output ÷ comprehensive energy consumption (tce)",
        ),
        tce_per_10k_cny: Figure::from(
            ratio(&tce, &value_added, "tce per value added"),
            "tce/10⁴ CNY",
            "comprehensive energy consumption ÷ value added (energy intensity, dual control)",
        ),
        tce_per_output: Figure::from(
            ratio(&tce, &output, "tce per output"),
            &format!("tce/{out_unit}"),
            "comprehensive energy consumption ÷ output (unit product energy consumption)",
        ),
        tco2_per_10k_cny: Figure::from(
            ratio(
                &Figure::of(location_t, "t", ""),
                &value_added,
                "tCO2 per value added",
            ),
            "tCO2/10⁴ CNY",
            "(Scope 1 + Scope 2 location-based) ÷ value added (carbon intensity, dual control)",
        ),
        green_share: Figure::from(
            if s.consumption_wh > 0 {
                Ok(s.green_wh as f64 / s.consumption_wh as f64 * 100.0)
            } else {
                Err("no electricity consumed".into())
            },
            "%",
            format!(
                "(PV consumed on site + green purchases and certificates applied) ÷ electricity \
                 consumed = {} kWh ÷ {} kWh",
                s.green_wh / 1000,
                s.consumption_wh / 1000
            ),
        ),
        location_t: Figure::of(
            location_t,
            "t CO2",
            "Scope 1 fossil + Scope 2 location-based",
        ),
        market_t: Figure::of(market_t, "t CO2", "Scope 1 fossil + Scope 2 market-based"),
        location_t_per_yr: Figure::of(location_t / years, "t CO2/yr", annual),
        market_t_per_yr: Figure::of(market_t / years, "t CO2/yr", annual),
        energy: e,
        tce,
        value_added,
        output,
        cost,
    }
}

fn change(p: &PeriodOutcomes, b: &PeriodOutcomes, p_years: f64, b_years: f64) -> Change {
    let pct = |a: &Figure, z: &Figure, what: &str| {
        Figure::from(
            ratio(a, z, what).map(|r| (r - 1.0) * 100.0),
            "%",
            format!("({what} of the period ÷ {what} of the baseline − 1) × 100"),
        )
    };
    let diff = |a: &Figure, z: &Figure, unit: &str, method: &str| {
        Figure::from(
            match (a.value, z.value) {
                (Some(x), Some(y)) => Ok(x - y),
                (None, _) => Err(a.absent.clone().unwrap_or_default()),
                (_, None) => Err(z.absent.clone().unwrap_or_default()),
            },
            unit,
            method,
        )
    };
    let per_yr = |c: &Figure, years: f64| Figure {
        value: c.value.map(|v| v / years),
        ..c.clone()
    };
    Change {
        value_added_per_tce_pct: pct(&p.value_added_per_tce, &b.value_added_per_tce, "value added per tce"),
        output_per_tce_pct: pct(&p.output_per_tce, &b.output_per_tce, "output per tce"),
        cost_per_yr_pct: pct(
            &per_yr(&p.cost, p_years),
            &per_yr(&b.cost, b_years),
            "electricity cost per year",
        ),
        green_share_points: diff(
            &p.green_share,
            &b.green_share,
            "percentage points",
            "green share of the period − green share of the baseline",
        ),
        location_t_per_yr: diff(
            &p.location_t_per_yr,
            &b.location_t_per_yr,
            "t CO2/yr",
            "annualised location-based emissions of the period − of the baseline",
        ),
        market_t_per_yr: diff(
            &p.market_t_per_yr,
            &b.market_t_per_yr,
            "t CO2/yr",
            "annualised market-based emissions of the period − of the baseline",
        ),
        followed_advice_t_per_yr: Figure::absent(
            "t CO2/yr",
            "load shifts proposed by advice and followed, × the factor difference of the hours moved between",
            LOAD_SHIFT_NOT_MEASURABLE,
        ),
    }
}

/// One enterprise's two periods, as [`compare`] takes them.
#[derive(Clone, Debug, PartialEq)]
pub struct EnterprisePeriods<'a> {
    /// Enterprise id.
    pub enterprise: String,
    /// The period.
    pub period: PeriodInput<'a>,
    /// The baseline.
    pub baseline: PeriodInput<'a>,
    /// Its value added and output per period (inputs publication).
    pub economics: &'a [PeriodEconomics],
}

/// The outcomes of each enterprise and of the park (sums over the enterprises; the park's
/// value added is the sum of its enterprises', and its output only when every enterprise
/// gives one in the same unit). Pure: what [`outcomes`] computes once it has the figures.
pub fn compare(
    enterprises: &[EnterprisePeriods<'_>],
    period: (i64, i64),
    baseline: (i64, i64),
    opts: &EnergyOptions,
) -> Result<(SubjectOutcomes, Vec<SubjectOutcomes>), String> {
    let years = |(s, e): (i64, i64)| (e - s) as f64 / YEAR_S;
    let (py, by) = (years(period), years(baseline));
    if py <= 0.0 || by <= 0.0 {
        return Err("the period and the baseline must each be non-empty".into());
    }
    let mut park = (Sums::default(), Sums::default());
    let mut park_econ: (Vec<Economics>, Vec<Economics>) = (Vec::new(), Vec::new());
    let mut out = Vec::new();
    for e in enterprises {
        let mut own = (Sums::default(), Sums::default());
        own.0.add("", e.period.figures, &e.period.cost)?;
        own.1.add("", e.baseline.figures, &e.baseline.cost)?;
        park.0
            .add(&e.enterprise, e.period.figures, &e.period.cost)?;
        park.1
            .add(&e.enterprise, e.baseline.figures, &e.baseline.cost)?;
        let (pe, be) = (
            economics(e.economics, period),
            economics(e.economics, baseline),
        );
        park_econ.0.push(named(&e.enterprise, &pe));
        park_econ.1.push(named(&e.enterprise, &be));
        let p = period_outcomes(&own.0, pe, period, &enterprise_opts(opts, &e.enterprise));
        let b = period_outcomes(&own.1, be, baseline, &enterprise_opts(opts, &e.enterprise));
        let p = absent_without_data(p, e.period.no_data.as_deref());
        let b = absent_without_data(b, e.baseline.no_data.as_deref());
        out.push(SubjectOutcomes {
            subject: e.enterprise.clone(),
            change: change(&p, &b, py, by),
            period: p,
            baseline: b,
        });
    }
    let p = period_outcomes(&park.0, park_sum(&park_econ.0), period, opts);
    let b = period_outcomes(&park.1, park_sum(&park_econ.1), baseline, opts);
    Ok((
        SubjectOutcomes {
            subject: "park".into(),
            change: change(&p, &b, py, by),
            period: p,
            baseline: b,
        },
        out,
    ))
}

/// `p` with every figure absent for `why`, when given.
fn absent_without_data(p: PeriodOutcomes, why: Option<&str>) -> PeriodOutcomes {
    let Some(why) = why else { return p };
    let gone = |f: Figure| Figure::absent(&f.unit, f.method, why);
    PeriodOutcomes {
        energy: p.energy,
        tce: gone(p.tce),
        value_added: p.value_added,
        output: p.output,
        value_added_per_tce: gone(p.value_added_per_tce),
        output_per_tce: gone(p.output_per_tce),
        tce_per_10k_cny: gone(p.tce_per_10k_cny),
        tce_per_output: gone(p.tce_per_output),
        tco2_per_10k_cny: gone(p.tco2_per_10k_cny),
        cost: gone(p.cost),
        green_share: gone(p.green_share),
        location_t: gone(p.location_t),
        market_t: gone(p.market_t),
        location_t_per_yr: gone(p.location_t_per_yr),
        market_t_per_yr: gone(p.market_t_per_yr),
    }
}

/// An enterprise's options: its meters' measured LHVs are keyed `enterprise/meter` in the
/// park's options.
fn enterprise_opts(opts: &EnergyOptions, enterprise: &str) -> EnergyOptions {
    let prefix = format!("{enterprise}/");
    EnergyOptions {
        electricity: opts.electricity.clone(),
        lhv: opts
            .lhv
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_owned(), v.clone())))
            .collect(),
    }
}

fn named(e: &str, (va, out, sources): &Economics) -> Economics {
    (
        va.clone().map_err(|w| format!("{e}: {w}")),
        out.clone().map_err(|w| format!("{e}: {w}")),
        sources.clone(),
    )
}

fn park_sum(parts: &[Economics]) -> Economics {
    if parts.is_empty() {
        let why = "the park has no enterprise".to_owned();
        return (Err(why.clone()), Err(why), Vec::new());
    }
    let mut sources: Vec<String> = parts.iter().flat_map(|p| p.2.clone()).collect();
    sources.sort();
    sources.dedup();
    let va = parts
        .iter()
        .map(|p| p.0.clone())
        .collect::<Result<Vec<f64>, String>>()
        .map(|v| v.iter().sum());
    let mut out: Result<Output, String> = Ok(Output {
        quantity_milli: 0,
        unit: String::new(),
    });
    for (_, o, _) in parts {
        out = match (out, o) {
            (Err(e), _) => Err(e),
            (_, Err(e)) => Err(e.clone()),
            (Ok(a), Ok(o)) if a.unit.is_empty() || a.unit == o.unit => Ok(Output {
                quantity_milli: a.quantity_milli + o.quantity_milli,
                unit: o.unit.clone(),
            }),
            (Ok(a), Ok(o)) => Err(format!(
                "the enterprises' outputs are in {} and {}; a park output per tce needs one unit",
                a.unit, o.unit
            )),
        };
    }
    (va, out, sources)
}

/// The slot grid import is priced on, seconds: meters of 5 minutes or any multiple of it
/// (15 min, 30 min, an hour) spread into it; a meter of a shorter interval is not priced.
const PRICE_SLOT_S: u32 = 300;

/// Grid import of `enterprise` over `[start, end)` priced slot by slot at `tariff`; an hour
/// counts as priced when any of its slots has import data.
fn cost_of<S: Store>(
    store: &S,
    enterprise: &str,
    (start, end): (i64, i64),
    tariff: &Tariff,
) -> Result<Cost, ReportError> {
    let slot = i64::from(PRICE_SLOT_S);
    let n = usize::try_from((end - start).div_euclid(slot)).unwrap_or(0);
    let s = crate::site_series(store, enterprise, start, PRICE_SLOT_S, n)?;
    let prices = tariff
        .prices(start, PRICE_SLOT_S, n)
        .map_err(|e| ReportError::Request(e.to_string()))?;
    let per_hour = usize::try_from(3600 / slot).unwrap_or(1);
    let mut cost = Cost {
        cny: 0.0,
        hours_priced: 0,
        hours: u64::try_from((end - start).div_euclid(3600)).unwrap_or(0),
    };
    for (wh, (_, price)) in s.import_wh.iter().zip(&prices) {
        if let Some(wh) = wh {
            cost.cny += *wh as f64 / 1000.0 * price;
        }
    }
    cost.hours_priced = s
        .import_wh
        .chunks(per_hour)
        .filter(|h| h.iter().any(Option::is_some))
        .count() as u64;
    Ok(cost)
}

fn park_report<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    req: &OutcomesRequest,
    period: (i64, i64),
    checkpoint: Option<u64>,
) -> Result<ReportDoc, ReportError> {
    let mut r = Request::new(Scope::Park);
    r.period = Some(period);
    r.factors.clone_from(&req.factors);
    r.region.clone_from(&req.region);
    r.inputs.clone_from(&req.inputs);
    r.checkpoint_size = checkpoint;
    let built = build(store, verifier, &r)?;
    if let Some(p) = built.problems.first() {
        return Err(ReportError::Log(p.to_string()));
    }
    Ok(built.doc)
}

/// The park's outcomes over `req.period` against `req.baseline`, from the log at its latest
/// checkpoint (both periods at the same checkpoint, with the same factor publication).
pub fn outcomes<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    req: &OutcomesRequest,
) -> Result<OutcomesDoc, ReportError> {
    let current = park_report(store, verifier, req, req.period, None)?;
    let size = current.provenance.checkpoint.size;
    let base = park_report(store, verifier, req, req.baseline, Some(size))?;
    let inputs: Option<InputsFile> = match &req.inputs {
        Some(want) => {
            let view = LogView::read(store, size)?;
            Some(load_inputs(store, &view, verifier, want)?.file)
        }
        None => None,
    };
    let mut lhv = BTreeMap::new();
    for (e, i) in inputs.iter().flat_map(|f| &f.enterprises) {
        for (m, v) in &i.lhv {
            lhv.insert(format!("{e}/{m}"), v.clone());
        }
    }
    let opts = EnergyOptions {
        electricity: req.electricity.clone(),
        lhv,
    };
    let none: Vec<PeriodEconomics> = Vec::new();
    let mut list = Vec::new();
    for r in &current.reports {
        let Some(b) = base.reports.iter().find(|b| b.enterprise == r.enterprise) else {
            return Err(ReportError::Request(format!(
                "enterprise {} has no data in the baseline period; choose a baseline its meters cover",
                r.enterprise
            )));
        };
        let cost = |p| cost_of(store, &r.enterprise, p, &req.tariff).map_err(|e| e.to_string());
        let no_data = |d: &crate::EnterpriseDoc| {
            (d.uploads == 0 && d.meters.is_empty()).then(|| {
                format!(
                    "no meter of {} has an accepted upload in this period: nothing was measured",
                    d.enterprise
                )
            })
        };
        list.push(EnterprisePeriods {
            enterprise: r.enterprise.clone(),
            period: PeriodInput {
                figures: &r.figures,
                cost: cost(req.period),
                no_data: no_data(r),
            },
            baseline: PeriodInput {
                figures: &b.figures,
                cost: cost(req.baseline),
                no_data: no_data(b),
            },
            economics: inputs
                .as_ref()
                .and_then(|f| f.enterprises.get(&r.enterprise))
                .map_or(&none[..], |i| &i.periods[..]),
        });
    }
    let (park, enterprises) =
        compare(&list, req.period, req.baseline, &opts).map_err(ReportError::Request)?;
    Ok(OutcomesDoc {
        format: OUTCOMES_FORMAT.into(),
        park: current.scope.park.clone(),
        period: current.period.clone(),
        baseline: base.period.clone(),
        parameters: OutcomesParameters {
            factors: current.parameters.factors.clone(),
            region: current.parameters.region.clone(),
            inputs: current.parameters.inputs.clone(),
            electricity: req.electricity.clone(),
            tariff: format!("{} ({})", req.tariff.name, req.tariff.source),
            checkpoint_size: size,
            checkpoint_root: current.provenance.checkpoint.root.clone(),
        },
        park_outcomes: park,
        enterprises,
    })
}

/// What [`illustrative_inputs`] says of its figures.
pub const ILLUSTRATIVE_SOURCE: &str = "ILLUSTRATIVE, made up by `tanji demo`: a constant value \
added and output per day for each enterprise, not any enterprise's accounts";

/// An inputs document giving every enterprise registered in the log a value added and an
/// output for each whole UTC day of `[start, end)`, made up (a constant per day, larger for
/// later enterprises) and saying so in each entry's `source` ([`ILLUSTRATIVE_SOURCE`]): what
/// the demo publishes so that its outcomes have efficiencies and intensities.
pub fn illustrative_inputs<S: Store>(
    store: &S,
    (start, end): (i64, i64),
) -> Result<InputsFile, ReportError> {
    let view = LogView::read(store, store.size()?)?;
    let day = tanji_units::time::DAY_S;
    let mut enterprises = BTreeMap::new();
    for r in view.registrations.in_force_all() {
        let n = enterprises.len() as i64;
        enterprises
            .entry(r.reg.enterprise.clone())
            .or_insert_with(|| crate::EnterpriseInputs {
                periods: (start.div_euclid(day)..end.div_euclid(day))
                    .map(|d| PeriodEconomics {
                        start: d * day,
                        end: (d + 1) * day,
                        value_added_cny: Some(20_000.0 + 5_000.0 * (n % 8) as f64),
                        output: Some(Output {
                            quantity_milli: (10 + 2 * (n % 8)) * 1000,
                            unit: "t".into(),
                        }),
                        source: Some(ILLUSTRATIVE_SOURCE.into()),
                    })
                    .collect(),
                ..Default::default()
            });
    }
    Ok(InputsFile {
        matching: tanji_accounting::Matching::Annual,
        residual: tanji_accounting::Residual::ChinaExcludingTraded,
        enterprises,
    })
}

/// The name `tanji demo` publishes [`illustrative_inputs`] under.
pub const ILLUSTRATIVE_INPUTS: &str = "demo-illustrative-economics";

/// What `tanji demo` does for outcomes: publishes [`illustrative_inputs`] for the whole UTC
/// days of `span` as [`ILLUSTRATIVE_INPUTS`] and computes the park's outcomes of the span's
/// two halves ([`Comparison::halves`], what the dashboard shows when no dates are asked) with
/// them; `None` (nothing published) when the span holds fewer than two whole days.
pub fn illustrative_outcomes<S: Store>(
    park: &mut tanji_park::Park<S>,
    span: (i64, i64),
    now: i64,
) -> Result<Option<OutcomesDoc>, ReportError> {
    let Some(c) = Comparison::halves(span) else {
        return Ok(None);
    };
    let file = illustrative_inputs(park.store(), span)?;
    let content =
        serde_json::to_vec_pretty(&file).map_err(|e| ReportError::Request(e.to_string()))?;
    let (p, _) = crate::publish_inputs(park, ILLUSTRATIVE_INPUTS, content, now)
        .map_err(|e| ReportError::Request(format!("publishing the illustrative inputs: {e}")))?;
    let mut req = OutcomesRequest::new(c.period, c.baseline, None, None)?;
    req.inputs = Some(p.id);
    outcomes(park.store(), &park.verifier(), &req).map(Some)
}

fn show(f: &Figure, decimals: usize) -> String {
    match f.value {
        Some(v) => format!("{v:.decimals$} {}", f.unit),
        None => format!("— ({})", f.absent.as_deref().unwrap_or("absent")),
    }
}

/// The outcomes as plain text: the park first, then each enterprise.
pub fn render_outcomes_text(doc: &OutcomesDoc) -> String {
    let mut s = format!(
        "Outcomes of park {}: {} .. {} against the baseline {} .. {}\n\
         factors {} ({}), tariff {}\n",
        doc.park,
        doc.period.start,
        doc.period.end,
        doc.baseline.start,
        doc.baseline.end,
        doc.parameters.factors,
        doc.parameters.region,
        doc.parameters.tariff
    );
    for o in std::iter::once(&doc.park_outcomes).chain(&doc.enterprises) {
        s.push_str(&format!("\n== {} ==\n", o.subject));
        for (label, row) in rows(o) {
            s.push_str(&format!(
                "  {label:<34} baseline {:<28} period {:<28} change {}\n",
                show(row.0, 3),
                show(row.1, 3),
                row.2.map_or_else(String::new, |c| show(c, 2))
            ));
        }
        s.push_str(&format!(
            "  {:<34} {}\n",
            "part of the change due to followed advice",
            show(&o.change.followed_advice_t_per_yr, 1)
        ));
    }
    s.push_str(
        "\nMethods: tce by GB/T 2589 (docs/reference/gbt2589.md); efficiency = value added or \
         output ÷ tce; cost = hourly grid import × tariff; green share = (PV self-use + green \
         purchases + certificates) ÷ consumption; t/yr = t ÷ period days × 365.25. See docs/report.md.\n",
    );
    s
}

/// The outcomes in `format`: text as [`render_outcomes_text`] writes it, every other format
/// as any document made from a report ([`crate::render_document_as`]).
pub fn render_outcomes(doc: &OutcomesDoc, format: Format) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Text => Ok(render_outcomes_text(doc).into_bytes()),
        f => crate::render_document_as(doc, f),
    }
}

/// The park's headline outcomes in a few lines, each with its method in brief: what `tanji
/// demo` prints.
pub fn render_outcomes_summary(doc: &OutcomesDoc) -> String {
    let o = &doc.park_outcomes;
    let (b, p, c) = (&o.baseline, &o.period, &o.change);
    let line = |label: &str, b: &Figure, p: &Figure, c: Option<&Figure>, how: &str| {
        let change = c.map_or_else(String::new, |c| format!(", change {}", show(c, 1)));
        format!(
            "  {label}: baseline {}, period {}{change}  [{how}]\n",
            show(b, 2),
            show(p, 2)
        )
    };
    let mut s = format!(
        "park outcomes, {} .. {} against the baseline {} .. {}:\n",
        &doc.period.start[..10.min(doc.period.start.len())],
        &doc.period.end[..10.min(doc.period.end.len())],
        &doc.baseline.start[..10.min(doc.baseline.start.len())],
        &doc.baseline.end[..10.min(doc.baseline.end.len())],
    );
    s.push_str(&line(
        "energy",
        &b.tce,
        &p.tce,
        None,
        "GB/T 2589, electricity at 0.1229 kgce/kWh unless an equal value is given",
    ));
    s.push_str(&line(
        "efficiency",
        &b.value_added_per_tce,
        &p.value_added_per_tce,
        Some(&c.value_added_per_tce_pct),
        "value added ÷ tce",
    ));
    s.push_str(&line(
        "electricity cost",
        &b.cost,
        &p.cost,
        Some(&c.cost_per_yr_pct),
        "grid import × tariff per 5 minutes; change per year",
    ));
    s.push_str(&line(
        "green share",
        &b.green_share,
        &p.green_share,
        Some(&c.green_share_points),
        "(PV self-use + green purchases + certificates) ÷ consumption",
    ));
    s.push_str(&line(
        "emissions, location-based",
        &b.location_t_per_yr,
        &p.location_t_per_yr,
        Some(&c.location_t_per_yr),
        "Scope 1 + 2, t ÷ days × 365.25",
    ));
    s.push_str(&line(
        "emissions, market-based",
        &b.market_t_per_yr,
        &p.market_t_per_yr,
        Some(&c.market_t_per_yr),
        "Scope 1 + 2, t ÷ days × 365.25",
    ));
    s.push_str(&format!(
        "  due to followed advice: {}\n",
        show(&c.followed_advice_t_per_yr, 1)
    ));
    s
}

/// A period and the baseline it is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Comparison {
    /// `[start, end)`, Unix seconds.
    pub period: (i64, i64),
    /// `[start, end)`, Unix seconds.
    pub baseline: (i64, i64),
}

impl Comparison {
    /// The comparison a span of data offers when none is asked: its whole UTC days, the first
    /// half the baseline and the second half the period (of an odd number of days the middle
    /// one is in neither, so both have the same length); `None` with fewer than two whole days.
    pub fn halves((start, end): (i64, i64)) -> Option<Comparison> {
        let day = tanji_units::time::DAY_S;
        let first = start.div_euclid(day) + i64::from(start.rem_euclid(day) != 0);
        let last = end.div_euclid(day);
        let half = (last - first) / 2;
        (half >= 1).then(|| Comparison {
            baseline: (first * day, (first + half) * day),
            period: ((last - half) * day, last * day),
        })
    }
}

type Row<'a> = (&'a Figure, &'a Figure, Option<&'a Figure>);

fn rows(o: &SubjectOutcomes) -> Vec<(&'static str, Row<'_>)> {
    let (b, p, c) = (&o.baseline, &o.period, &o.change);
    vec![
        ("energy (comprehensive)", (&b.tce, &p.tce, None)),
        ("value added", (&b.value_added, &p.value_added, None)),
        ("output", (&b.output, &p.output, None)),
        (
            "efficiency: value added per tce",
            (
                &b.value_added_per_tce,
                &p.value_added_per_tce,
                Some(&c.value_added_per_tce_pct),
            ),
        ),
        (
            "efficiency: output per tce",
            (
                &b.output_per_tce,
                &p.output_per_tce,
                Some(&c.output_per_tce_pct),
            ),
        ),
        (
            "energy intensity (value added)",
            (&b.tce_per_10k_cny, &p.tce_per_10k_cny, None),
        ),
        (
            "energy intensity (output)",
            (&b.tce_per_output, &p.tce_per_output, None),
        ),
        (
            "carbon intensity (value added)",
            (&b.tco2_per_10k_cny, &p.tco2_per_10k_cny, None),
        ),
        (
            "electricity cost at the tariff",
            (&b.cost, &p.cost, Some(&c.cost_per_yr_pct)),
        ),
        (
            "green electricity share",
            (&b.green_share, &p.green_share, Some(&c.green_share_points)),
        ),
        (
            "emissions, location-based",
            (&b.location_t, &p.location_t, None),
        ),
        ("emissions, market-based", (&b.market_t, &p.market_t, None)),
        (
            "location-based, annualised",
            (
                &b.location_t_per_yr,
                &p.location_t_per_yr,
                Some(&c.location_t_per_yr),
            ),
        ),
        (
            "market-based, annualised",
            (
                &b.market_t_per_yr,
                &p.market_t_per_yr,
                Some(&c.market_t_per_yr),
            ),
        ),
    ]
}

fn cell(f: &Figure, decimals: u8) -> Cell {
    f.value
        .map_or(Cell::Empty, |value| Cell::Number { value, decimals })
}

fn text_of(f: Option<&Figure>) -> Cell {
    Cell::Text(match f {
        Some(f) => match &f.absent {
            Some(why) => format!("absent: {why}; {}", f.method),
            None => f.method.clone(),
        },
        None => String::new(),
    })
}

impl ToTabular for OutcomesDoc {
    fn to_tabular(&self) -> Tabular {
        let mut tables = Vec::new();
        for o in std::iter::once(&self.park_outcomes).chain(&self.enterprises) {
            let rows = rows(o)
                .into_iter()
                .map(|(label, (b, p, c))| {
                    vec![
                        Cell::Text(label.into()),
                        Cell::Text(p.unit.clone()),
                        cell(b, 4),
                        cell(p, 4),
                        c.map_or(Cell::Empty, |c| cell(c, 2)),
                        Cell::Text(c.map_or(String::new(), |c| c.unit.clone())),
                        text_of(Some(p)),
                    ]
                })
                .collect();
            tables.push(Table {
                title: format!("Outcomes: {}", o.subject),
                columns: vec![
                    Column::text("outcome"),
                    Column::text("unit"),
                    Column::text("baseline"),
                    Column::text("period"),
                    Column::text("change"),
                    Column::text("change unit"),
                    Column::text("method / why absent"),
                ],
                rows,
                notes: vec![format!(
                    "part of the change due to followed advice: {}",
                    o.change
                        .followed_advice_t_per_yr
                        .absent
                        .as_deref()
                        .unwrap_or("")
                )],
            });
        }
        let mut energy_rows = Vec::new();
        for (which, e) in [
            ("baseline", &self.park_outcomes.baseline.energy),
            ("period", &self.park_outcomes.period.energy),
        ] {
            for l in &e.lines {
                energy_rows.push(vec![
                    Cell::Text(which.into()),
                    Cell::Text(l.meter.clone()),
                    Cell::Text(l.carrier.code().into()),
                    Cell::Number {
                        value: l.quantity,
                        decimals: 3,
                    },
                    Cell::Text(l.unit.clone()),
                    Cell::Number {
                        value: l.coefficient,
                        decimals: 5,
                    },
                    Cell::Number {
                        value: l.kgce / 1000.0,
                        decimals: 4,
                    },
                    Cell::Text(l.basis.clone()),
                ]);
            }
        }
        tables.push(Table {
            title: "Energy in standard coal (park)".into(),
            columns: vec![
                Column::text("period"),
                Column::text("meter"),
                Column::text("carrier"),
                Column::text("quantity"),
                Column::text("unit"),
                Column::text("coefficient (kgce per unit)"),
                Column::with_unit("standard coal", "tce"),
                Column::text("basis"),
            ],
            rows: energy_rows,
            notes: vec![energy::SOURCE.into()],
        });
        Tabular {
            title: format!("园区成效 Park outcomes: {}", self.park),
            kind: "outcomes".into(),
            summary: vec![
                ("park".into(), self.park.clone()),
                (
                    "period".into(),
                    format!("{} .. {}", self.period.start, self.period.end),
                ),
                (
                    "baseline".into(),
                    format!("{} .. {}", self.baseline.start, self.baseline.end),
                ),
                ("format".into(), self.format.clone()),
            ],
            tables,
            provenance: vec![
                ("factors".into(), self.parameters.factors.clone()),
                ("region".into(), self.parameters.region.clone()),
                (
                    "inputs".into(),
                    self.parameters
                        .inputs
                        .clone()
                        .unwrap_or_else(|| "none".into()),
                ),
                ("tariff".into(), self.parameters.tariff.clone()),
                (
                    "checkpoint".into(),
                    format!(
                        "size {} root {}",
                        self.parameters.checkpoint_size, self.parameters.checkpoint_root
                    ),
                ),
            ],
        }
    }
}
