//! `tanji-bench serve`: the service under load, on loopback only. Starts the server in this
//! process on 127.0.0.1:0 over a temporary park, has N simulated devices (the simulator's
//! registrations and signed daily uploads) POST one upload per request at a fixed total rate
//! over real HTTP (at most [`MAX_CONNECTIONS`] requests in flight), while dashboard readers
//! query the park's emissions and the status, and reports acknowledged uploads per second, the
//! acknowledgement latency percentiles and the readers' query latency. The latency of each upload is measured from the moment it was due to be sent
//! (open loop), so a slow server cannot hide its queueing delay by slowing the senders down.
//! Afterwards the park is reopened and every acknowledged upload must be in the log.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tanji_park::{Incoming, Outcome, Park};
use tanji_readings::{parse_json_upload, upload_to_json};
use tanji_server::{Config, Server};
use tanji_simulator::{Park as SimPark, ParkSpec};

use tanji_cli::util;
use tanji_units::time;

/// The most connections the simulated devices hold at once: each is two file descriptors in
/// this one process (the device's and the server's), and a process usually may have 20 000.
pub(crate) const MAX_CONNECTIONS: usize = 8_000;

/// A device's HTTP/1.1 connection to the server: one request at a time, as a device sends.
type Conn = hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>;

/// Open connections not in use, shared by the devices' senders.
pub(crate) type Idle = Arc<std::sync::Mutex<Vec<Conn>>>;

async fn connect(addr: std::net::SocketAddr) -> std::result::Result<Conn, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    stream.set_nodelay(true).ok();
    let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(send)
}

/// POSTs `body` to the upload route `path` (`/api/v1/uploads`, or a park's under
/// `/parks/<park>/`) over an idle connection (or a new one) and returns the status and the
/// answer; the connection goes back to `idle` if it can carry another request.
pub(crate) async fn post_upload(
    idle: &Idle,
    addr: std::net::SocketAddr,
    path: &str,
    body: String,
) -> std::result::Result<(hyper::StatusCode, bytes::Bytes), String> {
    use http_body_util::BodyExt;
    let reused = idle.lock().ok().and_then(|mut v| v.pop());
    // A connection back from its last answer may not have taken it in yet: wait until it can
    // carry a request (hyper refuses one sent before), or open another if it was closed.
    let ready = match reused {
        Some(mut c) => c.ready().await.is_ok().then_some(c),
        None => None,
    };
    let mut conn = match ready {
        Some(c) => c,
        None => connect(addr).await?,
    };
    let req = hyper::Request::post(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .map_err(|e| format!("building the request: {e}"))?;
    let res = conn
        .send_request(req)
        .await
        .map_err(|e| format!("sending: {e}"))?;
    let status = res.status();
    let answer = res
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    if !conn.is_closed() {
        if let Ok(mut v) = idle.lock() {
            v.push(conn);
        }
    }
    Ok((status, answer))
}

/// What to run.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Simulated devices (one per enterprise, each with its meters registered).
    #[arg(long, default_value_t = 1000)]
    pub devices: usize,
    /// Daily uploads per device (uploads in all = devices × days).
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Uploads offered per second, in all devices together.
    #[arg(long, default_value_t = 6000.0)]
    pub rate: f64,
    /// The server's batch window, milliseconds.
    #[arg(long, default_value_t = 250)]
    pub window_ms: u64,
    /// Dashboard readers querying the server while the devices send (each in a loop: the park's
    /// emissions, then the ledger status, with an operator token).
    #[arg(long, default_value_t = 4)]
    pub readers: usize,
    /// How often each reader refreshes, in milliseconds (the dashboard itself polls every
    /// 5 000 ms); 0: again as soon as the last answer is read.
    #[arg(long, default_value_t = 1000)]
    pub reader_interval_ms: u64,
    /// Simulation seed.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Also run on a PostgreSQL park (`postgres://…`, without `schema=`: the run makes a schema
    /// of its own and drops it), after the SQLite run, in the same invocation.
    #[arg(long)]
    pub store: Option<String>,
    /// Write the table into this Markdown file (between the serve markers; with --store, the
    /// serve-postgres ones).
    #[arg(long)]
    pub write: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Accepted,
    /// Answered, but not `accepted`: the HTTP status and the start of the answer.
    Other(String),
    /// No answer: the client's error.
    Failed(String),
}

