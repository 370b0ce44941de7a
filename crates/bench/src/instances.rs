//! `tanji-bench instances`: one deployment of many parks on PostgreSQL served by N `tanji
//! serve` processes on loopback, for each N asked (1, the named baseline, and 2 by default),
//! each on fresh parks in a schema of its own. Every park gets a writer (one instance holds its
//! lease); the devices' signed uploads are then offered at a fixed total rate spread evenly over
//! the parks (open loop: each upload is due at a fixed instant, and its latency runs from then
//! to its answer), upload `i` of park `p` to instance `(p + i) mod N`, so with two instances
//! about half reach the instance that does not write the park and are forwarded to the one that
//! does. A refused connection or a 503 is retried at the other instance. Afterwards the
//! instances are stopped with SIGTERM and every acknowledged upload must be in its park's log
//! exactly once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use tanji_readings::upload_to_json;
use tanji_simulator::{Park as SimPark, ParkSpec};
use tanji_store::{PgLocation, PostgresStore, StoreAt};

use tanji_cli::util;
use tanji_units::time;

use crate::parks::{cpu_of, machine_ticks};
use crate::pg::PgRun;
use crate::serve::{load_average, ms, percentile, post_upload, Idle, MAX_CONNECTIONS};

/// How long every park may take to get a writer once the instances start.
const WRITERS_WITHIN: Duration = Duration::from_secs(180);

/// How long an upload is retried (a refused connection or a 503) before it counts as failed.
const RETRY_FOR: Duration = Duration::from_secs(60);

/// What to run.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The PostgreSQL database (`postgres://…`, without `schema=`: each instance count runs on
    /// a schema of its own, dropped after). Each park written holds one connection (its
    /// store's), each instance one more for its leases: `max_connections` must exceed the parks
    /// plus the instances.
    #[arg(long)]
    pub store: String,
    /// Instance counts to run, comma-separated, each on fresh parks (the first is the
    /// baseline).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2])]
    pub instances: Vec<usize>,
    /// Parks of the deployment.
    #[arg(long, default_value_t = 200)]
    pub parks: usize,
    /// Enterprises per park (each one device, one upload a day of all its meters).
    #[arg(long, default_value_t = 10)]
    pub enterprises: usize,
    /// Uploads offered per second, over all parks together.
    #[arg(long, default_value_t = 2200.0)]
    pub rate: f64,
    /// Seconds of offered load.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
    /// The instances' batch window, milliseconds (`[batch] window_ms`; the server's default).
    #[arg(long, default_value_t = 250)]
    pub window_ms: u64,
    /// Simulation seed.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Write the table into this Markdown file (between the instances markers).
    #[arg(long)]
    pub write: Option<PathBuf>,
}

/// One park of the deployment and the uploads its devices will send.
struct ParkLoad {
    name: String,
    dir: PathBuf,
    /// The park's name in the PostgreSQL store (its lease row).
    stored_as: String,
    /// JSON bodies, in sending order, with each upload's (device, seq).
    uploads: Vec<(String, (String, u64))>,
}

/// A deployment directory of parks in a schema of its own (dropped on drop).
struct Deployment {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
    at: PgLocation,
    parks: Vec<ParkLoad>,
    /// Readings in all the parks' uploads.
    readings: usize,
    _run: PgRun,
}

