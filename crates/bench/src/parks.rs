//! `tanji-bench parks`: many parks on one PostgreSQL, in one process. Each park is its own
//! [`Park`] (its own log, key, devices and reporting index partition) on its own connection,
//! as a server instance holding many parks' leases would run them; worker threads act as the
//! parks' sequencers. Uploads arrive at a fixed total rate spread evenly over the parks (open
//! loop: each upload is due at a fixed instant); a park's sequencer commits, in one fenced
//! transaction, every upload that has arrived since its last commit (group commit without a
//! batch window), and an upload's acknowledgement latency runs from when it was due to when
//! its batch committed. No HTTP: this measures the store and sequencing path the server's
//! handlers wait on, for many parks at once.
//!
//! Every park then holds exactly the uploads it acknowledged, in its own log.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use tanji_park::{Incoming, Outcome, Park};
use tanji_readings::parse_json_upload;
use tanji_store::AnyStore;

use tanji_cli::util;
use tanji_units::time;

use crate::bench::{make_data, Data};
use crate::pg::PgRun;
use crate::serve::percentile;

/// What to run.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The PostgreSQL database (`postgres://…`, without `schema=`: each run makes a schema of
    /// its own and drops it). Each park holds one connection: the server's
    /// `max_connections` must exceed the number of parks.
    #[arg(long)]
    pub store: String,
    /// Parks.
    #[arg(long, default_value_t = 200)]
    pub parks: usize,
    /// Devices per park (each one meter, one upload of 96 quarter-hour readings a day).
    #[arg(long, default_value_t = 10)]
    pub devices: usize,
    /// Total offered rates to run, uploads per second over all parks, comma-separated (each
    /// rate on fresh parks).
    #[arg(long, value_delimiter = ',', default_values_t = [2200.0, 4400.0])]
    pub rates: Vec<f64>,
    /// Seconds of offered load at each rate.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
    /// Sequencer threads the parks are spread over.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Write the table into this Markdown file (between the parks markers).
    #[arg(long)]
    pub write: Option<PathBuf>,
}

/// One rate's outcome.
struct Measured {
    rate: f64,
    uploads: usize,
    seconds: f64,
    batches: usize,
    latencies: Vec<Duration>,
    /// CPU seconds this process used (user + system) during the load.
    cpu: f64,
    /// Of the machine's CPU time during the load, the busy share.
    machine_busy: f64,
}

/// CPU seconds (user + system) of this process so far.
fn process_cpu() -> f64 {
    cpu_of("self")
}

/// CPU seconds (user + system) of process `pid` (a number, or `self`) so far; 0 if it is gone.
pub(crate) fn cpu_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime is the 14th field overall.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // clock ticks per second: 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// The machine's (busy, total) CPU ticks so far.
pub(crate) fn machine_ticks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().sum();
    // idle + iowait
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

/// Creates `n` parks in the run's schema, each with the devices registered.
fn create_parks(
    tmp: &std::path::Path,
    url: &str,
    n: usize,
    data: &Data,
) -> Result<Vec<Park<AnyStore>>> {
    (0..n)
        .map(|p| {
            let name = format!("p{p:04}");
            let mut park = Park::create_on(&tmp.join(&name), &name, None, Some(url))
                .with_context(|| format!("creating park {name}"))?;
            park.register(&data.regs)?;
            Ok(park)
        })
        .collect()
}

/// The uploads of one park a sequencer has yet to commit, and when each was due.
struct Lane {
    park: Park<AnyStore>,
    /// The park's number (its uploads' offset in the arrival order).
    number: usize,
    next: usize,
    /// The log's size before the first upload.
    base: u64,
}

/// What one sequencer thread did: every upload's latency, its batches, and its parks back.
type Worked = (Vec<Duration>, usize, Vec<Lane>);

