//! From generation and exchanges to a factor series: production factors, storage discharge at
//! its charging mix, consumption factors by flow tracing, and calibration.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use crate::input::{format_time, ExchangeRow, GenerationRow};
use crate::source::{Source, SourceFactors};
use crate::trace::{Network, Traced, Tracer};

/// How storage discharge is counted (part of [`crate::METHOD`]).
///
/// Storage discharge in region r over `[start, end)` is given the generation-weighted production
/// factor (direct and lifecycle) of r's generation **excluding storage** over every interval of
/// r that starts in `[start − 24 h, start]` (the preceding 24 hours and the interval itself) —
/// the mix storage most plausibly charged from, counted when it discharges, not when it charges.
/// If r had no other generation in that window, the mean over all of r's intervals in the input
/// is used; if r has no other generation at all, the table's `storage_discharge` entry. Both
/// fallbacks are reported as [`IssueKind::StorageFallback`].
pub const STORAGE_METHOD: &str =
    "storage discharge at the region's trailing-24h generation-weighted production mix \
     excluding storage (window: intervals starting in [start-24h, start]); fallback: the \
     region's whole-input mean, then the table's storage_discharge entry";

/// The storage window, seconds.
const STORAGE_WINDOW_S: i64 = 24 * 3600;

/// Earliest and latest timestamps accepted: years 0000–9999, so every one formats as RFC 3339.
const MIN_T: i64 = -62_167_219_200;
const MAX_T: i64 = 253_402_300_799;

/// Options of [`compute`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// Regions to calibrate, each to an official annual direct CO2 factor in **t/MWh** (e.g.
    /// `("Fujian", 0.4092)`). See [`Calibration`] for what is scaled.
    pub calibrate: Vec<(String, f64)>,
}

/// Factors of one region over one interval. Factors are g/kWh (= kg/MWh); `None` where the
/// factor is undefined (see the series' [`DataIssue`]s), written as an empty CSV field.
#[derive(Clone, Debug, PartialEq)]
pub struct FactorRow {
    /// Region.
    pub region: String,
    /// Interval start, Unix seconds UTC.
    pub start: i64,
    /// Interval end (exclusive), Unix seconds UTC.
    pub end: i64,
    /// Direct CO2 of the region's own generation, gCO2/kWh.
    pub production_direct: Option<f64>,
    /// Lifecycle emissions of the region's own generation, gCO2eq/kWh.
    pub production_lifecycle: Option<f64>,
    /// Direct CO2 of what the region consumes (flow-traced), gCO2/kWh.
    pub consumption_direct: Option<f64>,
    /// Lifecycle emissions of what the region consumes (flow-traced), gCO2eq/kWh.
    pub consumption_lifecycle: Option<f64>,
    /// Net supply: generation + imports − exports, MWh. Negative only for inconsistent input.
    pub consumption_mwh: f64,
}

/// What is wrong with a region's data in an interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IssueKind {
    /// No generation or exchange row names the region in this interval: every field is empty.
    NoData,
    /// No generation: the production factors are empty.
    NoGeneration,
    /// Nothing generated and nothing imported: the consumption factors are empty.
    ZeroInflow,
    /// Power flows in, but no generation feeds it (a loop of flows with no generation
    /// upstream): the consumption factors are empty.
    Untraceable,
    /// Some imports come from an untraceable region and are left out of the consumed mix.
    UntraceableImport,
    /// Generation + imports − exports is zero (pure transit): the consumption factors are empty.
    ZeroNetSupply,
    /// Exports exceed generation + imports (inconsistent data): consumption factors are empty.
    NegativeNetSupply,
    /// Storage discharge was counted at a fallback factor ([`STORAGE_METHOD`]).
    StorageFallback,
}

impl IssueKind {
    /// Stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            IssueKind::NoData => "no_data",
            IssueKind::NoGeneration => "no_generation",
            IssueKind::ZeroInflow => "zero_inflow",
            IssueKind::Untraceable => "untraceable",
            IssueKind::UntraceableImport => "untraceable_import",
            IssueKind::ZeroNetSupply => "zero_net_supply",
            IssueKind::NegativeNetSupply => "negative_net_supply",
            IssueKind::StorageFallback => "storage_fallback",
        }
    }
}

/// A data-quality finding for one region and interval. Results are still produced; the
/// affected fields are empty or, where said, computed from less.
#[derive(Clone, Debug, PartialEq)]
pub struct DataIssue {
    /// Region.
    pub region: String,
    /// Interval start, Unix seconds UTC.
    pub start: i64,
    /// Interval end, Unix seconds UTC.
    pub end: i64,
    /// What kind of issue.
    pub kind: IssueKind,
    /// The figures behind it, in words.
    pub detail: String,
}