struct Sample {
    got: Got,
    /// From when the upload was due to be sent to when its answer was read.
    latency: Duration,
    done: Instant,
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `name_sum` / `name_count` of a Prometheus histogram in the text exposition.
fn histogram_mean(text: &str, name: &str) -> Option<(f64, f64)> {
    let value = |suffix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}_{suffix} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    Some((value("sum")?, value("count")?))
}

pub fn run(a: Args) -> Result<ExitCode> {
    anyhow::ensure!(a.rate > 0.0, "--rate must be positive");
    let mut text = String::new();
    let mut refused = 0;
    for store in std::iter::once(None).chain(a.store.as_deref().map(Some)) {
        let pg = store
            .map(|u| crate::pg::PgRun::new(u, "serve"))
            .transpose()?;
        let (heading, url) = match &pg {
            None => ("SQLite (WAL, synchronous=FULL)".to_string(), None),
            Some(run) => (run.describe()?, Some(run.store_url())),
        };
        eprintln!("serve bench on {heading} …");
        let (table, note, r) = measure(&a, url.as_deref())?;
        refused += r;
        text.push_str(&format!("**{heading}**\n\n{table}\n{note}\n"));
    }
    println!("{text}");
    if let Some(path) = &a.write {
        let intro = format!(
            "Measured {} on this machine (loopback, batch window {} ms) with\n`tanji-bench serve --devices {} --days {} --rate {} --window-ms {} --readers {} --reader-interval-ms {}{}`:\n\n",
            time::rfc3339(util::now()),
            a.window_ms,
            a.devices.max(1),
            a.days,
            a.rate,
            a.window_ms,
            a.readers,
            a.reader_interval_ms,
            if a.store.is_some() { " --store postgres://…" } else { "" }
        );
        let marker = if a.store.is_some() {
            "serve-postgres"
        } else {
            "serve"
        };
        tanji_cli::record::record(path, marker, &format!("{intro}{text}"))?;
        println!("recorded in {}", path.display());
    }
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{refused} uploads were not acknowledged as accepted");
        ExitCode::from(1)
    })
}

/// One run over a park in SQLite or, with `store`, the PostgreSQL database it names: the
/// table, its note and the uploads not acknowledged as accepted.
fn measure(a: &Args, store: Option<&str>) -> Result<(String, String, usize)> {
    let devices = a.devices.max(1);
    let prep = Prepared::new(a, devices, store)?;
    let total = prep.bodies.len();
    let mean_bytes = prep.bodies.iter().map(String::len).sum::<usize>() / total.max(1);
    let load = under_load(a, devices, &prep, mean_bytes)?;
    let tally = Tally::of(&load.samples, load.started);
    let m = ServerMetrics::of(&load.metrics_text);

    // Every acknowledged upload is in the log on disk.
    let park = Park::open(prep.dir.path())?;
    let logged = park.size() - prep.registered;
    anyhow::ensure!(
        logged == tally.accepted as u64,
        "{} uploads were acknowledged but the log holds {logged} new entries",
        tally.accepted
    );
    let load_after = load_average();
    drop(park);

    // Baseline in the same run: the same uploads through `Park::ingest` alone (no HTTP, no
    // proofs), in batches of the mean size the server made.
    let mean_batch = if m.batches > 0.0 {
        (m.batch_sum / m.batches).round() as usize
    } else {
        1000
    };
    eprintln!("baseline: the same uploads through Park::ingest alone, batches of {mean_batch} …");
    let (alone_rate, alone_batch) = park_alone(
        &prep.sim,
        prep.start_day,
        &prep.bodies,
        mean_batch.max(1),
        store,
    )?;

    let mut table = upload_table(devices, total, a.rate, &tally, &m);
    let read = ReadTally::of(&load.reads);
    table.push_str(&read.table(a.readers, &m));
    let note = format!(
        "Dashboard queries: {readers} readers while the devices send, each refreshing every {reader_ms} ms (the dashboard polls every 5 000 ms), asking for the park's emissions \
         (`GET /api/v1/park/emissions`: the park report, rebuilt in the background at most every {refresh_ms} ms while the log grows \
         (`[dashboard] report_refresh_ms`; each answer names its checkpoint), its view kept as JSON bytes until the next build; the largest answer was {largest_answer} bytes) and the \
         ledger status at the latest checkpoint (`GET /api/v1/status`), with an operator token; latency from request to the last byte read; queries made before the first batch was logged \
         are answered 404 (no data yet) and counted as failed.\n\n\
         One upload per HTTP/1.1 request (a device's signed day: {} readings in {} uploads, {mean_bytes} bytes of JSON on average), \
         answered after its batch is fsynced, with its inclusion proof and the signed checkpoint. \
         Accepted uploads/s = accepted ÷ time from the first send to the last answer; latency from when each upload was due \
         (open loop) to its answer read by the client; percentiles by nearest rank. Server and load generator share the \
         machine's cores. Every acknowledged upload was found in the log on disk afterwards ({logged} new entries).\n\n\
         Baseline in the same run: the same uploads through `Park::ingest` alone (JSON decode, validation, logging, fsync; \
         no HTTP, no proofs), one thread, batches of {alone_batch}: **{alone_rate:.0} uploads/s** — the most one sequencer \
         could log at that moment. Load average (1 min) before and after the run: {load_before} and {load_after} \
         (other work shared the machine).\n",
        prep.readings,
        total,
        readers = a.readers,
        largest_answer = read.largest_answer,
        load_before = prep.load_before,
        refresh_ms = tanji_server::config::DashboardConfig::default().report_refresh_ms,
        reader_ms = a.reader_interval_ms
    );
    Ok((table, note, tally.other + tally.failed))
}