/// Runs the parks' sequencers at `rate` over `lines` (each park gets all of them, in order).
fn load(
    parks: Vec<Park<AnyStore>>,
    lines: &[String],
    rate: f64,
    workers: usize,
) -> Result<Measured> {
    let n = parks.len();
    let per_park = lines.len();
    let due = move |number: usize, i: usize| (i * n + number) as f64 / rate;
    let mut lanes: Vec<Vec<Lane>> = (0..workers).map(|_| Vec::new()).collect();
    for (number, park) in parks.into_iter().enumerate() {
        lanes[number % workers].push(Lane {
            base: park.size(),
            park,
            number,
            next: 0,
        });
    }
    let cpu0 = process_cpu();
    let m0 = machine_ticks();
    let t0 = Instant::now();
    let wall = util::now();
    let results: Vec<Result<Worked>> = std::thread::scope(|s| {
        let handles: Vec<_> = lanes
            .into_iter()
            .map(|mut mine| {
                s.spawn(move || -> Result<Worked> {
                    let mut latencies = Vec::new();
                    let mut batches = 0;
                    loop {
                        let mut busy = false;
                        let mut open = false;
                        for lane in &mut mine {
                            if lane.next >= per_park {
                                continue;
                            }
                            open = true;
                            let now = t0.elapsed().as_secs_f64();
                            let arrived = ((now * rate - lane.number as f64) / n as f64)
                                .floor()
                                .max(-1.0);
                            let arrived = ((arrived + 1.0) as usize).min(per_park);
                            if arrived <= lane.next {
                                continue;
                            }
                            let items: Vec<Incoming> = lines[lane.next..arrived]
                                .iter()
                                .enumerate()
                                .map(|(i, l)| Incoming {
                                    source: format!("bench:{i}"),
                                    parsed: parse_json_upload(l),
                                    checked: None,
                                    raw: l.as_bytes().to_vec(),
                                })
                                .collect();
                            for o in lane.park.ingest(items, wall)? {
                                ensure!(
                                    matches!(o, Outcome::Accepted { .. }),
                                    "benchmark record not accepted: {o:?}"
                                );
                            }
                            let done = t0.elapsed().as_secs_f64();
                            for i in lane.next..arrived {
                                latencies.push(Duration::from_secs_f64(
                                    (done - due(lane.number, i)).max(0.0),
                                ));
                            }
                            lane.next = arrived;
                            batches += 1;
                            busy = true;
                        }
                        if !open {
                            return Ok((latencies, batches, mine));
                        }
                        if !busy {
                            std::thread::sleep(Duration::from_micros(200));
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a sequencer thread panicked")))
            })
            .collect()
    });
    let seconds = t0.elapsed().as_secs_f64();
    let cpu = process_cpu() - cpu0;
    let m1 = machine_ticks();
    let mut latencies = Vec::new();
    let mut batches = 0;
    let mut uploads = 0;
    for r in results {
        let (l, b, lanes) = r?;
        latencies.extend(l);
        batches += b;
        for lane in lanes {
            // Every acknowledged upload is in the park's own log.
            let logged = lane.park.size() - lane.base;
            ensure!(
                logged == lane.next as u64,
                "park {} acknowledged {} uploads but its log grew by {logged}",
                lane.number,
                lane.next
            );
            uploads += lane.next;
        }
    }
    latencies.sort();
    let machine_busy = if m1.1 > m0.1 {
        (m1.0 - m0.0) / (m1.1 - m0.1)
    } else {
        0.0
    };
    Ok(Measured {
        rate,
        uploads,
        seconds,
        batches,
        latencies,
        cpu,
        machine_busy,
    })
}

pub fn run(a: Args) -> Result<ExitCode> {
    ensure!(
        a.parks > 0 && a.devices > 0,
        "--parks and --devices must be positive"
    );
    ensure!(
        a.rates.iter().all(|r| *r > 0.0) && a.seconds > 0.0,
        "--rates and --seconds must be positive"
    );
    let workers = a.workers.max(1);
    let describe = PgRun::new(&a.store, "probe")?.describe()?;
    let now = util::now();
    let mut rows = Vec::new();
    let mut ceiling = 0.0;
    for &rate in &a.rates {
        let per_park = ((rate * a.seconds) / a.parks as f64).ceil().max(1.0) as usize;
        eprintln!(
            "{rate} uploads/s: preparing {per_park} signed uploads per park from {} devices …",
            a.devices
        );
        let data = make_data(per_park, a.devices, now);
        if ceiling == 0.0 {
            let keys: Vec<_> = data
                .regs
                .iter()
                .map(|r| r.public_key.verifying_key())
                .collect::<Result<_, _>>()?;
            let t = Instant::now();
            let mut ok = 0usize;
            for _ in 0..(2000 / per_park).max(1) {
                for (i, r) in data.records.iter().enumerate() {
                    ok += usize::from(r.verify_signature(&keys[i % a.devices]));
                }
            }
            ceiling = ok as f64 / t.elapsed().as_secs_f64();
        }
        let run = PgRun::new(&a.store, "parks")?;
        let tmp = tempfile::tempdir().context("creating a temporary directory")?;
        let t = Instant::now();
        let parks = create_parks(tmp.path(), &run.store_url(), a.parks, &data)?;
        eprintln!(
            "  {} parks created and registered in {:.1} s; offering {rate} uploads/s for {} s over {workers} sequencer threads …",
            a.parks,
            t.elapsed().as_secs_f64(),
            a.seconds
        );
        let m = load(parks, &data.lines, rate, workers)?;
        ensure!(
            m.uploads == per_park * a.parks,
            "{} of {} uploads acknowledged",
            m.uploads,
            per_park * a.parks
        );
        rows.push(m);
        drop(run);
    }
    let mut table = String::from(
        "| offered uploads/s | parks | uploads | seconds | acknowledged uploads/s | batches (mean size) | ack p50 | ack p99 | ack max | process CPU | machine busy |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in &rows {
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1e3);
        table.push_str(&format!(
            "| {:.0} | {} | {} | {:.1} | {:.0} | {} ({:.1}) | {} | {} | {} | {:.0}% of a core | {:.0}% |\n",
            m.rate,
            a.parks,
            m.uploads,
            m.seconds,
            m.uploads as f64 / m.seconds,
            m.batches,
            m.uploads as f64 / m.batches.max(1) as f64,
            ms(percentile(&m.latencies, 50.0)),
            ms(percentile(&m.latencies, 99.0)),
            ms(m.latencies.last().copied().unwrap_or_default()),
            100.0 * m.cpu / m.seconds,
            100.0 * m.machine_busy
        ));
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let sig_share: Vec<String> = rows
        .iter()
        .map(|m| {
            format!(
                "{:.0} uploads/s: {:.0}% of the machine",
                m.rate,
                100.0 * (m.uploads as f64 / ceiling) / (m.seconds * cores.max(1) as f64)
            )
        })
        .collect();
    let note = format!(
        "Baseline in the same run: Ed25519 `verify_strict` of the same records alone, one thread: \
         **{ceiling:.0} uploads/s**. The signature checks alone took {} (verify-only time × uploads ÷ \
         wall time × {cores} cores); process CPU counts this process (parsing, validation, hashing, \
         the PostgreSQL client), machine busy counts every process, PostgreSQL's backends included.\n",
        sig_share.join(", ")
    );
    println!("{table}\n{note}");
    if let Some(path) = &a.write {
        let intro = format!(
            "Measured {} on this machine ({cores} cores, shared with other work) with\n`tanji-bench parks --parks {} --devices {} --rates {} --seconds {} --workers {workers}` \
             against {describe}:\n\n",
            time::rfc3339(util::now()),
            a.parks,
            a.devices,
            a.rates
                .iter()
                .map(|r| format!("{r}"))
                .collect::<Vec<_>>()
                .join(","),
            a.seconds
        );
        tanji_cli::record::record(path, "parks", &format!("{intro}{table}\n{note}"))?;
        println!("recorded in {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
