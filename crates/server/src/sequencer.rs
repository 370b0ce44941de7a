//! The sequencer: one OS thread owns the [`Park`] and logs uploads in short batches.
//!
//! Callers (HTTP and MQTT handlers) [`Sequencer::submit`] records and await their answers. The
//! thread takes the first waiting job, keeps collecting jobs for up to the batch window (or
//! until the batch holds `max_records`), validates and logs the whole batch with one
//! [`Park::ingest`] (one fsynced transaction, the signed checkpoint included), and only then
//! answers each caller, with inclusion proofs against the new checkpoint. One caller's record
//! cannot fail the others': a record validation refuses, or the store refuses, is rejected
//! alone ([`Park::ingest`] isolates it) and the rest of the batch is logged. A batch that fails
//! for the store itself (I/O, a full disk) is answered with an error, and nothing of it is
//! acknowledged.
//!
//! Device registrations (`POST /api/v1/devices`) go through the same thread
//! ([`Sequencer::register`]): the uploads collected before one are logged first, then the
//! registration is logged as its own batch with its checkpoint, and answered with its leaf
//! index once durable; so do revocations ([`Sequencer::revoke`]). The thread's [`Park`] holds the park's writer lock, so no other process
//! writes to the log under it.
//!
//! Proofs for a batch are computed together: nodes inside the batch's leaf range are hashed in
//! memory from the batch's leaf hashes, nodes to its left are read from the store once and
//! remembered (`BatchNodes`), so a batch of `B` records costs about `B` store reads and `2B`
//! hashes, not `B · log n` reads.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use serde::Serialize;
use tanji_ledger::{inclusion_proof, node_hash, CosignatureVerifier, Hash, NodeSource};
use tanji_park::{Clock, Incoming, Outcome, Park, Revoked, SystemClock};
use tanji_readings::{DeviceRegistration, DeviceRevocation, SignatureChecked};
use tanji_store::{AnyStore, StoreError};
use tokio::sync::{oneshot, watch};

use crate::config::BatchConfig;
use crate::metrics::Metrics;
use crate::ServerError;

/// The latest state of the log: its size and signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Entries in the log.
    pub size: u64,
    /// The signed checkpoint note for `size` (C2SP tlog-checkpoint).
    pub checkpoint: Arc<str>,
}

/// The acknowledgement of one record, given only once its batch is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Answer {
    /// Logged now.
    Accepted(Logged),
    /// The same record was logged before; the answer points at the earlier copy.
    Duplicate(Logged),
    /// Refused (and kept in the quarantine with the reason).
    Rejected {
        /// The stable rejection code, e.g. `bad_signature`.
        code: &'static str,
        /// What was wrong, where, and what to do.
        reason: String,
    },
}

/// Where a record sits in the log and the proof of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logged {
    /// Leaf index.
    pub index: u64,
    /// The tree size the proof and checkpoint are for.
    pub tree_size: u64,
    /// The RFC 6962 inclusion proof of the leaf in that tree, leaf's sibling first, each hash
    /// in standard base64 (as in C2SP tlog-proof).
    pub proof: Vec<String>,
    /// The signed checkpoint for `tree_size`.
    pub checkpoint: String,
    /// Data issues noted on the record (accepted anyway), e.g. a sequence gap.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<IssueNote>,
}

/// A data issue in an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueNote {
    /// Stable code, e.g. `sequence_gap`.
    pub code: &'static str,
    /// What it means.
    pub message: String,
}

impl Answer {
    /// `accepted`, `duplicate` or `rejected`.
    pub fn status(&self) -> &'static str {
        match self {
            Answer::Accepted(_) => "accepted",
            Answer::Duplicate(_) => "duplicate",
            Answer::Rejected { .. } => "rejected",
        }
    }

    /// The tlog-proof (`c2sp.org/tlog-proof@v1`) text of a logged record: index, proof
    /// hashes and checkpoint, verifiable offline with the log's key.
    pub fn tlog_proof(&self) -> Option<String> {
        let (Answer::Accepted(l) | Answer::Duplicate(l)) = self else {
            return None;
        };
        let mut s = format!("c2sp.org/tlog-proof@v1\nindex {}\n", l.index);
        for h in &l.proof {
            s.push_str(h);
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&l.checkpoint);
        Some(s)
    }
}

