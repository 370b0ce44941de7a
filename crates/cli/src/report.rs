//! `tanji report` and `tanji audit`: carbon reports with provenance, and their recomputation
//! from the log alone.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use tanji_ledger::NoteVerifier;
pub use tanji_report::Format;
use tanji_report::{Built, Document, FixedChoice, InputsFile, ReportDoc, Request, Scope};
use tanji_store::AnyStore;

use crate::util;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["enterprise", "park"])))]
pub struct ReportArgs {
    /// The park's data directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// Report one enterprise (or --park for all).
    #[arg(long)]
    pub enterprise: Option<String>,
    /// Report every enterprise and the park totals.
    #[arg(long)]
    pub park: bool,
    /// First day (YYYY-MM-DD, UTC) or instant (RFC 3339); default: the start of the data.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day, inclusive (YYYY-MM-DD, UTC), or an end instant, exclusive (RFC 3339);
    /// default: the end of the data.
    #[arg(long)]
    pub to: Option<String>,
    /// Factor publication id (NAME@vN, or NAME for its latest version); default: the latest.
    #[arg(long)]
    pub factors: Option<String>,
    /// Region of the publication (default: its only region).
    #[arg(long)]
    pub region: Option<String>,
    /// The fixed annual grid factor to compare with, tCO2/MWh (default: the official figure the
    /// publication was calibrated to, else its consumption-weighted mean).
    #[arg(long)]
    pub fixed_factor: Option<f64>,
    /// Enterprise inputs publication (NAME@vN, or NAME for its latest version; `tanji inputs
    /// publish`): green certificates and purchases for the market-based figure, output for
    /// intensities, production records for products and CBAM.
    #[arg(long)]
    pub inputs: Option<String>,
    /// Run anomaly detection on every meter (flat lines, spikes, level shifts, PV at night,
    /// missing data) and list each alert as a data issue with its span, evidence and the
    /// emissions of the flagged values (counted as logged); `tanji audit` recomputes them.
    #[arg(long)]
    pub anomalies: bool,
    /// Park outcomes against a baseline (docs/report.md): its first day, as --from.
    #[arg(long, requires_all = ["baseline_to", "park", "from"])]
    pub baseline_from: Option<String>,
    /// The baseline's last day, as --to.
    #[arg(long, requires = "baseline_from")]
    pub baseline_to: Option<String>,
    /// Outcomes: tariff TOML (as `tanji optimize`'s); default: an illustrative one.
    #[arg(long, requires = "baseline_from")]
    pub tariff: Option<PathBuf>,
    /// Outcomes: electricity's equal value, kgce/kWh; default: equivalent value 0.1229.
    #[arg(long, requires = "baseline_from")]
    pub equal_value: Option<f64>,
    /// What to write: `report`, the GB/T 32150 GHG `inventory` (with --enterprise), ISO 14067
    /// product `footprint`s or their `pact` export (JSON; both need --inputs with production
    /// records and a footprint section).
    #[arg(long, default_value = "report")]
    pub document: Document,
    /// Output format: json (what `tanji audit` checks), csv (the report), html, text, xlsx or
    /// pdf (xlsx and pdf need --out, or stdout not a terminal).
    #[arg(long, default_value = "json")]
    pub format: Format,
    /// Write to FILE instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the report even when no meter has data in the period (all figures zero);
    /// without it such a report is refused with exit status 1.
    #[arg(long)]
    pub allow_empty: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The report, as written by `tanji report --format json`.
    pub report: PathBuf,
    /// The park's data directory (only its store is read; no secret key is needed).
    #[arg(long)]
    pub dir: PathBuf,
    /// The log's verifier key you trust (C2SP vkey, from `tanji log key`); default: the key
    /// the park names, a weaker check.
    #[arg(long)]
    pub key: Option<String>,
}

/// A `--from`/`--to` value: a day (YYYY-MM-DD; `--to`'s day is included) or an RFC 3339
/// instant (anything with a `T`).
fn bound(option: &str, s: &str, end: bool) -> Result<i64> {
    if s.contains(['T', 't']) {
        util::parse_instant(s).with_context(|| format!("{option} {s}"))
    } else {
        let day = util::parse_day(s).with_context(|| format!("{option} {s}"))?;
        Ok(if end {
            day + tanji_units::time::DAY_S
        } else {
            day
        })
    }
}

