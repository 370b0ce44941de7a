//! Consumption-based (flow-traced) factors on REAL multi-region data with real exchanges,
//! against an independent published computation.
//!
//! Data (`data/real/eia930-gridemissions-2021-07/`, copied verbatim, MIT licence): the U.S.
//! EIA-930 Hourly Electric Grid Monitor for 72 balancing areas (BAs), 2021-07-10 00:00 to 19:00
//! UTC, as reconciled by the `gridemissions` project (de Chalendar; `E_opt_*.csv`: generation by
//! fuel, net generation, demand and interchange per border), and the consumption-based CO2
//! intensities gridemissions computed from exactly those numbers (`CO2i_*.csv`, 3 significant
//! figures). This file converts the first into tanji's generation and exchange rows, computes
//! with `tanji_factors::compute` and the per-fuel factors gridemissions used, and requires every
//! published BA-hour (72 × 20 = 1,440 values) to print the same to 3 significant figures.
//!
//! Conversion rules (each checked below, and in `docs/factors.md`):
//! - every `E_<BA>_<FUEL>` column is one generation row; fuels map to tanji sources through
//!   [`FUELS`], which carries gridemissions' factor for each. A fuel code not in the table, an
//!   empty or negative cell is refused with its column and hour: nothing is dropped silently.
//! - `E_<A>-<B>_ID` is A's net interchange with B, positive when A exports. Each border is taken
//!   once, from the importer's column: a negative `E_<A>-<B>_ID = −v` is the flow B → A of v
//!   MWh (gridemissions builds its import matrix the same way). Both directions of every border
//!   must be present and opposite (they agree to 8.6e-9 MWh).
//! - tanji's generation of a BA is the sum of its fuel rows; gridemissions uses the `E_<BA>_NG`
//!   column. They agree to 1.5e-6 MWh here, which moves no factor by a visible amount.
//! - the `period` label (UTC) is taken as the start of the hour `[period, period + 1 h)`. Both
//!   files carry the same labels and every hour is solved on its own, so this choice cannot
//!   change a compared figure; if gridemissions' labels are hour-ending, as EIA-930's own files
//!   are, every interval here is one hour late (not settled by these files).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use tanji_factors::{compute, ExchangeRow, GenerationRow, Options, Series, Source, SourceFactors};

/// Where the copied files live, relative to `data/`.
const DIR: &str = "real/eia930-gridemissions-2021-07";
const INPUTS: &str = "E_opt_2021-07-10_2021-07-20.csv";
const PUBLISHED: &str = "CO2i_2021-07-10_2021-07-20.csv";

/// gridemissions' fuel codes (EIA-930's, with `NG` renamed `GAS`), the tanji source each one is
/// counted as, and the direct CO2 factor gridemissions uses for it, kg/MWh = g/kWh
/// (`EMISSIONS_FACTORS["CO2"]` in its `emissions.py`). `OTH` and `UNK` are both tanji's
/// `unknown`, which is only sound because their factors are equal (checked).
const FUELS: [(&str, Source, f64); 11] = [
    ("COL", Source::Coal, 1000.0),
    ("GAS", Source::Gas, 469.0),
    ("OIL", Source::Oil, 840.0),
    ("NUC", Source::Nuclear, 16.0),
    ("WAT", Source::Hydro, 4.0),
    ("WND", Source::Wind, 12.0),
    ("SUN", Source::Solar, 46.0),
    ("BIO", Source::Biomass, 230.0),
    ("GEO", Source::Geothermal, 42.0),
    ("OTH", Source::Unknown, 439.0),
    ("UNK", Source::Unknown, 439.0),
];

fn data(name: &str) -> String {
    let path = format!("{}/../../data/{DIR}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("reading {path}: {e}; the file is committed with the repository")
    })
}