enum Msg {
    Job(Job),
    /// Log device registrations (all or none), or a device's revocation, as their own batch;
    /// or keep witness cosignatures (which rewrites the park's seal).
    Register(DeviceJob),
    /// Stop waiting for more records: log what is pending at once, and keep doing so.
    Drain,
    /// Log what is pending, answer it, and stop.
    Close,
}

struct Job {
    items: Vec<Incoming>,
    reply: oneshot::Sender<Result<Vec<Answer>, ServerError>>,
}

enum DeviceJob {
    Register(RegisterJob),
    Revoke(RevokeJob),
    Cosign(CosignJob),
}

struct CosignJob {
    size: u64,
    lines: Vec<String>,
    witnesses: Vec<CosignatureVerifier>,
    reply: oneshot::Sender<Result<Vec<String>, ServerError>>,
}

struct RegisterJob {
    regs: Vec<DeviceRegistration>,
    reply: oneshot::Sender<Result<Registered, ServerError>>,
}

struct RevokeJob {
    rev: DeviceRevocation,
    reply: oneshot::Sender<Result<Revocation, ServerError>>,
}

/// The answer to a revocation, given once it is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// Logged now: its place in the log and inclusion proof.
    Logged(Logged),
    /// The device was revoked already by the entry at this index; nothing was written.
    Already(u64),
}

/// The answer to registrations, given once they are durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registered {
    /// Each new registration's place in the log, with its inclusion proof, in request order.
    pub logged: Vec<Logged>,
    /// Registrations identical to ones already logged (nothing written for them).
    pub already: usize,
}

struct Shared {
    head: watch::Receiver<Head>,
    /// Records submitted and not yet answered.
    pending: AtomicU64,
    closed: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    queue_records: u64,
    /// Set once this instance is no longer the park's writer (its lease on PostgreSQL was
    /// lost): nothing more is logged, the server stops.
    writer_lost: Arc<watch::Sender<bool>>,
}

/// A handle to the sequencer thread; cheap to clone.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::SyncSender<Msg>,
    shared: Arc<Shared>,
    /// Each device's key registered when the sequencer started: records' signatures are
    /// checked with them on the callers' threads, in parallel, before the one sequencer
    /// thread validates and logs them (which verifies again only where a key has changed).
    keys: Arc<HashMap<String, tanji_readings::VerifyingKey>>,
}

/// Records whose signatures are checked between two yields to the runtime.
const CHECK_CHUNK: usize = 16;

impl std::fmt::Debug for Sequencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequencer")
            .field("head_size", &self.shared.head.borrow().size)
            .field("pending", &self.pending())
            .finish()
    }
}

impl Sequencer {
    /// Starts the sequencer thread, which owns `park` from now on, on the system clock.
    pub fn start(park: Park, config: &BatchConfig, metrics: Metrics) -> Result<Self, ServerError> {
        Self::start_with_clock(park, config, metrics, Arc::new(SystemClock))
    }