/// The store of the park in `dir` (its SQLite file or PostgreSQL park), opened.
fn store_of(dir: &Path) -> Result<(String, AnyStore)> {
    let at = tanji_park::store_at(dir)?;
    let store = at.open().with_context(|| format!("opening {at}"))?;
    Ok((at.to_string(), store))
}

/// Opens only the store of the park in `dir` (a report needs no secret key and no ingest
/// state) and the log key it names.
pub fn open_store(dir: &Path) -> Result<(AnyStore, NoteVerifier)> {
    let (db, store) = store_of(dir)?;
    let verifier =
        tanji_report::stored_verifier(&store).map_err(|e| anyhow::anyhow!("{db}: {e}"))?;
    Ok((store, verifier))
}

/// The report a `ReportArgs` asks for, built over a store and the log key.
pub fn make_from(store: &AnyStore, verifier: &NoteVerifier, a: &ReportArgs) -> Result<Built> {
    let scope = match (&a.enterprise, a.park) {
        (Some(e), false) => Scope::Enterprise(e.clone()),
        (None, true) => Scope::Park,
        _ => bail!("give either --enterprise E or --park"),
    };
    let period = match (&a.from, &a.to) {
        (None, None) => None,
        (Some(f), Some(t)) => Some((bound("--from", f, false)?, bound("--to", t, true)?)),
        _ => bail!("give both --from and --to, or neither (all data)"),
    };
    let mut req = Request::new(scope);
    req.period = period;
    req.factors.clone_from(&a.factors);
    req.region.clone_from(&a.region);
    req.inputs.clone_from(&a.inputs);
    req.anomalies = a.anomalies;
    if let Some(t) = a.fixed_factor {
        req.fixed = FixedChoice::Given(t);
    }
    build(store, verifier, &req, &a.dir)
}

/// Builds the report `req` asks for from the park in `dir`; refused when the log has problems.
pub fn build(
    store: &AnyStore,
    verifier: &NoteVerifier,
    req: &Request,
    dir: &Path,
) -> Result<Built> {
    let built = tanji_report::build(store, verifier, req)?;
    if let Some(p) = built.problems.first() {
        bail!(
            "the log has {} problem(s), the first: {p}; run `tanji verify --dir {}`",
            built.problems.len(),
            dir.display()
        );
    }
    Ok(built)
}