impl fmt::Display for DataIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}, {}) {}: {}",
            self.region,
            format_time(self.start),
            format_time(self.end),
            self.kind.code(),
            self.detail
        )
    }
}

/// The scaling applied to one region's series so that its consumption-weighted mean direct
/// factor equals an official annual figure.
///
/// The official Chinese grid factors are direct CO2 per kWh consumed, so the **direct** columns
/// (`production_direct` and `consumption_direct`) of the region are multiplied by `scale`; the
/// lifecycle columns are left as computed (no official figure covers upstream emissions). Both
/// direct columns are scaled alike so an isolated region still has consumption = production.
/// The mean is `Σ consumption_direct · consumption_mwh / Σ consumption_mwh` over the region's
/// intervals with a consumption factor and positive consumption. Calibration rescales only the
/// named region's own rows; regions importing from it keep their traced figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// Region.
    pub region: String,
    /// Mean before scaling, tCO2/MWh.
    pub before: f64,
    /// The official figure, tCO2/MWh.
    pub target: f64,
    /// `target / before`.
    pub scale: f64,
    /// Mean after scaling, tCO2/MWh (equals `target` up to rounding).
    pub after: f64,
    /// Intervals in the mean.
    pub intervals: usize,
    /// Consumption over those intervals, MWh.
    pub consumption_mwh: f64,
}

impl fmt::Display for Calibration {
    /// `Fujian: direct factors x0.947012 (mean 0.432100 -> 0.409200 t/MWh, target 0.4092;
    /// 168 intervals, 412345.0 MWh)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: direct factors x{:.6} (mean {:.6} -> {:.6} t/MWh, target {}; {} intervals, {:.1} MWh)",
            self.region,
            self.scale,
            self.before,
            self.after,
            self.target,
            self.intervals,
            self.consumption_mwh
        )
    }
}

/// A factor series with its data issues and calibrations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// One row per region per interval, sorted by interval start, then region.
    pub rows: Vec<FactorRow>,
    /// Data issues, in row order.
    pub issues: Vec<DataIssue>,
    /// Calibrations applied, in [`Options::calibrate`] order.
    pub calibrations: Vec<Calibration>,
}

/// Input that [`compute`] refuses.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FactorError {
    /// A generation row is invalid.
    #[error("generation row {index} ({region} at {start}): {message}")]
    Generation {
        /// 0-based index in the slice.
        index: usize,
        /// Its region.
        region: String,
        /// Its start, RFC 3339.
        start: String,
        /// What is wrong.
        message: String,
    },
    /// An exchange row is invalid.
    #[error("exchange row {index} ({from} -> {to} at {start}): {message}")]
    Exchange {
        /// 0-based index in the slice.
        index: usize,
        /// Exporting region.
        from: String,
        /// Importing region.
        to: String,
        /// Its start, RFC 3339.
        start: String,
        /// What is wrong.
        message: String,
    },
    /// Two different intervals overlap.
    #[error(
        "intervals [{a_start}, {a_end}) and [{b_start}, {b_end}) overlap; all rows of one \
         interval must share start and end"
    )]
    OverlappingIntervals {
        /// First interval start, RFC 3339.
        a_start: String,
        /// First interval end.
        a_end: String,
        /// Second interval start.
        b_start: String,
        /// Second interval end.
        b_end: String,
    },
    /// A calibration cannot be done.
    #[error("cannot calibrate {region} to {target} t/MWh: {message}")]
    Calibration {
        /// Region.
        region: String,
        /// The official figure as given, t/MWh.
        target: f64,
        /// Why not, and what to do.
        message: String,
    },
}

fn check_interval(start: i64, end: i64) -> Option<String> {
    if end <= start {
        Some(format!(
            "end {} is not after start; intervals are [start, end)",
            format_time(end)
        ))
    } else if start < MIN_T || end > MAX_T {
        Some(format!(
            "timestamps {start}..{end} are outside years 0000-9999"
        ))
    } else {
        None
    }
}

fn check_mwh(mwh: f64) -> Option<String> {
    if !mwh.is_finite() {
        Some(format!("energy {mwh} MWh is not a finite number"))
    } else if mwh < 0.0 {
        Some(format!(
            "energy {mwh} MWh is negative; flows and generation are at least 0"
        ))
    } else {
        None
    }
}