/// The park the server will open, set up before the load: factors published, the devices
/// registered; and the uploads the devices will send.
struct Prepared {
    dir: tempfile::TempDir,
    start_day: i64,
    sim: SimPark,
    /// Log size before any upload.
    registered: u64,
    /// The uploads as JSON request bodies, in sending order.
    bodies: Vec<String>,
    /// Readings in all uploads.
    readings: usize,
    /// The 1-minute load average before the run.
    load_before: String,
}

impl Prepared {
    fn new(a: &Args, devices: usize, store: Option<&str>) -> Result<Prepared> {
        let dir = tempfile::tempdir().context("creating a temporary park directory")?;
        let today = util::now().div_euclid(time::DAY_S) * time::DAY_S;
        let start_day = today - i64::from(a.days + 2) * time::DAY_S;
        eprintln!(
            "preparing {devices} devices × {} days of signed uploads …",
            a.days
        );
        let sim = SimPark::generate(ParkSpec {
            seed: a.seed,
            enterprises: devices,
            start_day,
            days: a.days,
        });
        let registered = {
            let mut park = Park::create_on(dir.path(), "bench-serve", None, store)?;
            // The factors the dashboard's figures need (the synthetic Fujian-like year).
            let year = i32::try_from(time::civil_from_days(start_day.div_euclid(time::DAY_S)).year)
                .unwrap_or(2026);
            let grid = tanji_simulator::grid::fujian_like(year, a.seed)?;
            tanji_cli::factors::publish(&mut park, &grid.name, grid.csv.as_bytes(), &grid.meta)?;
            park.register(&sim.registrations(start_day - time::DAY_S))?;
            park.size()
        };
        let bodies: Vec<String> = sim.uploads().map(|u| upload_to_json(&u)).collect();
        let load_before = load_average();
        let readings: usize = sim.uploads().map(|u| u.reading_count()).sum();
        Ok(Prepared {
            dir,
            start_day,
            sim,
            registered,
            bodies,
            readings,
            load_before,
        })
    }
}

/// One dashboard query: its latency and the bytes answered, or what went wrong.
type Read = (Duration, std::result::Result<usize, String>);

/// What the run under load saw.
struct Load {
    samples: Vec<Sample>,
    /// When the first upload was due.
    started: Instant,
    /// The server's metrics at the end, in the Prometheus text exposition.
    metrics_text: String,
    reads: Vec<Read>,
}