/// The factor table: gridemissions' figures as the direct factors (lifecycle set equal; not
/// compared). Storage discharge does not occur in these files, so its entry is not used.
fn gridemissions_factors() -> SourceFactors {
    let mut table = SourceFactors::default_table();
    for (code, source, factor) in FUELS {
        let shared: Vec<f64> = FUELS
            .iter()
            .filter(|f| f.1 == source)
            .map(|f| f.2)
            .collect();
        assert!(
            shared.iter().all(|&f| f == factor),
            "fuels counted as {source} must share one factor: {code} has {factor}, others {shared:?}"
        );
        table.set(
            source,
            factor,
            factor,
            &format!("gridemissions emissions.py, {code}"),
        );
    }
    table
}

/// `2021-07-10 00:00:00` (UTC) as Unix seconds.
fn period(label: &str) -> Result<i64, String> {
    let rfc = format!("{}Z", label.trim().replacen(' ', "T", 1));
    time::OffsetDateTime::parse(&rfc, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("period {label:?} is not `YYYY-MM-DD HH:MM:SS`: {e}"))
}

/// What one `E_…` column holds.
#[derive(Clone, Debug, PartialEq)]
enum Column {
    Fuel {
        ba: String,
        source: Source,
    },
    NetGeneration(String),
    Demand(String),
    TotalInterchange(String),
    /// `E_<of>-<with>_ID`: `of`'s net interchange with `with`, positive when `of` exports.
    Interchange {
        of: String,
        with: String,
    },
}

fn column(name: &str) -> Result<Column, String> {
    let bad = |why: &str| format!("column {name:?}: {why}");
    let rest = name
        .strip_prefix("E_")
        .ok_or_else(|| bad("expected E_<BA>_<FIELD> or E_<A>-<B>_ID"))?;
    let (who, field) = rest
        .rsplit_once('_')
        .ok_or_else(|| bad("expected E_<BA>_<FIELD> or E_<A>-<B>_ID"))?;
    if field == "ID" {
        let (of, with) = who
            .split_once('-')
            .ok_or_else(|| bad("an interchange column names two BAs, E_<A>-<B>_ID"))?;
        return Ok(Column::Interchange {
            of: of.to_string(),
            with: with.to_string(),
        });
    }
    let ba = who.to_string();
    Ok(match field {
        "NG" => Column::NetGeneration(ba),
        "D" => Column::Demand(ba),
        "TI" => Column::TotalInterchange(ba),
        fuel => {
            let source = FUELS
                .iter()
                .find(|f| f.0 == fuel)
                .map(|f| f.1)
                .ok_or_else(|| {
                    bad(&format!(
                        "fuel {fuel:?} is not in gridemissions' factor table (FUELS); add it \
                         with the factor gridemissions uses"
                    ))
                })?;
            Column::Fuel { ba, source }
        }
    })
}

/// The reconciled EIA-930 hours as tanji rows, plus the columns used only for checks.
#[derive(Debug, Default)]
struct Eia930 {
    generation: Vec<GenerationRow>,
    /// One row per border and hour, from the importer's column.
    exchanges: Vec<ExchangeRow>,
    /// `E_<BA>_NG` and `E_<BA>_D` by (BA, start).
    net_generation: BTreeMap<(String, i64), f64>,
    demand: BTreeMap<(String, i64), f64>,
    /// Largest `|ID_ab + ID_ba|`, MWh, and where.
    asymmetry: (f64, String, i64),
    starts: Vec<i64>,
}