fn validate(generation: &[GenerationRow], exchanges: &[ExchangeRow]) -> Result<(), FactorError> {
    for (index, g) in generation.iter().enumerate() {
        let problem = if g.region.is_empty() {
            Some("region name is empty".to_string())
        } else {
            check_interval(g.start, g.end).or_else(|| check_mwh(g.mwh))
        };
        if let Some(message) = problem {
            return Err(FactorError::Generation {
                index,
                region: g.region.clone(),
                start: format_time(g.start),
                message,
            });
        }
    }
    for (index, x) in exchanges.iter().enumerate() {
        let problem = if x.from.is_empty() || x.to.is_empty() {
            Some("region name is empty".to_string())
        } else if x.from == x.to {
            Some("an exchange must join two different regions".to_string())
        } else {
            check_interval(x.start, x.end).or_else(|| check_mwh(x.mwh))
        };
        if let Some(message) = problem {
            return Err(FactorError::Exchange {
                index,
                from: x.from.clone(),
                to: x.to.clone(),
                start: format_time(x.start),
                message,
            });
        }
    }
    Ok(())
}

/// The distinct intervals, sorted, or the first overlapping pair.
fn intervals(
    generation: &[GenerationRow],
    exchanges: &[ExchangeRow],
) -> Result<Vec<(i64, i64)>, FactorError> {
    let all: BTreeSet<(i64, i64)> = generation
        .iter()
        .map(|g| (g.start, g.end))
        .chain(exchanges.iter().map(|x| (x.start, x.end)))
        .collect();
    let list: Vec<(i64, i64)> = all.into_iter().collect();
    for w in list.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b.0 < a.1 {
            return Err(FactorError::OverlappingIntervals {
                a_start: format_time(a.0),
                a_end: format_time(a.1),
                b_start: format_time(b.0),
                b_end: format_time(b.1),
            });
        }
    }
    Ok(list)
}

const NS: usize = Source::ALL.len();
const STORAGE: usize = Source::StorageDischarge as usize;

/// Compute the factor series: for every region (named in `generation` or `exchanges`) and every
/// interval, the production factors, the flow-traced consumption factors and the net supply;
/// then apply [`Options::calibrate`].
///
/// Rows of one region, interval and source are summed; opposite flows between two regions in one
/// interval are netted (the flow-tracing model carries one net flow per border, as Tranberg et
/// al. and Electricity Maps do); consumption is unchanged by netting. Errors only for input that
/// is wrong as such; gaps and inconsistencies of the data are [`DataIssue`]s.
pub fn compute(
    generation: &[GenerationRow],
    exchanges: &[ExchangeRow],
    factors: &SourceFactors,
    opts: &Options,
) -> Result<Series, FactorError> {
    validate(generation, exchanges)?;
    let mut cells = Cells::new(generation, exchanges)?;
    let table: [(f64, f64); NS] = Source::ALL.map(|s| factors.get(s));
    let storage = storage_factors(&cells.ivs, cells.n_reg(), &cells.gen, &table, &cells.names);

    let mut series = Series::default();
    let mut balance = Balance::new(cells.n_reg());
    for k in 0..cells.ivs.len() {
        balance.production(&cells, k, &storage, &table);
        balance.net_flows(&mut cells.pairs[k]);
        let traced = balance.tracer.trace(&balance.net);
        balance.rows(&cells, k, &storage, &traced, &mut series);
    }
    calibrate_all(&mut series, opts)?;
    Ok(series)
}

/// The input indexed by (interval, region) cell: cell `k * n_reg + r` is interval `k` of
/// region `r`.
struct Cells<'a> {
    /// The distinct intervals, sorted.
    ivs: Vec<(i64, i64)>,
    /// The regions, sorted.
    names: Vec<&'a str>,
    /// Generation per cell and source.
    gen: Vec<[f64; NS]>,
    /// Whether a cell has any row at all.
    has_data: Vec<bool>,
    /// Flows per interval, netted per unordered pair: (a, b, a→b minus b→a) with a < b.
    pairs: Vec<Vec<(usize, usize, f64)>>,
}

impl<'a> Cells<'a> {
    fn new(
        generation: &'a [GenerationRow],
        exchanges: &'a [ExchangeRow],
    ) -> Result<Cells<'a>, FactorError> {
        let ivs = intervals(generation, exchanges)?;
        let n_int = ivs.len();
        let iv_index: HashMap<i64, usize> =
            ivs.iter().enumerate().map(|(k, iv)| (iv.0, k)).collect();