    /// [`Sequencer::start`] on `clock`: the time every batch is validated and quarantined at
    /// (given to [`Park::ingest`]), and the clock its batch window is measured on.
    pub fn start_with_clock(
        park: Park,
        config: &BatchConfig,
        metrics: Metrics,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ServerError> {
        let mut keys = HashMap::new();
        for (_, r) in park.registrations()? {
            // The latest registration of a device holds its key in force.
            if let Ok(k) = r.public_key.verifying_key() {
                keys.insert(r.device, k);
            }
        }
        let head = Head {
            size: park.size(),
            checkpoint: park.checkpoint()?.into(),
        };
        metrics
            .tree_size
            .set(i64::try_from(head.size).unwrap_or(i64::MAX));
        let (head_tx, head_rx) = watch::channel(head);
        // The channel holds jobs (requests), not records; records are bounded by `pending`.
        let (tx, rx) = mpsc::sync_channel(65_536);
        let writer_lost = Arc::new(watch::channel(false).0);
        let shared = Arc::new(Shared {
            writer_lost: Arc::clone(&writer_lost),
            head: head_rx,
            pending: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            thread: Mutex::new(None),
            queue_records: config.queue_records as u64,
        });
        let worker = Worker {
            park,
            rx,
            window: config.window(),
            max_records: config.max_records,
            head: head_tx,
            metrics,
            draining: false,
            clock,
            writer_lost,
        };
        let handle = std::thread::Builder::new()
            .name("tanji-sequencer".into())
            .spawn(move || worker.run())
            .map_err(|e| ServerError::Io {
                context: "starting the sequencer thread".into(),
                source: e,
            })?;
        if let Ok(mut t) = shared.thread.lock() {
            *t = Some(handle);
        }
        Ok(Sequencer {
            tx,
            shared,
            keys: Arc::new(keys),
        })
    }

    /// Checks the signatures of `items` with the registered keys, a chunk at a time, yielding
    /// to the runtime between chunks so a large request does not hold a worker thread.
    async fn check_signatures(&self, items: &mut [Incoming]) {
        for chunk in items.chunks_mut(CHECK_CHUNK) {
            for it in chunk.iter_mut() {
                if let Ok(u) = &it.parsed {
                    if let Some(k) = self.keys.get(&u.body.device) {
                        it.checked = SignatureChecked::check(u, k);
                    }
                }
            }
            if chunk.len() == CHECK_CHUNK {
                tokio::task::yield_now().await;
            }
        }
    }

    /// Submits records for logging and waits until their batch is durable. Answers come in the
    /// order of `items`. An error means nothing of `items` was acknowledged (it may still have
    /// been logged if the error came after the commit; resubmitting is safe: an identical
    /// record is answered `duplicate`).
    pub async fn submit(&self, mut items: Vec<Incoming>) -> Result<Vec<Answer>, ServerError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        self.check_signatures(&mut items).await;
        if *self.shared.writer_lost.borrow() {
            return Err(ServerError::NotWriter(
                "the park's writer lease was lost; another instance sequences it".into(),
            ));
        }
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(ServerError::ShuttingDown);
        }
        let n = items.len() as u64;
        let waiting = self.shared.pending.fetch_add(n, Ordering::SeqCst);
        if waiting > 0 && waiting + n > self.shared.queue_records {
            self.shared.pending.fetch_sub(n, Ordering::SeqCst);
            return Err(ServerError::Busy(
                usize::try_from(waiting).unwrap_or(usize::MAX),
            ));
        }
        let (reply, answer) = oneshot::channel();
        let sent = self.tx.try_send(Msg::Job(Job { items, reply }));
        let result = match sent {
            Ok(()) => answer.await.unwrap_or(Err(ServerError::ShuttingDown)),
            Err(TrySendError::Full(_)) => Err(ServerError::Busy(
                usize::try_from(self.shared.pending.load(Ordering::SeqCst)).unwrap_or(usize::MAX),
            )),
            Err(TrySendError::Disconnected(_)) => Err(ServerError::ShuttingDown),
        };
        self.shared.pending.fetch_sub(n, Ordering::SeqCst);
        result
    }

    /// Logs device registrations, all or none, after the uploads submitted before them, and
    /// waits until they are durable. A registration the park refuses (a key, enterprise or
    /// meter conflict, an invalid field) fails the call with [`ServerError::Park`] and logs
    /// nothing.
    pub async fn register(&self, regs: Vec<DeviceRegistration>) -> Result<Registered, ServerError> {
        let (reply, answer) = oneshot::channel();
        self.device_job(DeviceJob::Register(RegisterJob { regs, reply }))?;
        answer.await.unwrap_or(Err(ServerError::ShuttingDown))
    }

    /// Logs a device's revocation after the uploads submitted before it, as its own batch, and
    /// waits until it is durable; the uploads after it are judged with the device revoked.
    pub async fn revoke(&self, rev: DeviceRevocation) -> Result<Revocation, ServerError> {
        let (reply, answer) = oneshot::channel();
        self.device_job(DeviceJob::Revoke(RevokeJob { rev, reply }))?;
        answer.await.unwrap_or(Err(ServerError::ShuttingDown))
    }

    /// Keeps witness cosignature lines for the checkpoint of `size` (each checked against
    /// `witnesses`) through the park, whose seal binds them, in the order of the other writes;
    /// answers every line kept for that checkpoint once durable.
    pub async fn cosign(
        &self,
        size: u64,
        lines: Vec<String>,
        witnesses: Vec<CosignatureVerifier>,
    ) -> Result<Vec<String>, ServerError> {
        let (reply, answer) = oneshot::channel();
        self.device_job(DeviceJob::Cosign(CosignJob {
            size,
            lines,
            witnesses,
            reply,
        }))?;
        answer.await.unwrap_or(Err(ServerError::ShuttingDown))
    }

    fn device_job(&self, job: DeviceJob) -> Result<(), ServerError> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(ServerError::ShuttingDown);
        }
        match self.tx.try_send(Msg::Register(job)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(ServerError::Busy(
                usize::try_from(self.pending()).unwrap_or(usize::MAX),
            )),
            Err(TrySendError::Disconnected(_)) => Err(ServerError::ShuttingDown),
        }
    }

    /// Records submitted and not yet answered.
    pub fn pending(&self) -> u64 {
        self.shared.pending.load(Ordering::SeqCst)
    }

    /// A receiver that turns `true` once this instance is no longer the park's writer: its
    /// writer lease was lost (a batch failed as fenced, or renewing it failed). From then on
    /// every batch fails and nothing is acknowledged; the server stops.
    pub fn writer_lost(&self) -> watch::Receiver<bool> {
        self.shared.writer_lost.subscribe()
    }

    /// Says that this instance is no longer the park's writer ([`Sequencer::writer_lost`]).
    pub fn mark_writer_lost(&self) {
        self.shared.writer_lost.send_replace(true);
    }

    /// Whether the sequencer was closed ([`Sequencer::close`]).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// The latest durable log head.
    pub fn head(&self) -> Head {
        self.shared.head.borrow().clone()
    }

    /// A receiver that sees every new log head (size and checkpoint) once it is durable.
    pub fn subscribe(&self) -> watch::Receiver<Head> {
        self.shared.head.clone()
    }

    /// Stops waiting for batches to fill: from now on every batch is logged as soon as the
    /// previous one is done. Called when shutdown begins.
    pub fn drain(&self) {
        let _ = self.tx.try_send(Msg::Drain);
    }

    /// Logs and answers everything submitted so far, then stops the thread and waits for it.
    /// Later submissions fail with [`ServerError::ShuttingDown`].
    pub async fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        // A blocking send: the queue may be full, and Close must not be lost.
        let tx = self.tx.clone();
        let shared = Arc::clone(&self.shared);
        let joined = tokio::task::spawn_blocking(move || {
            let _ = tx.send(Msg::Close);
            let handle = shared.thread.lock().ok().and_then(|mut t| t.take());
            if let Some(h) = handle {
                if h.join().is_err() {
                    tracing::error!("the sequencer thread panicked");
                }
            }
        })
        .await;
        if joined.is_err() {
            tracing::error!("waiting for the sequencer thread failed");
        }
    }
}