fn read_inputs(text: &str) -> Result<Eia930, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or("empty file; expected a header `period,E_...`")?
        .split(',')
        .collect();
    if header.first() != Some(&"period") {
        return Err(format!(
            "header starts with {:?}, expected `period`",
            header.first()
        ));
    }
    let columns: Vec<Column> = header[1..]
        .iter()
        .map(|h| column(h))
        .collect::<Result<_, _>>()?;
    let index: BTreeMap<(&str, &str), usize> = columns
        .iter()
        .enumerate()
        .filter_map(|(k, c)| match c {
            Column::Interchange { of, with } => Some(((of.as_str(), with.as_str()), k)),
            _ => None,
        })
        .collect();
    let mut out = Eia930::default();
    for (n, line) in lines.enumerate() {
        let line_no = n + 2;
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != header.len() {
            return Err(format!(
                "line {line_no}: {} fields, the header has {}",
                fields.len(),
                header.len()
            ));
        }
        let start = period(fields[0]).map_err(|e| format!("line {line_no}: {e}"))?;
        let end = start + 3600;
        out.starts.push(start);
        let values: Vec<f64> = fields[1..]
            .iter()
            .zip(&header[1..])
            .map(|(v, h)| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| {
                        format!("line {line_no} ({}), column {h}: {v:?} is not a number; missing values are not filled in", fields[0])
                    })
            })
            .collect::<Result<_, _>>()?;
        for (k, c) in columns.iter().enumerate() {
            let v = values[k];
            let at = || format!("line {line_no} ({}), column {}", fields[0], header[k + 1]);
            match c {
                Column::Fuel { ba, source } => {
                    if v < 0.0 {
                        return Err(format!(
                            "{}: generation {v} MWh is negative; tanji does not count negative \
                             generation (gridemissions would)",
                            at()
                        ));
                    }
                    out.generation.push(GenerationRow {
                        region: ba.clone(),
                        start,
                        end,
                        source: *source,
                        mwh: v,
                    });
                }
                Column::NetGeneration(ba) => {
                    out.net_generation.insert((ba.clone(), start), v);
                }
                Column::Demand(ba) => {
                    out.demand.insert((ba.clone(), start), v);
                }
                Column::TotalInterchange(_) => {}
                Column::Interchange { of, with } => {
                    let mirror = index.get(&(with.as_str(), of.as_str())).ok_or_else(|| {
                        format!(
                            "{}: no column E_{with}-{of}_ID; each border needs both views",
                            at()
                        )
                    })?;
                    let gap = (v + values[*mirror]).abs();
                    if gap > out.asymmetry.0 {
                        out.asymmetry = (gap, format!("{of}-{with}"), start);
                    }
                    if v < 0.0 {
                        out.exchanges.push(ExchangeRow {
                            from: with.clone(),
                            to: of.clone(),
                            start,
                            end,
                            mwh: -v,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// One published intensity: BA, hour start, value as printed (g/kWh).
struct Published {
    ba: String,
    start: i64,
    printed: String,
    value: f64,
}

fn read_published(text: &str) -> Result<Vec<Published>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split(',').collect();
    let bas: Vec<&str> = header[1..]
        .iter()
        .map(|h| {
            h.strip_prefix("CO2i_")
                .and_then(|r| r.strip_suffix("_D"))
                .ok_or_else(|| format!("column {h:?}: expected CO2i_<BA>_D"))
        })
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (n, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != header.len() {
            return Err(format!("line {}: wrong number of fields", n + 2));
        }
        let start = period(fields[0])?;
        for (ba, v) in bas.iter().zip(&fields[1..]) {
            let value = v
                .parse::<f64>()
                .map_err(|e| format!("line {} column CO2i_{ba}_D: {v:?}: {e}", n + 2))?;
            out.push(Published {
                ba: ba.to_string(),
                start,
                printed: v.to_string(),
                value,
            });
        }
    }
    Ok(out)
}

/// `x` rounded to 3 significant figures, as the published file prints it.
fn three_significant(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let decimals = 2 - x.abs().log10().floor() as i32;
    if decimals >= 0 {
        format!("{x:.*}", decimals as usize)
            .parse()
            .unwrap_or(f64::NAN)
    } else {
        let unit = 10f64.powi(-decimals);
        (x / unit).round() * unit
    }
}

/// Half a unit of the last printed digit of a 3-significant-figure value: the rounding allowance.
fn allowance(published: f64) -> f64 {
    0.5 * 10f64.powi(published.abs().log10().floor() as i32 - 2)
}

/// A difference, where, and the two figures.
#[derive(Clone, Debug, Default)]
struct Worst {
    diff: f64,
    ba: String,
    start: i64,
    tanji: f64,
    published: String,
}

#[derive(Debug, Default)]
struct Comparison {
    compared: usize,
    /// (BA, start, tanji, published as printed)
    disagree: Vec<(String, i64, Option<f64>, String)>,
    worst_abs: Worst,
    worst_rel: Worst,
}

/// Compare tanji's consumption factor of the hour starting at `label + shift_s` with each
/// published value labelled `label`.
fn compare(series: &Series, published: &[Published], shift_s: i64) -> Comparison {
    let mut c = Comparison::default();
    for p in published {
        let Some(row) = series.factor_at(&p.ba, p.start + shift_s) else {
            continue;
        };
        c.compared += 1;
        let Some(got) = row.consumption_direct else {
            c.disagree
                .push((p.ba.clone(), p.start, None, p.printed.clone()));
            continue;
        };
        if three_significant(got) != p.value {
            c.disagree
                .push((p.ba.clone(), p.start, Some(got), p.printed.clone()));
        }
        let worst = |diff: f64| Worst {
            diff,
            ba: p.ba.clone(),
            start: p.start,
            tanji: got,
            published: p.printed.clone(),
        };
        let abs = (got - p.value).abs();
        if abs > c.worst_abs.diff {
            c.worst_abs = worst(abs);
        }
        let rel = abs / p.value;
        if rel > c.worst_rel.diff {
            c.worst_rel = worst(rel);
        }
    }
    c
}

/// Size of the largest set of BAs that all reach each other along the hour's flows (a strongly
/// connected block, which tanji solves as one dense system rather than by substitution).
fn largest_loop(exchanges: &[ExchangeRow], start: i64) -> usize {
    let edges: Vec<(&str, &str)> = exchanges
        .iter()
        .filter(|x| x.start == start)
        .map(|x| (x.from.as_str(), x.to.as_str()))
        .collect();
    let reach = |from: &str, forward: bool| {
        let mut seen = BTreeSet::from([from.to_string()]);
        let mut todo = vec![from.to_string()];
        while let Some(v) = todo.pop() {
            for &(a, b) in &edges {
                let (here, next) = if forward { (a, b) } else { (b, a) };
                if here == v && seen.insert(next.to_string()) {
                    todo.push(next.to_string());
                }
            }
        }
        seen
    };
    let nodes: BTreeSet<&str> = edges.iter().flat_map(|&(a, b)| [a, b]).collect();
    nodes
        .iter()
        .map(|v| reach(v, true).intersection(&reach(v, false)).count())
        .max()
        .unwrap_or(0)
}

fn hour(start: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(start)
        .map(|t| format!("{:02}-{:02} {:02}:00Z", t.month() as u8, t.day(), t.hour()))
        .unwrap_or_else(|_| start.to_string())
}

fn load() -> (Eia930, Vec<Published>) {
    let inputs = read_inputs(&data(INPUTS)).unwrap_or_else(|e| panic!("{INPUTS}: {e}"));
    let published = read_published(&data(PUBLISHED)).unwrap_or_else(|e| panic!("{PUBLISHED}: {e}"));
    (inputs, published)
}

const T0: i64 = 1_625_875_200; // 2021-07-10T00:00:00Z

#[test]
fn consumption_factors_reproduce_gridemissions_on_eia930() {
    let (inputs, published) = load();

    // The hours and BAs of both files.
    assert_eq!(period("2021-07-10 00:00:00"), Ok(T0));
    let hours: Vec<i64> = (0..20).map(|k| T0 + 3600 * k).collect();
    assert_eq!(inputs.starts, hours);
    let bas: BTreeSet<&str> = published.iter().map(|p| p.ba.as_str()).collect();
    assert_eq!(bas.len(), 72);
    assert_eq!(published.len(), 72 * 20);

    // Rule checks: the two views of every border agree; the sum of the fuels is E_<BA>_NG.
    assert!(
        inputs.asymmetry.0 < 1e-7,
        "E_{}_ID and its mirror differ by {} MWh at {}",
        inputs.asymmetry.1,
        inputs.asymmetry.0,
        hour(inputs.asymmetry.2)
    );
    let mut fuel_sum: BTreeMap<(String, i64), f64> = BTreeMap::new();
    for g in &inputs.generation {
        *fuel_sum.entry((g.region.clone(), g.start)).or_default() += g.mwh;
    }
    assert_eq!(fuel_sum.len(), 72 * 20, "every BA-hour has fuel columns");
    for (key, ng) in &inputs.net_generation {
        let sum = fuel_sum[key];
        assert!(
            (sum - ng).abs() < 1e-5,
            "{key:?}: fuels sum to {sum} MWh, E_NG is {ng}"
        );
    }

    let series = compute(
        &inputs.generation,
        &inputs.exchanges,
        &gridemissions_factors(),
        &Options::default(),
    )
    .unwrap();
    assert!(series.issues.is_empty(), "{}", series.issues[0]);
    assert_eq!(series.rows.len(), 72 * 20);
    assert_eq!(series.regions().len(), 72);
    // Not a chain: every hour has loops of flows, the largest joining 23 to 42 BAs.
    let loops: Vec<usize> = hours
        .iter()
        .map(|&t| largest_loop(&inputs.exchanges, t))
        .collect();
    assert_eq!(
        (loops.iter().min(), loops.iter().max()),
        (Some(&23), Some(&42)),
        "{loops:?}"
    );

    // Sign convention, independently of the published intensities: what tanji finds each BA
    // consumes (generation + imports − exports) is EIA-930's demand column.
    for r in &series.rows {
        let d = inputs.demand[&(r.region.clone(), r.start)];
        assert!(
            (r.consumption_mwh - d).abs() < 1e-4,
            "{} {}: consumption {} MWh, E_D {d}",
            r.region,
            hour(r.start),
            r.consumption_mwh
        );
    }

    let c = compare(&series, &published, 0);
    assert_eq!(c.compared, 1440);
    let listed: Vec<String> = c
        .disagree
        .iter()
        .take(10)
        .map(|(ba, t, got, want)| format!("{ba} {}: tanji {got:?}, published {want}", hour(*t)))
        .collect();
    assert!(
        c.disagree.is_empty(),
        "{} of 1440 BA-hours differ at 3 significant figures, e.g. {listed:#?}",
        c.disagree.len()
    );
    let (a, r) = (&c.worst_abs, &c.worst_rel);
    println!(
        "EIA-930 2021-07-10 00-19Z, 72 BAs: 1440 of 1440 published consumption intensities \
         reproduced to 3 significant figures; worst |difference| {:.5} g/kWh at {} {} (tanji \
         {:.5}, published {}); worst relative {:.3}% at {} {} (tanji {:.5}, published {})",
        a.diff,
        a.ba,
        hour(a.start),
        a.tanji,
        a.published,
        100.0 * r.diff,
        r.ba,
        hour(r.start),
        r.tanji,
        r.published
    );
    // The figures docs/factors.md and data/README.md quote. The worst absolute difference is
    // also the closest call: 524.50008 is 0.00008 g/kWh above the point where it would print
    // as 524 instead of 525.
    assert_eq!((a.ba.as_str(), a.start), ("NEVP", T0 + 11 * 3600));
    assert_eq!(a.published, "525");
    assert!((a.tanji - 524.500_08).abs() < 5e-6, "{}", a.tanji);
    assert_eq!((r.ba.as_str(), r.start), ("AVRN", T0 + 13 * 3600));
    assert_eq!(r.published, "100");
    assert!((r.tanji - 100.487_83).abs() < 5e-6, "{}", r.tanji);
    // Every difference is within the published rounding (half a unit of the 3rd figure).
    for p in &published {
        let got = series
            .factor_at(&p.ba, p.start)
            .and_then(|row| row.consumption_direct)
            .unwrap();
        assert!(
            (got - p.value).abs() <= allowance(p.value),
            "{} {}: {got} vs {}",
            p.ba,
            hour(p.start),
            p.printed
        );
    }
}

/// The comparison can fail: each plausible mistake in reading the files is caught by many
/// BA-hours, so agreement on all 1,440 is not an accident of coarse rounding.
#[test]
fn wrong_conventions_disagree_with_the_published_figures() {
    let (inputs, published) = load();
    let factors = gridemissions_factors();
    let run = |exchanges: &[ExchangeRow]| {
        compute(&inputs.generation, exchanges, &factors, &Options::default()).unwrap()
    };

    // Interchange sign reversed (positive read as an import). Some BAs then export more than
    // they have and get no factor (negative net supply); those count as disagreeing too.
    let reversed: Vec<ExchangeRow> = inputs
        .exchanges
        .iter()
        .map(|x| ExchangeRow {
            from: x.to.clone(),
            to: x.from.clone(),
            ..x.clone()
        })
        .collect();
    let c = compare(&run(&reversed), &published, 0);
    assert_eq!((c.compared, c.disagree.len()), (1440, 1413));
    let unfactored = c.disagree.iter().filter(|d| d.2.is_none()).count();
    assert_eq!(unfactored, 197);

    // Interchange ignored (production-based factors).
    let c = compare(&run(&[]), &published, 0);
    assert_eq!((c.compared, c.disagree.len()), (1440, 1069));

    // Off by one hour either way (19 hours overlap).
    let series = run(&inputs.exchanges);
    for shift in [-3600, 3600] {
        let c = compare(&series, &published, shift);
        assert_eq!(
            (c.compared, c.disagree.len()),
            (1368, 1077),
            "shift {shift} s"
        );
    }

    // One fuel's factor off by 1% (gas 469 → 474) shows at 3 significant figures too.
    let mut gas_off = gridemissions_factors();
    gas_off.set(Source::Gas, 474.0, 474.0, "perturbed");
    let series = compute(
        &inputs.generation,
        &inputs.exchanges,
        &gas_off,
        &Options::default(),
    )
    .unwrap();
    let c = compare(&series, &published, 0);
    assert_eq!((c.compared, c.disagree.len()), (1440, 1101));
}

#[test]
fn the_converter_refuses_what_it_cannot_count() {
    let head = "period,E_A_NG,E_A_COL,E_A-B_ID,E_B-A_ID,E_B_NG,E_B_GAS";
    let ok = format!("{head}\n2021-07-10 00:00:00,10,10,4,-4,5,5\n");
    let x = read_inputs(&ok).unwrap();
    assert_eq!(x.generation.len(), 2);
    assert_eq!(
        x.exchanges,
        vec![ExchangeRow {
            from: "A".into(),
            to: "B".into(),
            start: T0,
            end: T0 + 3600,
            mwh: 4.0
        }]
    );

    let e = read_inputs(&format!("{head}\n2021-07-10 00:00:00,10,-1,4,-4,5,5\n")).unwrap_err();
    assert!(
        e.contains("column E_A_COL: generation -1 MWh is negative"),
        "{e}"
    );
    let e = read_inputs(&format!("{head}\n2021-07-10 00:00:00,10,,4,-4,5,5\n")).unwrap_err();
    assert!(e.contains("column E_A_COL: \"\" is not a number"), "{e}");
    let e = read_inputs("period,E_A_BAT\n2021-07-10 00:00:00,1\n").unwrap_err();
    assert!(
        e.contains("fuel \"BAT\" is not in gridemissions' factor table"),
        "{e}"
    );
    let e = read_inputs("period,E_A-B_ID\n2021-07-10 00:00:00,1\n").unwrap_err();
    assert!(e.contains("no column E_B-A_ID"), "{e}");
    let e = read_inputs("period,E_A_NG\n2021-07-10T00:00,1\n").unwrap_err();
    assert!(e.contains("is not `YYYY-MM-DD HH:MM:SS`"), "{e}");

    assert_eq!(three_significant(524.500_08), 525.0);
    assert_eq!(three_significant(524.499_9), 524.0);
    assert_eq!(three_significant(4.005_1), 4.01);
    assert_eq!(three_significant(73.849), 73.8);
    assert_eq!(three_significant(1234.0), 1230.0);
    assert_eq!(allowance(525.0), 0.5);
    assert_eq!(allowance(4.01), 0.005);
}