        // Deduplicate by hash first, then sort the few distinct names (a BTreeSet over millions
        // of rows spends its time comparing strings).
        let mut names: Vec<&str> = generation
            .iter()
            .map(|g| g.region.as_str())
            .chain(
                exchanges
                    .iter()
                    .flat_map(|x| [x.from.as_str(), x.to.as_str()]),
            )
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        names.sort_unstable();
        let n_reg = names.len();
        let reg_index: HashMap<&str, usize> =
            names.iter().enumerate().map(|(r, &n)| (n, r)).collect();
        let cell = |k: usize, r: usize| k * n_reg + r;

        let mut gen = vec![[0.0f64; NS]; n_int * n_reg];
        let mut has_data = vec![false; n_int * n_reg];
        for g in generation {
            let c = cell(iv_index[&g.start], reg_index[g.region.as_str()]);
            gen[c][g.source.index()] += g.mwh;
            has_data[c] = true;
        }
        let mut pairs: Vec<Vec<(usize, usize, f64)>> = vec![Vec::new(); n_int];
        for x in exchanges {
            let k = iv_index[&x.start];
            let (f, t) = (reg_index[x.from.as_str()], reg_index[x.to.as_str()]);
            has_data[cell(k, f)] = true;
            has_data[cell(k, t)] = true;
            pairs[k].push(if f < t { (f, t, x.mwh) } else { (t, f, -x.mwh) });
        }
        Ok(Cells {
            ivs,
            names,
            gen,
            has_data,
            pairs,
        })
    }

    fn n_reg(&self) -> usize {
        self.names.len()
    }

    fn cell(&self, k: usize, r: usize) -> usize {
        k * self.n_reg() + r
    }
}

/// One interval's network and the balance of every region in it; the buffers are reused from
/// interval to interval.
struct Balance {
    tracer: Tracer,
    net: Network,
    /// Generation plus imports per region.
    inflow: Vec<f64>,
    exports: Vec<f64>,
}

impl Balance {
    fn new(n_reg: usize) -> Balance {
        Balance {
            tracer: Tracer::default(),
            net: Network::default(),
            inflow: vec![0.0; n_reg],
            exports: vec![0.0; n_reg],
        }
    }

    /// Each region's generation in interval `k` and the emissions of it, storage discharge at
    /// its own factor.
    fn production(
        &mut self,
        cells: &Cells,
        k: usize,
        storage: &StorageFactors,
        table: &[(f64, f64); NS],
    ) {
        let net = &mut self.net;
        net.gen.clear();
        net.own.clear();
        for r in 0..cells.n_reg() {
            let c = cells.cell(k, r);
            let (mut total, mut d, mut l) = (0.0, 0.0, 0.0);
            for (s, &mwh) in cells.gen[c].iter().enumerate() {
                if mwh == 0.0 {
                    continue;
                }
                let (ed, el) = if s == STORAGE {
                    storage.factor[c]
                } else {
                    table[s]
                };
                total += mwh;
                d += mwh * ed;
                l += mwh * el;
            }
            net.gen.push(total);
            net.own.push([d, l]);
        }
    }

    /// Nets the interval's flows `p` per border into the network, and sums each region's
    /// inflow (generation and imports) and exports.
    fn net_flows(&mut self, p: &mut [(usize, usize, f64)]) {
        p.sort_by_key(|x| (x.0, x.1)); // stable: duplicates keep input order
        self.net.flows.clear();
        self.inflow.copy_from_slice(&self.net.gen);
        self.exports.iter_mut().for_each(|e| *e = 0.0);
        let mut it = p.iter().peekable();
        while let Some(&(a, b, first)) = it.next() {
            let mut sum = first;
            while let Some(&&(a2, b2, m)) = it.peek() {
                if (a2, b2) != (a, b) {
                    break;
                }
                sum += m;
                it.next();
            }
            let (from, to, mwh) = if sum >= 0.0 {
                (a, b, sum)
            } else {
                (b, a, -sum)
            };
            if mwh > 0.0 {
                self.net.flows.push((from, to, mwh));
                self.inflow[to] += mwh;
                self.exports[from] += mwh;
            }
        }
    }