struct Worker {
    park: Park,
    rx: mpsc::Receiver<Msg>,
    window: Duration,
    max_records: usize,
    head: watch::Sender<Head>,
    metrics: Metrics,
    draining: bool,
    /// Now: for validation and the quarantine, and for the batch window.
    clock: Arc<dyn Clock>,
    /// See [`Sequencer::writer_lost`].
    writer_lost: Arc<watch::Sender<bool>>,
}

impl Worker {
    fn run(mut self) {
        tracing::info!(size = self.park.size(), "sequencer started");
        loop {
            let first = match self.rx.recv() {
                Ok(Msg::Job(job)) => job,
                Ok(Msg::Register(r)) => {
                    self.register(r);
                    continue;
                }
                Ok(Msg::Drain) => {
                    self.draining = true;
                    continue;
                }
                Ok(Msg::Close) | Err(_) => break,
            };
            let mut records = first.items.len();
            let mut jobs = vec![first];
            let mut closing = false;
            // A registration ends the batch: it is logged right after it, in arrival order.
            let mut registration = None;
            // The window is measured on the clock; one wait never exceeds the window, so a
            // clock set back (or a test clock standing still) ends the batch after a window
            // with nothing arriving, and `max_records` bounds it in any case.
            let window_ms = if self.draining {
                0
            } else {
                i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
            };
            let deadline = self.clock.now_ms().saturating_add(window_ms);
            while records < self.max_records {
                let left = deadline
                    .saturating_sub(self.clock.now_ms())
                    .clamp(0, window_ms);
                let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
                let msg = if left.is_zero() {
                    match self.rx.try_recv() {
                        Ok(m) => m,
                        Err(_) => break,
                    }
                } else {
                    match self.rx.recv_timeout(left) {
                        Ok(m) => m,
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => {
                            closing = true;
                            break;
                        }
                    }
                };
                match msg {
                    Msg::Job(job) => {
                        records += job.items.len();
                        jobs.push(job);
                    }
                    Msg::Register(r) => {
                        registration = Some(r);
                        break;
                    }
                    Msg::Drain => {
                        self.draining = true;
                        break;
                    }
                    Msg::Close => {
                        closing = true;
                        break;
                    }
                }
            }
            self.log_batch(jobs);
            if let Some(r) = registration {
                self.register(r);
            }
            if closing {
                break;
            }
        }
        // Whatever was queued before the channel closed is still logged and answered.
        let mut rest = Vec::new();
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Job(job) => rest.push(job),
                Msg::Register(r) => {
                    if !rest.is_empty() {
                        self.log_batch(std::mem::take(&mut rest));
                    }
                    self.register(r);
                }
                Msg::Drain | Msg::Close => {}
            }
        }
        if !rest.is_empty() {
            self.log_batch(rest);
        }
        tracing::info!(size = self.park.size(), "sequencer stopped");
    }

    fn log_batch(&mut self, jobs: Vec<Job>) {
        let started = Instant::now();
        let start = self.park.size();
        let mut counts = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut items = Vec::new();
        for job in jobs {
            counts.push(job.items.len());
            items.extend(job.items);
            replies.push(job.reply);
        }
        let total = items.len();
        let ingested = self
            .park
            .ingest(items, self.clock.now_s())
            .map_err(|e| ServerError::batch_failed(&e));
        let ingest_ms = started.elapsed().as_millis() as u64;
        let result = ingested.and_then(|outcomes| self.answers(start, outcomes));
        // The metrics first, so that a caller who has its answer reads them up to date.
        self.metrics.batch_records.observe(total as f64);
        self.metrics
            .batch_seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .tree_size
            .set(i64::try_from(self.park.size()).unwrap_or(i64::MAX));
        match result {
            Ok(answers) => {
                let mut answers = answers.into_iter();
                for (n, reply) in counts.into_iter().zip(replies) {
                    let mine: Vec<Answer> = answers.by_ref().take(n).collect();
                    let _ = reply.send(Ok(mine));
                }
                tracing::debug!(
                    records = total,
                    size = self.park.size(),
                    ingest_ms,
                    ms = started.elapsed().as_millis() as u64,
                    "batch logged"
                );
            }
            Err(e) => {
                tracing::error!(records = total, error = %e, "batch failed; nothing acknowledged");
                // Every caller gets the same kind of error (a full disk stays retryable), with
                // the cause once, not wrapped in the prefix again.
                let again: Box<dyn Fn() -> ServerError> = match e {
                    ServerError::StorageFull(m) => {
                        Box::new(move || ServerError::StorageFull(m.clone()))
                    }
                    ServerError::Ingest(m) => Box::new(move || ServerError::Ingest(m.clone())),
                    ServerError::NotWriter(m) => {
                        self.writer_lost.send_replace(true);
                        Box::new(move || ServerError::NotWriter(m.clone()))
                    }
                    other => {
                        let m = other.to_string();
                        Box::new(move || ServerError::Ingest(m.clone()))
                    }
                };
                for reply in replies {
                    let _ = reply.send(Err(again()));
                }
            }
        }
    }

    /// Logs registrations, or a revocation, as one batch and answers once durable.
    fn register(&mut self, job: DeviceJob) {
        let job = match job {
            DeviceJob::Register(j) => j,
            DeviceJob::Revoke(j) => return self.revoke(j),
            DeviceJob::Cosign(j) => return self.cosign(j),
        };
        let start = self.park.size();
        let result = self
            .park
            .register(&job.regs)
            .map_err(ServerError::from)
            .and_then(|summary| {
                let size = self.park.size();
                let checkpoint: Arc<str> = self.park.checkpoint()?.into();
                let nodes = BatchNodes::new(self.park.store(), start, size)?;
                let logged = summary
                    .logged
                    .iter()
                    .map(|&index| prove(&nodes, index, size, &checkpoint, Vec::new()))
                    .collect::<Result<Vec<_>, _>>()?;
                drop(nodes);
                let head = Head { size, checkpoint };
                if *self.head.borrow() != head {
                    self.head.send_replace(head);
                }
                Ok(Registered {
                    logged,
                    already: summary.already,
                })
            });
        self.metrics
            .tree_size
            .set(i64::try_from(self.park.size()).unwrap_or(i64::MAX));
        match &result {
            Ok(r) => tracing::info!(
                logged = r.logged.len(),
                already = r.already,
                size = self.park.size(),
                "registrations logged"
            ),
            Err(e) => tracing::info!(error = %e, "registrations refused"),
        }
        let _ = job.reply.send(result);
    }

    /// Keeps cosignatures (and the seal that binds them) and answers with every line kept
    /// for the checkpoint once durable.
    fn cosign(&mut self, job: CosignJob) {
        let result = self
            .park
            .add_cosignatures(job.size, &job.lines, &job.witnesses)
            .and_then(|_| self.park.cosignatures(job.size))
            .map_err(ServerError::from);
        let _ = job.reply.send(result);
    }

    /// Logs a revocation as its own batch and answers once durable.
    fn revoke(&mut self, job: RevokeJob) {
        let start = self.park.size();
        let result = match self.park.revoke(&job.rev) {
            Err(e) => Err(ServerError::from(e)),
            Ok(Revoked::Already(index)) => Ok(Revocation::Already(index)),
            Ok(Revoked::Logged(index)) => (|| {
                let size = self.park.size();
                let checkpoint: Arc<str> = self.park.checkpoint()?.into();
                let nodes = BatchNodes::new(self.park.store(), start, size)?;
                let logged = prove(&nodes, index, size, &checkpoint, Vec::new())?;
                drop(nodes);
                let head = Head { size, checkpoint };
                if *self.head.borrow() != head {
                    self.head.send_replace(head);
                }
                Ok(Revocation::Logged(logged))
            })(),
        };
        self.metrics
            .tree_size
            .set(i64::try_from(self.park.size()).unwrap_or(i64::MAX));
        match &result {
            Ok(r) => tracing::info!(device = %job.rev.device, answer = ?r, "revocation"),
            Err(e) => tracing::info!(device = %job.rev.device, error = %e, "revocation refused"),
        }
        let _ = job.reply.send(result);
    }

    /// Turns outcomes into answers with proofs against the new head, and publishes the head.
    fn answers(&mut self, start: u64, outcomes: Vec<Outcome>) -> Result<Vec<Answer>, ServerError> {
        let size = self.park.size();
        let current = self.head.borrow().clone();
        let head = if current.size == size {
            current
        } else {
            Head {
                size,
                checkpoint: self.park.checkpoint()?.into(),
            }
        };
        let nodes = BatchNodes::new(self.park.store(), start, size)?;
        let logged = |index: u64, issues: Vec<IssueNote>| {
            prove(&nodes, index, size, &head.checkpoint, issues)
        };
        let mut out = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            let answer = match o {
                Outcome::Accepted { index, issues } => {
                    self.metrics.uploads.accepted.inc();
                    let issues = issues
                        .into_iter()
                        .map(|i| IssueNote {
                            code: issue_code(&i.kind),
                            message: i.message,
                        })
                        .collect();
                    Answer::Accepted(logged(index, issues)?)
                }
                Outcome::Duplicate { index } => {
                    self.metrics.uploads.duplicate.inc();
                    Answer::Duplicate(logged(index, Vec::new())?)
                }
                Outcome::Rejected(r) => {
                    self.metrics.uploads.rejected.inc();
                    Answer::Rejected {
                        code: r.code.code(),
                        reason: r.message,
                    }
                }
            };
            out.push(answer);
        }
        drop(nodes);
        if *self.head.borrow() != head {
            self.head.send_replace(head);
        }
        Ok(out)
    }
}