/// Creates the deployment: `parks/<name>` for each park, its devices registered, and its
/// uploads signed.
fn deploy(a: &Args, per_park: usize) -> Result<Deployment> {
    let run = PgRun::new(&a.store, "instances")?;
    let store_url = run.store_url();
    let tmp = tempfile::tempdir().context("creating a temporary deployment directory")?;
    let root = tmp.path().join("deploy");
    let today = util::now().div_euclid(time::DAY_S) * time::DAY_S;
    let days = per_park.div_ceil(a.enterprises) as u32;
    let start_day = today - i64::from(days + 2) * time::DAY_S;
    let mut parks = Vec::with_capacity(a.parks);
    let mut readings = 0;
    for p in 0..a.parks {
        let name = format!("p{p:04}");
        let sim = SimPark::generate(ParkSpec {
            seed: a.seed + p as u64,
            enterprises: a.enterprises,
            start_day,
            days,
        });
        let dir = root.join("parks").join(&name);
        let mut park = tanji_park::Park::create_on(&dir, &name, None, Some(&store_url))
            .with_context(|| format!("creating park {name}"))?;
        park.register(&sim.registrations(start_day - time::DAY_S))?;
        drop(park);
        let uploads = sim
            .uploads()
            .take(per_park)
            .map(|u| {
                readings += u.reading_count();
                (upload_to_json(&u), (u.body.device.clone(), u.body.seq))
            })
            .collect();
        let StoreAt::Postgres {
            park: stored_as, ..
        } = tanji_park::store_at(&dir)?
        else {
            bail!("park {name} is not on PostgreSQL");
        };
        parks.push(ParkLoad {
            name,
            dir,
            stored_as,
            uploads,
        });
    }
    let StoreAt::Postgres { at, .. } = tanji_park::store_at(&parks[0].dir)? else {
        bail!("the parks are not on PostgreSQL");
    };
    let config = tmp.path().join("tanji.toml");
    std::fs::write(
        &config,
        format!(
            "[parks]\nstore = \"{store_url}\"\n\n[lease]\nttl_ms = 10000\npoll_ms = 1000\n\n[batch]\nwindow_ms = {}\n",
            a.window_ms
        ),
    )
    .context("writing the instances' configuration")?;
    Ok(Deployment {
        _tmp: tmp,
        root,
        config,
        at,
        parks,
        readings,
        _run: run,
    })
}