    /// The rows of interval `k`, one per region, and their data issues.
    fn rows(
        &self,
        cells: &Cells,
        k: usize,
        storage: &StorageFactors,
        traced: &Traced,
        series: &mut Series,
    ) {
        let (start, end) = cells.ivs[k];
        for r in 0..cells.n_reg() {
            let c = cells.cell(k, r);
            let region = cells.names[r];
            let mut issue = |kind: IssueKind, detail: String| {
                series.issues.push(DataIssue {
                    region: region.to_string(),
                    start,
                    end,
                    kind,
                    detail,
                })
            };
            let mut row = FactorRow {
                region: region.to_string(),
                start,
                end,
                production_direct: None,
                production_lifecycle: None,
                consumption_direct: None,
                consumption_lifecycle: None,
                consumption_mwh: 0.0,
            };
            if !cells.has_data[c] {
                issue(
                    IssueKind::NoData,
                    "no generation or exchange row for this region and interval".into(),
                );
                series.rows.push(row);
                continue;
            }
            let g = self.net.gen[r];
            if g > 0.0 {
                row.production_direct = Some(self.net.own[r][0] / g);
                row.production_lifecycle = Some(self.net.own[r][1] / g);
            } else {
                issue(
                    IssueKind::NoGeneration,
                    "no generation; production factors undefined".into(),
                );
            }
            if let Some(why) = &storage.fallback[c] {
                issue(IssueKind::StorageFallback, why.clone());
            }
            self.consumption(r, traced, &mut row, &mut issue);
            series.rows.push(row);
        }
    }

    /// Region `r`'s net supply and consumption factors, or why they are undefined.
    fn consumption(
        &self,
        r: usize,
        traced: &Traced,
        row: &mut FactorRow,
        issue: &mut impl FnMut(IssueKind, String),
    ) {
        let (inflow, exports) = (self.inflow[r], self.exports[r]);
        let supply = inflow - exports;
        let tol = 1e-9 * inflow.max(exports);
        row.consumption_mwh = if supply.abs() <= tol { 0.0 } else { supply };
        if traced.untraceable_import[r] && traced.mix[r].is_some() {
            issue(
                IssueKind::UntraceableImport,
                "imports from a region no generation feeds are left out of the consumed mix".into(),
            );
        }
        match traced.mix[r] {
            None if inflow == 0.0 => issue(
                IssueKind::ZeroInflow,
                format!(
                    "no generation and no imports (exports {exports} MWh); consumption factors \
                     undefined"
                ),
            ),
            None => issue(
                IssueKind::Untraceable,
                format!(
                    "imports {inflow} MWh come only from a loop of flows with no generation \
                     upstream; consumption factors undefined"
                ),
            ),
            Some(_) if row.consumption_mwh == 0.0 => issue(
                IssueKind::ZeroNetSupply,
                format!(
                    "generation + imports {inflow} MWh equals exports {exports} MWh; nothing \
                     consumed, consumption factors undefined"
                ),
            ),
            Some(_) if row.consumption_mwh < 0.0 => issue(
                IssueKind::NegativeNetSupply,
                format!(
                    "exports {exports} MWh exceed generation + imports {inflow} MWh; consumption \
                     factors undefined"
                ),
            ),
            Some([d, l]) => {
                row.consumption_direct = Some(d);
                row.consumption_lifecycle = Some(l);
            }
        }
    }
}

/// Applies [`Options::calibrate`], each region at most once.
fn calibrate_all(series: &mut Series, opts: &Options) -> Result<(), FactorError> {
    let mut seen = BTreeSet::new();
    for (region, target) in &opts.calibrate {
        if !seen.insert(region.as_str()) {
            return Err(FactorError::Calibration {
                region: region.clone(),
                target: *target,
                message: "the region is listed twice".into(),
            });
        }
        let c = calibrate(&mut series.rows, region, *target)?;
        series.calibrations.push(c);
    }
    Ok(())
}

struct StorageFactors {
    /// Factor `(direct, lifecycle)` of storage discharge per (interval, region) cell; only cells
    /// with discharge are filled.
    factor: Vec<(f64, f64)>,
    /// Why a fallback was used, per cell.
    fallback: Vec<Option<String>>,
}