/// Where leaf `index` sits in the tree of `size`, with its inclusion proof and checkpoint.
fn prove(
    nodes: &BatchNodes<'_>,
    index: u64,
    size: u64,
    checkpoint: &str,
    issues: Vec<IssueNote>,
) -> Result<Logged, ServerError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let proof = inclusion_proof(nodes, index, size)
        .map_err(|e| ServerError::Ingest(format!("proof for leaf {index}: {e}")))?;
    Ok(Logged {
        index,
        tree_size: size,
        proof: proof.iter().map(|h| b64.encode(h)).collect(),
        checkpoint: checkpoint.to_string(),
        issues,
    })
}

fn issue_code(kind: &tanji_readings::DataIssueKind) -> &'static str {
    match kind {
        tanji_readings::DataIssueKind::SequenceGap { .. } => "sequence_gap",
    }
}

/// The tree's nodes for proving a batch's leaves: complete nodes that reach into `[start, size)`
/// are hashed from their children, the batch's leaf hashes and the subtrees to its left are
/// read from the store in one go, others one by one when asked; every node is remembered.
pub(crate) struct BatchNodes<'a> {
    store: &'a AnyStore,
    start: u64,
    size: u64,
    memo: RefCell<HashMap<(u8, u64), Hash>>,
}

impl<'a> BatchNodes<'a> {
    /// Reads, in one go, the nodes proving the batch's leaves will need from the store: the
    /// batch's leaf hashes and the complete subtrees left of it (one per bit of `start`).
    /// A node not read here (a duplicate's, left of the batch) is read when asked for.
    pub(crate) fn new(store: &'a AnyStore, start: u64, size: u64) -> Result<Self, StoreError> {
        let mut wanted: Vec<(u8, u64)> = (start..size).map(|i| (0, i)).collect();
        let mut covered = 0u64;
        for level in (0..64u8).rev() {
            if start & (1u64 << level) != 0 {
                wanted.push((level, covered >> level));
                covered += 1u64 << level;
            }
        }
        let hashes = tanji_store::Store::nodes(store, &wanted)?;
        Ok(BatchNodes {
            store,
            start,
            size,
            memo: RefCell::new(wanted.into_iter().zip(hashes).collect()),
        })
    }
}

impl NodeSource for BatchNodes<'_> {
    type Error = StoreError;

    fn node(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        if let Some(h) = self.memo.borrow().get(&(level, index)) {
            return Ok(*h);
        }
        let end = index
            .checked_add(1)
            .and_then(|i| i.checked_shl(u32::from(level)))
            .unwrap_or(u64::MAX);
        // A complete node reaching into the batch is hashed from its children: those left of
        // the batch are the subtrees read in advance.
        let h = if level > 0 && end > self.start && end <= self.size {
            let left = self.node(level - 1, 2 * index)?;
            let right = self.node(level - 1, 2 * index + 1)?;
            node_hash(&left, &right)
        } else {
            NodeSource::node(self.store, level, index)?
        };
        self.memo.borrow_mut().insert((level, index), h);
        Ok(h)
    }
}