/// One `tanji serve` process, its stderr in a file.
struct Instance {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Instance {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of its stderr.
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `tanji` binary beside this one.
fn tanji_binary() -> Result<PathBuf> {
    let bin = std::env::current_exe()
        .context("finding this executable")?
        .with_file_name("tanji");
    ensure!(
        bin.is_file(),
        "{} is missing: the instances bench runs the `tanji` binary beside tanji-bench; build it: cargo build --release -p tanji-cli",
        bin.display()
    );
    Ok(bin)
}

/// Starts `n` instances over the deployment, each on a free loopback port.
fn start(bin: &Path, d: &Deployment, n: usize) -> Result<Vec<Instance>> {
    (0..n)
        .map(|i| {
            let addr = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .context("finding a free loopback port")?;
            let log = d.root.with_file_name(format!("instance-{i}.log"));
            let err = std::fs::File::create(&log).context("creating an instance's log")?;
            let child = std::process::Command::new(bin)
                .arg("serve")
                .arg("--dir")
                .arg(&d.root)
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--config")
                .arg(&d.config)
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?;
            Ok(Instance { child, addr, log })
        })
        .collect()
}

/// The parks' writers: park (as stored) → process id of its live lease's holder.
fn writers(at: &PgLocation) -> Result<HashMap<String, u32>> {
    Ok(PostgresStore::live_leases(at)?
        .into_iter()
        .filter_map(|(park, lease)| {
            let pid = lease.holder.split_once(" pid ")?.1.split(' ').next()?;
            Some((park, pid.parse().ok()?))
        })
        .collect())
}

/// Waits until every park has a writer among `instances`; the writers and the time it took.
fn await_writers(
    d: &Deployment,
    instances: &mut [Instance],
) -> Result<(HashMap<String, u32>, f64)> {
    let t = Instant::now();
    loop {
        let w = writers(&d.at)?;
        let ours = |park: &ParkLoad| {
            w.get(&park.stored_as)
                .is_some_and(|pid| instances.iter().any(|i| i.pid() == *pid))
        };
        let written = d.parks.iter().filter(|p| ours(p)).count();
        if written == d.parks.len() {
            return Ok((w, t.elapsed().as_secs_f64()));
        }
        for i in instances.iter_mut() {
            if let Ok(Some(status)) = i.child.try_wait() {
                bail!("instance at {} exited ({status}):\n{}", i.addr, i.tail());
            }
        }
        if t.elapsed() > WRITERS_WITHIN {
            bail!(
                "{written} of {} parks have a writer {} s after the instances started (each park written holds a PostgreSQL connection: is max_connections above --parks?); an instance's log ends:\n{}",
                d.parks.len(),
                WRITERS_WITHIN.as_secs(),
                instances[0].tail()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What became of one upload.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    /// Accepted (or, on a retry, a duplicate of an accepted one): the answer's status.
    Acked,
    /// Answered, but neither: the HTTP status and the start of the answer.
    Other(String),
    /// No answer within [`RETRY_FOR`]: the last error.
    Failed(String),
}

struct Sample {
    park: usize,
    /// Its position among the park's uploads.
    nth: usize,
    got: Got,
    /// From when the upload was due to its answer read.
    latency: Duration,
    done: Instant,
    /// Sent again (at the other instance) after a refused connection or a 503.
    retries: u32,
    /// Why it was first sent again, if it was.
    retried_for: Option<String>,
}

/// One upload to send: its park, its position there, the first instance it goes to and
/// whether that one writes the park.
struct Send {
    park: usize,
    nth: usize,
    path: Arc<str>,
    body: String,
    at: usize,
    forwarded: bool,
}

/// Posts one upload, retrying at the other instance on a refused connection or a 503.
async fn deliver(s: &Send, addrs: &[SocketAddr], idle: &[Idle]) -> (Got, u32, Option<String>) {
    let mut at = s.at;
    let mut retries = 0;
    let mut first: Option<String> = None;
    let started = Instant::now();
    loop {
        let last = match post_upload(&idle[at], addrs[at], &s.path, s.body.clone()).await {
            Ok((status, b)) if status.is_success() => {
                let v: serde_json::Value = serde_json::from_slice(&b).unwrap_or_default();
                return match v["status"].as_str() {
                    Some("accepted" | "duplicate") => (Got::Acked, retries, first),
                    _ => (
                        Got::Other(format!(
                            "{status} {}",
                            String::from_utf8_lossy(&b[..b.len().min(160)])
                        )),
                        retries,
                        first,
                    ),
                };
            }
            Ok((status, b)) if status != hyper::StatusCode::SERVICE_UNAVAILABLE => {
                return (
                    Got::Other(format!(
                        "{status} {}",
                        String::from_utf8_lossy(&b[..b.len().min(160)])
                    )),
                    retries,
                    first,
                );
            }
            Ok((status, b)) => format!(
                "{status} {}",
                String::from_utf8_lossy(&b[..b.len().min(160)])
            ),
            Err(e) => e,
        };
        if started.elapsed() > RETRY_FOR {
            return (Got::Failed(last), retries, first);
        }
        first.get_or_insert(last);
        at = (at + 1) % addrs.len();
        retries += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Offers every upload at `rate` per second, open loop, the k-th due k ÷ rate after the
/// start; returns when the first was due and one sample per upload.
fn offer(sends: Vec<Send>, addrs: Vec<SocketAddr>, rate: f64) -> Result<(Instant, Vec<Sample>)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let idle: Arc<Vec<Idle>> = Arc::new(addrs.iter().map(|_| Idle::default()).collect());
        let addrs = Arc::new(addrs);
        let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let started = Instant::now();
        let step = Duration::from_secs_f64(1.0 / rate);
        let mut tasks = Vec::with_capacity(sends.len());
        for (k, s) in sends.into_iter().enumerate() {
            let due = started + step.mul_f64(k as f64);
            tokio::time::sleep_until(due.into()).await;
            let (idle, addrs, in_flight) = (
                Arc::clone(&idle),
                Arc::clone(&addrs),
                Arc::clone(&in_flight),
            );
            tasks.push(tokio::spawn(async move {
                let _permit = in_flight.acquire_owned().await;
                let (got, retries, retried_for) = deliver(&s, &addrs, &idle).await;
                let done = Instant::now();
                Sample {
                    park: s.park,
                    nth: s.nth,
                    got,
                    latency: done - due,
                    done,
                    retries,
                    retried_for,
                }
            }));
        }
        let mut samples = Vec::with_capacity(tasks.len());
        for t in tasks {
            samples.push(t.await.context("a sender task failed")?);
        }
        Ok((started, samples))
    })
}

/// The uploads in sending order: round robin over the parks, upload `i` of park `p` first to
/// instance `(p + i) mod n`.
fn sends(d: &Deployment, instances: &[Instance], w: &HashMap<String, u32>) -> Vec<Send> {
    let n = instances.len();
    let paths: Vec<Arc<str>> = d
        .parks
        .iter()
        .map(|p| Arc::from(format!("/parks/{}/api/v1/uploads", p.name)))
        .collect();
    let most = d.parks.iter().map(|p| p.uploads.len()).max().unwrap_or(0);
    let mut out = Vec::new();
    for nth in 0..most {
        for (park, p) in d.parks.iter().enumerate() {
            let Some((body, _)) = p.uploads.get(nth) else {
                continue;
            };
            let at = (park + nth) % n;
            out.push(Send {
                park,
                nth,
                path: Arc::clone(&paths[park]),
                body: body.clone(),
                at,
                forwarded: w.get(&p.stored_as) != Some(&instances[at].pid()),
            });
        }
    }
    out
}

/// Stops every instance with SIGTERM and waits for it to exit.
fn stop(instances: &mut [Instance]) -> Result<()> {
    for i in instances.iter() {
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &i.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        ensure!(ok, "could not send SIGTERM to instance {}", i.pid());
    }
    for i in instances.iter_mut() {
        let t = Instant::now();
        loop {
            if let Some(status) = i.child.try_wait()? {
                ensure!(
                    status.success(),
                    "instance at {} exited with {status} after SIGTERM:\n{}",
                    i.addr,
                    i.tail()
                );
                break;
            }
            ensure!(
                t.elapsed() < Duration::from_secs(120),
                "instance at {} did not exit within 120 s of SIGTERM:\n{}",
                i.addr,
                i.tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

/// Checks that every acknowledged upload is in its park's log exactly once; the uploads
/// logged that were not acknowledged (answered with an error, yet committed).
fn check_logs(d: &Deployment, samples: &[Sample]) -> Result<usize> {
    use tanji_store::Store as _;
    let mut acked: Vec<Vec<usize>> = vec![Vec::new(); d.parks.len()];
    for s in samples.iter().filter(|s| s.got == Got::Acked) {
        acked[s.park].push(s.nth);
    }
    let mut unacked = 0;
    for (p, park) in d.parks.iter().enumerate() {
        let store = tanji_park::Park::open_store(&park.dir)?;
        let mut logged: HashMap<(String, u64), usize> = HashMap::new();
        for u in store.uploads()? {
            *logged.entry((u.row.device, u.row.seq)).or_default() += 1;
        }
        for &nth in &acked[p] {
            let key = &park.uploads[nth].1;
            let times = logged.get(key).copied().unwrap_or(0);
            ensure!(
                times == 1,
                "park {}: upload {} seq {} was acknowledged but is in the log {times} times",
                park.name,
                key.0,
                key.1
            );
        }
        unacked += logged.len().saturating_sub(acked[p].len());
    }
    Ok(unacked)
}

/// One instance count's outcome.
struct Row {
    instances: usize,
    /// Parks written by each instance.
    written: Vec<usize>,
    /// Seconds from the start until every park had a writer.
    writers_after: f64,
    offered: usize,
    acked: usize,
    not_acked: usize,
    seconds: f64,
    /// Each instance's peak resident memory, MiB.
    peak_mib: Vec<u64>,
    /// The ack p50 and p99 of the uploads due in the first and in the last third of the run.
    pace: [Duration; 4],
    /// Latencies of the acknowledged uploads, sorted.
    lat: Vec<Duration>,
    forwarded: usize,
    retried: usize,
    /// Why uploads were first sent again: the commonest reasons, with counts.
    retried_for: String,
    /// CPU seconds of the instances together, and of this process (the load generator).
    instances_cpu: f64,
    generator_cpu: f64,
    machine_busy: f64,
    unacked_logged: usize,
    load_before: String,
    load_after: String,
    /// Readings per upload, on average.
    readings_per_upload: f64,
}

/// Runs `n` instances over a fresh deployment under the offered load.
fn measure(a: &Args, bin: &Path, n: usize, per_park: usize) -> Result<Row> {
    eprintln!(
        "{n} instance(s): creating {} parks with {} enterprises each …",
        a.parks, a.enterprises
    );
    let t = Instant::now();
    let d = deploy(a, per_park)?;
    eprintln!(
        "  created in {:.1} s; starting {n} `tanji serve` …",
        t.elapsed().as_secs_f64()
    );
    let mut instances = start(bin, &d, n)?;
    let (w, writers_after) = await_writers(&d, &mut instances)?;
    let written: Vec<usize> = instances
        .iter()
        .map(|i| w.values().filter(|p| **p == i.pid()).count())
        .collect();
    eprintln!("  every park written {writers_after:.1} s after the start (parks per instance: {written:?}); offering {} uploads/s for {} s …", a.rate, a.seconds);
    let sends = sends(&d, &instances, &w);
    let offered = sends.len();
    let forwarded = sends.iter().filter(|s| s.forwarded).count();
    let pids: Vec<String> = instances.iter().map(|i| i.pid().to_string()).collect();
    let cpu = |pids: &[String]| pids.iter().map(|p| cpu_of(p)).sum::<f64>();
    let load_before = load_average();
    let (c0, g0, m0) = (cpu(&pids), cpu_of("self"), machine_ticks());
    let addrs = instances.iter().map(|i| i.addr).collect();
    let (started, samples) = offer(sends, addrs, a.rate)?;
    let (c1, g1, m1) = (cpu(&pids), cpu_of("self"), machine_ticks());
    let load_after = load_average();
    let acked = samples.iter().filter(|s| s.got == Got::Acked).count();
    let not_acked = tally(samples.iter().filter_map(|s| match &s.got {
        Got::Other(r) | Got::Failed(r) => Some(r.as_str()),
        Got::Acked => None,
    }));
    if !not_acked.is_empty() {
        eprintln!("  not acknowledged: {not_acked}");
    }
    let last = samples.iter().map(|s| s.done).max().unwrap_or(started);
    let lat = acked_latencies(&samples);
    let retried = samples.iter().filter(|s| s.retries > 0).count();
    let pace = pace(&samples);
    let retried_for = tally(samples.iter().filter_map(|s| s.retried_for.as_deref()));
    let peak_mib: Vec<u64> = pids.iter().map(|p| peak_memory_kib(p) / 1024).collect();
    stop(&mut instances)?;
    let unacked_logged = check_logs(&d, &samples)?;
    eprintln!("  every acknowledged upload is in its park's log once");
    Ok(Row {
        instances: n,
        written,
        writers_after,
        offered,
        acked,
        not_acked: offered - acked,
        seconds: (last - started).as_secs_f64(),
        pace,
        peak_mib,
        lat,
        forwarded,
        retried,
        retried_for,
        instances_cpu: c1 - c0,
        generator_cpu: g1 - g0,
        machine_busy: if m1.1 > m0.1 {
            (m1.0 - m0.0) / (m1.1 - m0.1)
        } else {
            0.0
        },
        unacked_logged,
        load_before,
        load_after,
        readings_per_upload: d.readings as f64 / offered.max(1) as f64,
    })
}

/// The peak resident memory of process `pid` (`VmHWM`), KiB; 0 if unknown.
fn peak_memory_kib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The latencies of the acknowledged uploads among `samples`, sorted.
fn acked_latencies(samples: &[Sample]) -> Vec<Duration> {
    let mut l: Vec<Duration> = samples
        .iter()
        .filter(|s| s.got == Got::Acked)
        .map(|s| s.latency)
        .collect();
    l.sort_unstable();
    l
}

/// The ack p50 and p99 of the acknowledged uploads due in the first third of the run, then of
/// those due in the last third (`samples` in the order they were due): a deployment that keeps
/// pace with the offered rate answers the last as fast as the first, one that falls behind
/// ever later.
fn pace(samples: &[Sample]) -> [Duration; 4] {
    let third = samples.len() / 3;
    let lat = |part: &[Sample]| {
        let l = acked_latencies(part);
        (percentile(&l, 50.0), percentile(&l, 99.0))
    };
    let (a, b) = lat(&samples[..third]);
    let (c, d) = lat(&samples[samples.len() - third..]);
    [a, b, c, d]
}

/// The three commonest of `reasons` (an answer by its status and error code, so that answers
/// differing only in their message count together), each with its count:
/// "12 × 503 Service Unavailable (not_writer), 3 × connecting to …".
fn tally<'a>(reasons: impl Iterator<Item = &'a str>) -> String {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in reasons {
        let short = match r.split_once(" {") {
            Some((status, body)) => {
                let code = body
                    .split_once(r#""error":""#)
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map_or("", |(code, _)| code);
                format!("{status} ({code})")
            }
            None => r.to_string(),
        };
        *counts.entry(short).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
        .iter()
        .take(3)
        .map(|(r, k)| format!("{k} × {r}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table, one row per instance count, the first the baseline.
fn table(rows: &[Row], parks: usize, rate: f64) -> String {
    let mut t = String::from(
        "| instances | parks written by each | uploads offered | offered rate | acknowledged | not acknowledged | acknowledged uploads/s | of baseline | ack p50 | ack p99 | ack max | ack p50 / p99, first third | ack p50 / p99, last third | forwarded | retried | instances' CPU | load generator CPU | machine busy |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let base = rows.first().map_or(0.0, |r| r.acked as f64 / r.seconds);
    for (k, r) in rows.iter().enumerate() {
        let ups = r.acked as f64 / r.seconds;
        let written: Vec<String> = r.written.iter().map(usize::to_string).collect();
        t.push_str(&format!(
            "| {}{} | {} of {parks} | {} | {rate:.0}/s | {} | {} | {ups:.0} | {:.0}% | {} | {} | {} | {} / {} | {} / {} | {:.0}% | {} | {:.0}% of a core | {:.0}% of a core | {:.0}% |\n",
            r.instances,
            if k == 0 { " (baseline)" } else { "" },
            written.join(" + "),
            r.offered,
            r.acked,
            r.not_acked,
            if base > 0.0 { 100.0 * ups / base } else { 0.0 },
            ms(percentile(&r.lat, 50.0)),
            ms(percentile(&r.lat, 99.0)),
            ms(r.lat.last().copied().unwrap_or_default()),
            ms(r.pace[0]),
            ms(r.pace[1]),
            ms(r.pace[2]),
            ms(r.pace[3]),
            100.0 * r.forwarded as f64 / r.offered.max(1) as f64,
            r.retried,
            100.0 * r.instances_cpu / r.seconds,
            100.0 * r.generator_cpu / r.seconds,
            100.0 * r.machine_busy
        ));
    }
    t
}

pub fn run(a: Args) -> Result<ExitCode> {
    ensure!(
        a.parks > 0 && a.enterprises > 0 && !a.instances.is_empty(),
        "--parks, --enterprises and --instances must be positive"
    );
    ensure!(
        a.instances.iter().all(|n| *n > 0),
        "--instances: each count must be at least 1"
    );
    ensure!(
        a.rate > 0.0 && a.seconds > 0.0,
        "--rate and --seconds must be positive"
    );
    let bin = tanji_binary()?;
    let describe = PgRun::new(&a.store, "probe")?.describe()?;
    let per_park = ((a.rate * a.seconds) / a.parks as f64).ceil().max(1.0) as usize;
    let mut rows = Vec::new();
    for &n in &a.instances {
        rows.push(measure(&a, &bin, n, per_park)?);
    }
    let table = table(&rows, a.parks, a.rate);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let runs: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} instance(s): {:.0} readings per upload on average; every park had a writer {:.1} s after the start; load average (1 min) {} before, {} after; peak memory of each instance {} MiB; {} upload(s) logged though not acknowledged (answered with an error, yet committed); retried for: {}",
                r.instances, r.readings_per_upload, r.writers_after, r.load_before, r.load_after,
                r.peak_mib.iter().map(u64::to_string).collect::<Vec<_>>().join(" + "), r.unacked_logged,
                if r.retried_for.is_empty() { "nothing" } else { &r.retried_for }
            )
        })
        .collect();
    let note = format!(
        "Method: for each instance count, {parks} fresh parks (`parks/<name>` of one deployment directory, each its own log, key and devices: {ent} enterprises, one device each) in a schema of its own on {describe}; \
         N `tanji serve` processes over the deployment (batch window {w} ms, lease TTL 10 s), started together; once every park has a writer, {per_park} signed uploads per park \
         (one device's day of all its meters each: 1 to 6 channels of 96 quarter-hours, where the `parks` bench's uploads have one) are offered at {rate:.0} uploads/s in all, round robin over the parks, open loop, one upload per HTTP/1.1 request to `/parks/<park>/api/v1/uploads`, \
         upload i of park p to instance (p + i) mod N; a refused connection or a 503 is retried at the other instance (retried: uploads sent more than once). \
         Forwarded: uploads first sent to the instance that does not write their park (it forwards them to the writer). \
         Latency from when an upload was due to its answer read; percentiles by nearest rank; acknowledged uploads/s = acknowledged ÷ time from the first due to the last answer (so below the offered rate by the last answers' latency even when every upload is answered in time); first and last third: the uploads due in the first and in the last third of the run (a deployment falling behind answers the last third ever later). \
         Instances' CPU: user + system time of the `tanji serve` processes during the load; machine busy counts every process, PostgreSQL's backends and the load generator (this process, on the same cores) included. \
         Afterwards the instances were stopped with SIGTERM and every acknowledged upload was found exactly once in its park's log. \
         The machine has {cores} cores shared with other work. {}.\n",
        runs.join("; "),
        parks = a.parks,
        ent = a.enterprises,
        w = a.window_ms,
        rate = a.rate,
    );
    println!("{table}\n{note}");
    if let Some(path) = &a.write {
        let intro = format!(
            "Measured {} on this machine ({cores} cores, shared with other work) with\n`tanji-bench instances --instances {} --parks {} --rate {} --seconds {} --window-ms {}`:\n\n",
            time::rfc3339(util::now()),
            a.instances.iter().map(usize::to_string).collect::<Vec<_>>().join(","),
            a.parks,
            a.rate,
            a.seconds,
            a.window_ms
        );
        tanji_cli::record::record(path, "instances", &format!("{intro}{table}\n{note}"))?;
        println!("recorded in {}", path.display());
    }
    let failed: usize = rows.iter().map(|r| r.not_acked).sum();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{failed} uploads were not acknowledged");
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::{pace, tally, Got, Sample};
    use std::time::{Duration, Instant};

    #[test]
    fn pace_compares_the_first_and_the_last_third_by_when_uploads_were_due() {
        // Answered in 1 s at first, in 5 s at the end (falling behind); one not acknowledged.
        let samples: Vec<Sample> = (0..300u64)
            .map(|k| Sample {
                park: 0,
                nth: k as usize,
                got: if k == 250 {
                    Got::Failed("x".into())
                } else {
                    Got::Acked
                },
                latency: Duration::from_secs(if k < 100 {
                    1
                } else if k < 200 {
                    3
                } else {
                    5
                }) + Duration::from_millis(k),
                done: Instant::now(),
                retries: 0,
                retried_for: None,
            })
            .collect();
        let [p50, p99, last50, last99] = pace(&samples);
        assert_eq!(p50, Duration::from_millis(1_049));
        assert_eq!(p99, Duration::from_millis(1_098));
        assert_eq!(last50, Duration::from_millis(5_249));
        assert_eq!(last99, Duration::from_millis(5_299)); // 99 acknowledged: the 99th
    }

    #[test]
    fn retry_reasons_count_together_by_status_and_error_code() {
        let reasons = [
            r#"503 Service Unavailable {"error":"not_writer","message":"park a: …"}"#,
            r#"503 Service Unavailable {"error":"not_writer","message":"park b: …"}"#,
            "connecting to 127.0.0.1:1: refused",
            r#"503 Service Unavailable {"error":"busy","message":"…"}"#,
            r#"503 Service Unavailable {"error":"busy","message":"…"}"#,
            r#"503 Service Unavailable {"error":"busy","message":"…"}"#,
            "x",
        ];
        assert_eq!(
            tally(reasons.into_iter()),
            "3 × 503 Service Unavailable (busy), 2 × 503 Service Unavailable (not_writer), 1 × connecting to 127.0.0.1:1: refused"
        );
    }
}