/// [`STORAGE_METHOD`].
fn storage_factors(
    ivs: &[(i64, i64)],
    n_reg: usize,
    gen: &[[f64; NS]],
    table: &[(f64, f64); NS],
    names: &[&str],
) -> StorageFactors {
    let n_int = ivs.len();
    let mut out = StorageFactors {
        factor: vec![(0.0, 0.0); n_int * n_reg],
        fallback: vec![None; n_int * n_reg],
    };
    // Emissions and energy of the non-storage generation of one cell.
    let other = |c: usize| {
        let (mut m, mut d, mut l) = (0.0, 0.0, 0.0);
        for s in (0..NS).filter(|&s| s != STORAGE) {
            m += gen[c][s];
            d += gen[c][s] * table[s].0;
            l += gen[c][s] * table[s].1;
        }
        (m, d, l)
    };
    if !gen.iter().any(|g| g[STORAGE] > 0.0) {
        return out;
    }
    let mut whole: Vec<Option<(f64, f64, f64)>> = vec![None; n_reg];
    let mut lo = 0;
    for (k, &(start, _)) in ivs.iter().enumerate() {
        while ivs[lo].0 < start - STORAGE_WINDOW_S {
            lo += 1;
        }
        for r in 0..n_reg {
            let c = k * n_reg + r;
            if gen[c][STORAGE] <= 0.0 {
                continue;
            }
            let (mut m, mut d, mut l) = (0.0, 0.0, 0.0);
            for kk in lo..=k {
                let (m2, d2, l2) = other(kk * n_reg + r);
                m += m2;
                d += d2;
                l += l2;
            }
            if m > 0.0 {
                out.factor[c] = (d / m, l / m);
                continue;
            }
            let (m, d, l) = *whole[r].get_or_insert_with(|| {
                (0..n_int)
                    .map(|kk| other(kk * n_reg + r))
                    .fold((0.0, 0.0, 0.0), |(a, b, c), (x, y, z)| {
                        (a + x, b + y, c + z)
                    })
            });
            if m > 0.0 {
                out.factor[c] = (d / m, l / m);
                out.fallback[c] = Some(format!(
                    "storage discharge {} MWh: no other generation in the preceding 24 h; \
                     counted at the region's mean over the whole input ({:.4} / {:.4} g/kWh)",
                    gen[c][STORAGE],
                    d / m,
                    l / m
                ));
            } else {
                out.factor[c] = table[STORAGE];
                out.fallback[c] = Some(format!(
                    "storage discharge {} MWh: {} has no other generation in the input; counted \
                     at the table's storage_discharge factor ({} / {} g/kWh)",
                    gen[c][STORAGE], names[r], table[STORAGE].0, table[STORAGE].1
                ));
            }
        }
    }
    out
}

/// Scale one region's direct columns to `target` t/MWh; see [`Calibration`].
fn calibrate(
    rows: &mut [FactorRow],
    region: &str,
    target: f64,
) -> Result<Calibration, FactorError> {
    let fail = |message: String| FactorError::Calibration {
        region: region.to_string(),
        target,
        message,
    };
    if !target.is_finite() || target <= 0.0 {
        return Err(fail(
            "the official factor must be a positive number in t/MWh".into(),
        ));
    }
    if target >= 2.0 {
        return Err(fail(
            "no grid averages 2 t/MWh or more; give the figure in t/MWh (= kg/kWh), not g/kWh"
                .into(),
        ));
    }
    let mean = |rows: &[FactorRow]| {
        let (mut e, mut m, mut n) = (0.0, 0.0, 0usize);
        for row in rows.iter().filter(|r| r.region == region) {
            if let (Some(f), true) = (row.consumption_direct, row.consumption_mwh > 0.0) {
                e += f * row.consumption_mwh;
                m += row.consumption_mwh;
                n += 1;
            }
        }
        (if m > 0.0 { e / m / 1000.0 } else { 0.0 }, m, n)
    };
    if !rows.iter().any(|r| r.region == region) {
        return Err(fail("the region is not in the input".into()));
    }
    let (before, mwh, intervals) = mean(rows);
    if intervals == 0 {
        return Err(fail(
            "the region has no interval with a consumption factor and positive consumption".into(),
        ));
    }
    if before <= 0.0 {
        return Err(fail(
            "its computed mean direct factor is 0 (only zero-emission sources), which no scale \
             can move; check the generation data"
                .into(),
        ));
    }
    let scale = target / before;
    for row in rows.iter_mut().filter(|r| r.region == region) {
        row.production_direct = row.production_direct.map(|f| f * scale);
        row.consumption_direct = row.consumption_direct.map(|f| f * scale);
    }
    let (after, _, _) = mean(rows);
    Ok(Calibration {
        region: region.to_string(),
        before,
        target,
        scale,
        after,
        intervals,
        consumption_mwh: mwh,
    })
}

/// Group issues per kind (handy for summaries).
pub fn issue_counts(issues: &[DataIssue]) -> BTreeMap<IssueKind, usize> {
    let mut m = BTreeMap::new();
    for i in issues {
        *m.entry(i.kind).or_insert(0) += 1;
    }
    m
}