/// Starts the server over the prepared park, has the devices send every upload at the offered
/// rate while the dashboard readers query, then stops the server.
fn under_load(a: &Args, devices: usize, prep: &Prepared, mean_bytes: usize) -> Result<Load> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let window_ms = a.window_ms;
    let rate = a.rate;
    let park_dir = prep.dir.path().to_path_buf();
    let readers = a.readers;
    let reader_interval = Duration::from_millis(a.reader_interval_ms);
    let bodies = prep.bodies.clone();
    runtime.block_on(async move {
        let mut config = Config::default();
        let (token, hash) = tanji_server::auth::new_token();
        config.tokens.push(tanji_server::config::TokenConfig {
            name: Some("bench dashboard reader".into()),
            sha256: hash,
            role: "operator".into(),
            park: None,
        });
        config.batch.window_ms = window_ms;
        config.batch.max_records = 20_000;
        config.batch.queue_records = 1_000_000;
        // Opening a PostgreSQL park blocks on its own client runtime: off this one.
        let server = tokio::task::block_in_place(|| Server::open(&park_dir, config))?;
        let metrics = server.state().metrics().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding 127.0.0.1:0")?;
        let addr = listener
            .local_addr()
            .context("reading the listen address")?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(tanji_server::run(listener, server, async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .build()
            .context("building the HTTP client")?;
        // Dashboard readers, until the last upload is answered.
        let sending = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let base = format!("http://{addr}");
        let reader_tasks: Vec<_> = (0..readers)
            .map(|_| {
                tokio::spawn(read_dashboard(
                    client.clone(),
                    base.clone(),
                    token.clone(),
                    Arc::clone(&sending),
                    reader_interval,
                ))
            })
            .collect();
        eprintln!(
            "sending {} uploads ({mean_bytes} bytes of JSON each on average) at {rate} per second to {base}/api/v1/uploads …",
            bodies.len()
        );
        let (started, samples) = send_uploads(bodies, addr, rate, devices).await?;
        sending.store(false, std::sync::atomic::Ordering::Relaxed);
        let mut reads = Vec::new();
        for t in reader_tasks {
            reads.extend(t.await.context("a reader task failed")?);
        }
        let metrics_text = metrics.render();
        let _ = stop.send(());
        serving
            .await
            .context("the server task failed")?
            .context("the server failed")?;
        Ok(Load {
            samples,
            started,
            metrics_text,
            reads,
        })
    })
}

/// A dashboard reader: the park's emissions and the status, every `interval`, while `sending`.
async fn read_dashboard(
    client: reqwest::Client,
    base: String,
    token: String,
    sending: Arc<std::sync::atomic::AtomicBool>,
    interval: Duration,
) -> Vec<Read> {
    let mut lat: Vec<Read> = Vec::new();
    let mut next = Instant::now();
    while sending.load(std::sync::atomic::Ordering::Relaxed) {
        tokio::time::sleep_until(next.into()).await;
        next += interval;
        for path in ["/api/v1/park/emissions", "/api/v1/status"] {
            let t = Instant::now();
            let got = match client
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
            {
                Ok(r) => {
                    let status = r.status();
                    match r.bytes().await {
                        Ok(b) if status.is_success() => Ok(b.len()),
                        Ok(b) => Err(format!(
                            "{path}: {status} {}",
                            String::from_utf8_lossy(&b[..b.len().min(120)])
                        )),
                        Err(e) => Err(format!("{path}: {e}")),
                    }
                }
                Err(e) => Err(format!("{path}: {e}")),
            };
            lat.push((t.elapsed(), got));
        }
    }
    lat
}

/// Sends every body at `rate` per second, open loop; returns when the first was due and one
/// sample per upload, in sending order.
async fn send_uploads(
    bodies: Vec<String>,
    addr: std::net::SocketAddr,
    rate: f64,
    devices: usize,
) -> Result<(Instant, Vec<Sample>)> {
    let started = Instant::now();
    let step = Duration::from_secs_f64(1.0 / rate);
    // At most as many requests in flight as devices, and at most MAX_CONNECTIONS (server and
    // devices share this process's file descriptors, two per connection); an upload
    // waiting for a connection is late, and its latency counts from when it was due.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(devices.min(MAX_CONNECTIONS)));
    let idle: Idle = Arc::default();
    let mut tasks = Vec::with_capacity(bodies.len());
    for (k, body) in bodies.into_iter().enumerate() {
        let due = started + step.mul_f64(k as f64);
        tokio::time::sleep_until(due.into()).await;
        let idle = Arc::clone(&idle);
        let in_flight = Arc::clone(&in_flight);
        tasks.push(tokio::spawn(async move {
            let _permit = in_flight.acquire_owned().await;
            let got = match post_upload(&idle, addr, "/api/v1/uploads", body).await {
                Ok((status, b))
                    if status.is_success() && b.starts_with(br#"{"status":"accepted""#) =>
                {
                    Got::Accepted
                }
                Ok((status, b)) => Got::Other(format!(
                    "{status} {}",
                    String::from_utf8_lossy(&b[..b.len().min(160)])
                )),
                Err(e) => Got::Failed(e),
            };
            let done = Instant::now();
            Sample {
                got,
                latency: done - due,
                done,
            }
        }));
    }
    let mut samples = Vec::with_capacity(tasks.len());
    for t in tasks {
        samples.push(t.await.context("a sender task failed")?);
    }
    Ok((started, samples))
}

/// The uploads' answers counted.
struct Tally {
    accepted: usize,
    /// Answered, but not accepted.
    other: usize,
    /// Not answered.
    failed: usize,
    /// From the first send to the last answer.
    seconds: f64,
    /// Latencies of the accepted uploads, sorted.
    lat: Vec<Duration>,
}

impl Tally {
    /// Counts `samples` (and names the first reasons for refusals on stderr).
    fn of(samples: &[Sample], started: Instant) -> Tally {
        let accepted = samples.iter().filter(|s| s.got == Got::Accepted).count();
        let other = samples
            .iter()
            .filter(|s| matches!(s.got, Got::Other(_)))
            .count();
        let failed = samples
            .iter()
            .filter(|s| matches!(s.got, Got::Failed(_)))
            .count();
        let mut reasons: std::collections::BTreeMap<String, usize> =
            std::collections::BTreeMap::new();
        for s in samples {
            if let Got::Other(r) | Got::Failed(r) = &s.got {
                *reasons.entry(r.clone()).or_default() += 1;
            }
        }
        for (r, n) in reasons.iter().take(5) {
            eprintln!("not accepted: {n} × {r}");
        }
        let last = samples.iter().map(|s| s.done).max().unwrap_or(started);
        let mut lat: Vec<Duration> = samples
            .iter()
            .filter(|s| s.got == Got::Accepted)
            .map(|s| s.latency)
            .collect();
        lat.sort_unstable();
        Tally {
            accepted,
            other,
            failed,
            seconds: (last - started).as_secs_f64(),
            lat,
        }
    }
}

/// The server's own histograms: batches logged and park reports built.
struct ServerMetrics {
    /// Records in all batches.
    batch_sum: f64,
    batches: f64,
    /// Seconds spent on batches in all.
    batch_secs: f64,
    /// Seconds spent building park reports in all.
    build_secs: f64,
    builds: f64,
}

impl ServerMetrics {
    fn of(metrics_text: &str) -> ServerMetrics {
        let (batch_sum, batches) =
            histogram_mean(metrics_text, "tanji_batch_records").unwrap_or((0.0, 0.0));
        let (batch_secs, _) =
            histogram_mean(metrics_text, "tanji_batch_seconds").unwrap_or((0.0, 0.0));
        let (build_secs, builds) =
            histogram_mean(metrics_text, "tanji_report_build_seconds").unwrap_or((0.0, 0.0));
        ServerMetrics {
            batch_sum,
            batches,
            batch_secs,
            build_secs,
            builds,
        }
    }
}

/// A duration in whole milliseconds, as the tables show it.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// The devices' table: uploads offered, accepted, their latency and the server's batches.
fn upload_table(devices: usize, total: usize, rate: f64, t: &Tally, m: &ServerMetrics) -> String {
    let (accepted, lat, batches) = (t.accepted, &t.lat, m.batches);
    let mut table = String::new();
    table.push_str(
        "| devices | uploads offered | offered rate | accepted | not accepted | accepted uploads/s | ack p50 | ack p99 | ack max | batches | mean batch | mean batch time |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    table.push_str(&format!(
        "| {devices} | {total} | {rate:.0}/s | {accepted} | {} | {:.0} | {} | {} | {} | {batches:.0} | {:.0} | {:.0} ms |\n",
        t.other + t.failed,
        accepted as f64 / t.seconds,
        ms(percentile(lat, 50.0)),
        ms(percentile(lat, 99.0)),
        ms(lat.last().copied().unwrap_or_default()),
        if batches > 0.0 { m.batch_sum / batches } else { 0.0 },
        if batches > 0.0 { 1000.0 * m.batch_secs / batches } else { 0.0 },
    ));
    table
}

/// The dashboard queries counted.
struct ReadTally {
    /// Latencies of the answered queries, sorted.
    lat: Vec<Duration>,
    failed: usize,
    largest_answer: usize,
}

impl ReadTally {
    /// Counts `reads` (and names the first errors on stderr).
    fn of(reads: &[Read]) -> ReadTally {
        let mut lat: Vec<Duration> = reads.iter().filter(|r| r.1.is_ok()).map(|r| r.0).collect();
        lat.sort_unstable();
        let failed = reads.iter().filter(|r| r.1.is_err()).count();
        let largest_answer = reads
            .iter()
            .filter_map(|r| r.1.as_ref().ok())
            .max()
            .copied()
            .unwrap_or(0);
        let mut read_errors: std::collections::BTreeMap<&str, usize> =
            std::collections::BTreeMap::new();
        for (_, e) in reads {
            if let Err(e) = e {
                *read_errors.entry(e.as_str()).or_default() += 1;
            }
        }
        for (e, n) in read_errors.iter().take(3) {
            eprintln!("dashboard query not answered: {n} × {e}");
        }
        ReadTally {
            lat,
            failed,
            largest_answer,
        }
    }

    /// The readers' table, after the devices' one.
    fn table(&self, readers: usize, m: &ServerMetrics) -> String {
        let (read_failed, builds) = (self.failed, m.builds);
        format!(
            "\n| dashboard readers | queries answered | failed | query p50 | query p99 | query max | park reports built | mean build time |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n| {readers} | {} | {read_failed} | {} | {} | {} | {builds:.0} | {:.0} ms |\n",
            self.lat.len(),
            ms(percentile(&self.lat, 50.0)),
            ms(percentile(&self.lat, 99.0)),
            ms(self.lat.last().copied().unwrap_or_default()),
            if builds > 0.0 { 1000.0 * m.build_secs / builds } else { 0.0 },
        )
    }
}

/// The 1-minute load average, as /proc/loadavg gives it ("?" elsewhere).
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Uploads per second of `Park::ingest` alone over `bodies`, in batches of `batch`.
fn park_alone(
    sim: &SimPark,
    start_day: i64,
    bodies: &[String],
    batch: usize,
    store: Option<&str>,
) -> Result<(f64, usize)> {
    let dir = tempfile::tempdir().context("creating a temporary park directory")?;
    let mut park = Park::create_on(dir.path(), "bench-serve-alone", None, store)?;
    park.register(&sim.registrations(start_day - time::DAY_S))?;
    let started = Instant::now();
    let mut accepted = 0usize;
    for chunk in bodies.chunks(batch) {
        let items: Vec<Incoming> = chunk
            .iter()
            .enumerate()
            .map(|(i, b)| Incoming {
                source: format!("bench:{i}"),
                parsed: parse_json_upload(b),
                checked: None,
                raw: b.as_bytes().to_vec(),
            })
            .collect();
        accepted += park
            .ingest(items, util::now())?
            .iter()
            .filter(|o| matches!(o, Outcome::Accepted { .. }))
            .count();
    }
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        accepted == bodies.len(),
        "baseline: only {accepted} of {} uploads accepted",
        bodies.len()
    );
    Ok((accepted as f64 / seconds, batch))
}