#[derive(Debug, clap::Subcommand)]
pub enum ParksCommand {
    /// Emissions by park and enterprise over a period, from each park's report (checkpoints
    /// checked with the log key each park's store recorded); parks without data are named.
    Emissions {
        /// The PostgreSQL database holding the parks (`postgres://…[?schema=NAME]`).
        #[arg(long)]
        store: String,
        /// First day (YYYY-MM-DD, UTC) or instant (RFC 3339).
        #[arg(long)]
        from: String,
        /// Last day, inclusive (YYYY-MM-DD, UTC), or an end instant, exclusive (RFC 3339).
        #[arg(long)]
        to: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn parks(c: ParksCommand) -> Result<ExitCode> {
    let ParksCommand::Emissions {
        store,
        from,
        to,
        json,
    } = c;
    let period = (bound("--from", &from, false)?, bound("--to", &to, true)?);
    let q = tanji_report::parks_emissions(&tanji_park::check_store_url(&store)?, period)?;
    match json {
        true => println!("{}", serde_json::to_string_pretty(&q)?),
        false => print!("{}", q.to_text()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Renders a report in `format`.
pub fn render(doc: &ReportDoc, format: Format) -> Result<Vec<u8>> {
    Ok(tanji_report::render(doc, format)?)
}

/// Renders `document` of a report built with `inputs` in `format`.
pub fn render_as(
    doc: &ReportDoc,
    inputs: Option<&InputsFile>,
    d: Document,
    f: Format,
) -> Result<Vec<u8>> {
    Ok(tanji_report::render_document(
        doc,
        inputs,
        d,
        f,
        util::now(),
    )?)
}

/// Park outcomes against a baseline, as `--baseline-from/--baseline-to` ask.
fn outcomes(a: &ReportArgs, store: &AnyStore, verifier: &NoteVerifier) -> Result<Vec<u8>> {
    let (Some(f), Some(t), Some(bf), Some(bt)) = (&a.from, &a.to, &a.baseline_from, &a.baseline_to)
    else {
        bail!("outcomes need --from, --to, --baseline-from and --baseline-to");
    };
    let tariff = a.tariff.as_ref().map(std::fs::read_to_string).transpose();
    let [p, b] = [
        (f, t, "--from", "--to"),
        (bf, bt, "--baseline-from", "--baseline-to"),
    ]
    .map(|(f, t, of, ot)| Ok::<_, anyhow::Error>((bound(of, f, false)?, bound(ot, t, true)?)));
    let tariff = tariff.context("reading --tariff")?;
    let mut req = tanji_report::OutcomesRequest::new(p?, b?, tariff.as_deref(), a.equal_value)?;
    (req.factors, req.region, req.inputs) = (a.factors.clone(), a.region.clone(), a.inputs.clone());
    let doc = tanji_report::outcomes(store, verifier, &req)?;
    Ok(tanji_report::render_outcomes(&doc, a.format)?)
}

pub fn run(a: ReportArgs) -> Result<ExitCode> {
    use std::io::IsTerminal as _;
    if a.format.is_binary() && a.out.is_none() && std::io::stdout().is_terminal() {
        bail!(
            "--format {0} writes a binary file: give --out FILE (or redirect stdout: > report.{0})",
            a.format.extension()
        );
    }
    let (store, verifier) = open_store(&a.dir)?;
    if a.baseline_from.is_some() {
        return write(&a.out, &outcomes(&a, &store, &verifier)?);
    }
    let Built { doc, inputs, .. } = make_from(&store, &verifier, &a)?;
    if doc.has_no_data() {
        let what = doc
            .scope
            .enterprise
            .as_deref()
            .map_or_else(|| "the park".to_string(), |e| format!("enterprise {e}"));
        let period = util::period_dates(&doc.period.start, &doc.period.end);
        if !a.allow_empty {
            eprintln!(
                "error: no data for {period} ({what}): no meter has an accepted upload in the period, so every figure would be zero; report a period with data (without --from/--to the report covers all the data), or pass --allow-empty to write it anyway"
            );
            return Ok(ExitCode::from(1));
        }
        eprintln!("warning: no data for {period} ({what}); every figure is zero (--allow-empty)");
    }
    warn_coverage(&doc);
    write(
        &a.out,
        &render_as(&doc, inputs.as_ref(), a.document, a.format)?,
    )
}

fn write(out: &Option<PathBuf>, bytes: &[u8]) -> Result<ExitCode> {
    use std::io::Write as _;
    match out {
        Some(p) => {
            std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("wrote {}", p.display());
        }
        None => std::io::stdout().write_all(bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints on stderr, before anything else, that the factor series does not cover the
/// report's grid intervals (they are counted at the fixed factor).
pub fn warn_coverage(doc: &ReportDoc) {
    for x in doc.issues.iter().filter(|x| x.kind == "factor_coverage") {
        eprintln!("warning: {}", x.message);
    }
}

/// Audits a report file against the park in `dir`; prints OK or every finding.
pub fn audit_file(
    report: &Path,
    dir: &Path,
    key: Option<&str>,
) -> Result<tanji_report::AuditResult> {
    let text =
        std::fs::read_to_string(report).with_context(|| format!("reading {}", report.display()))?;
    let (_, store) = store_of(dir)?;
    let key = key
        .map(|k| {
            k.parse::<NoteVerifier>()
                .with_context(|| format!("--key {k:?} is not a C2SP verifier key"))
        })
        .transpose()?;
    Ok(tanji_report::audit(&text, &store, key.as_ref())?)
}

pub fn audit(a: AuditArgs) -> Result<ExitCode> {
    let r = audit_file(&a.report, &a.dir, a.key.as_deref())?;
    if r.ok() {
        println!(
            "audit OK: {} — checkpoint at size {} verified{}, {} log entries checked for inclusion, {} values recomputed from the log and equal",
            a.report.display(),
            r.size,
            if r.trusted_key { " with your key" } else { " with the key the park names" },
            r.leaves,
            r.values
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("audit FAILED: {} finding(s)", r.findings.len());
        for f in &r.findings {
            println!("  {f}");
        }
        Ok(ExitCode::from(1))
    }
}
