//! The PostgreSQL backend: many parks in one database, each park's log in the same tables
//! keyed by park, the reporting index partitioned by park and by month.
//!
//! One [`PostgresStore`] is one park on one connection (the `postgres` crate: the synchronous
//! client of `tokio-postgres`, pure Rust, maintained with it; the [`Store`] trait is
//! synchronous, as the SQLite backend is). A batch is one transaction: nothing of it is visible
//! or acknowledged before `COMMIT` returns, and PostgreSQL's `COMMIT` returns only once its WAL
//! record is flushed (`synchronous_commit = on`, which the store sets for its session).
//!
//! The schema is versioned (`tanji_schema`): migrations are applied when a store is opened or
//! created, under an advisory lock so that instances starting together do not race, and a
//! database whose schema is newer than this build knows is refused.
//!
//! The reporting index (`channels`) is a partitioned table: a list partition per park
//! (`channels_p<park number>`), itself a range partition per calendar month (UTC) of the
//! interval start (`channels_p<park number>_<yyyymm>`), created as the first row of that month
//! arrives, so a park-year report reads only that park's twelve partitions.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement, Transaction};
use tanji_ledger::{Hash, NodeSource};

use crate::channels::PACKING;
use crate::convert::{to_hash, to_i64, to_u64};
use crate::{
    pack, AppendBatch, ChannelRef, ChannelRow, EntryVisitor, NodeVisitor, PackedVisitor,
    QuarantineCounts, QuarantineListing, QuarantineRow, QuarantineSummary, Quarantined, Span,
    Store, StoreError, StoredIssue, StoredUpload, UploadRow,
};

/// The migrations, in order: migration `n` (1-based) brings the schema to version `n`.
const MIGRATIONS: &[&str] = &[
    // 1: the log, its indexes, the quarantine and the partitioned reporting index.
    "
CREATE TABLE parks (id BIGSERIAL PRIMARY KEY, park TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE meta (park TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (park, key));
CREATE TABLE entries (park TEXT NOT NULL, idx BIGINT NOT NULL, kind SMALLINT NOT NULL,
    data BYTEA NOT NULL, PRIMARY KEY (park, idx));
CREATE INDEX entries_kind ON entries (park, kind, idx);
CREATE TABLE nodes (park TEXT NOT NULL, level SMALLINT NOT NULL, idx BIGINT NOT NULL,
    hash BYTEA NOT NULL, PRIMARY KEY (park, level, idx));
CREATE TABLE checkpoints (park TEXT NOT NULL, size BIGINT NOT NULL, note TEXT NOT NULL,
    PRIMARY KEY (park, size));
CREATE TABLE uploads (park TEXT NOT NULL, device TEXT NOT NULL, seq BIGINT NOT NULL,
    idx BIGINT NOT NULL, record_hash BYTEA NOT NULL, prev BYTEA NOT NULL,
    PRIMARY KEY (park, device, seq));
CREATE TABLE spans (park TEXT NOT NULL, meter TEXT NOT NULL, start BIGINT NOT NULL,
    \"end\" BIGINT NOT NULL, idx BIGINT NOT NULL, PRIMARY KEY (park, meter, start));
CREATE TABLE blobs (park TEXT NOT NULL, hash BYTEA NOT NULL, data BYTEA NOT NULL,
    PRIMARY KEY (park, hash));
CREATE TABLE issues (park TEXT NOT NULL, id BIGSERIAL, idx BIGINT NOT NULL, code TEXT NOT NULL,
    message TEXT NOT NULL, PRIMARY KEY (park, id));
CREATE TABLE quarantine (park TEXT NOT NULL, id BIGSERIAL, received_at BIGINT NOT NULL,
    source TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL, device TEXT, seq BIGINT,
    raw BYTEA NOT NULL, raw_len BIGINT NOT NULL, PRIMARY KEY (park, id));
CREATE INDEX quarantine_source ON quarantine (park, source, id);
CREATE INDEX quarantine_device ON quarantine (park, device, id);
CREATE TABLE quarantine_summary (park TEXT NOT NULL, source TEXT NOT NULL, code TEXT NOT NULL,
    count BIGINT NOT NULL, bytes BIGINT NOT NULL, first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL, PRIMARY KEY (park, source, code));
CREATE TABLE cosignatures (park TEXT NOT NULL, size BIGINT NOT NULL, witness TEXT NOT NULL,
    line TEXT NOT NULL, PRIMARY KEY (park, size, witness));
CREATE TABLE channels (park TEXT NOT NULL, meter TEXT NOT NULL, start BIGINT NOT NULL,
    idx BIGINT NOT NULL, \"end\" BIGINT NOT NULL, device TEXT NOT NULL, seq BIGINT NOT NULL,
    interval_s BIGINT NOT NULL, unit TEXT NOT NULL, decimals SMALLINT NOT NULL,
    vals BYTEA NOT NULL, PRIMARY KEY (park, meter, start, idx)) PARTITION BY LIST (park);
",
    // 2: the writer lease of each park, with its fencing token.
    "
CREATE TABLE leases (park TEXT PRIMARY KEY, holder TEXT NOT NULL, token BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL);
",
    // 3: log entries (about 2 KB for a device's day, compressed when over 2 KB) compressed
    // with LZ4 where the server was built with it: PostgreSQL's own pglz took a seventh of
    // the machine at 2,200 uploads/s (docs/benchmarks.md). A server without LZ4 keeps pglz.
    "
DO $$
BEGIN
    ALTER TABLE entries ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no LZ4: log entries stay compressed with pglz';
END
$$;
",
];

/// Meta key saying the reporting index covers every entry (as in the SQLite backend).
const CHANNELS_COMPLETE: &str = "channels";

/// Rows fetched per round trip by the scans (which call back into the caller between pages).
const PAGE: i64 = 2_000;

/// Where a PostgreSQL store lives: the connection URL (`postgres://user@host:port/db`, any
/// form the `postgres` crate accepts) and the schema holding tanji's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgLocation {
    /// The connection URL.
    pub url: String,
    /// The schema (created if missing); `tanji` unless given.
    pub schema: String,
}

impl PgLocation {
    /// The location as errors name it: the URL without its password, and the schema.
    pub fn place(&self) -> String {
        format!("{} (schema {})", redact(&self.url), self.schema)
    }

    /// `url` with the default schema `tanji`, or the one named by a `schema=<name>` query
    /// parameter (removed from the URL handed to the client).
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = "tanji".to_string();
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("schema", v)) => schema = v.to_string(),
                _ => kept.push(pair),
            }
        }
        if schema.is_empty()
            || !schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(StoreError::Schema {
                path: redact(url),
                message: format!("schema {schema:?}: use lower-case letters, digits and '_' only"),
            });
        }
        let url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok(Self { url, schema })
    }
}

/// `url` without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// One park's store in a PostgreSQL database.
pub struct PostgresStore {
    client: RefCell<Conn>,
    park: String,
    /// The park's number (names its partitions).
    number: i64,
    /// Where, for messages (no password).
    place: String,
    /// Month partitions known to exist (first second of the month, UTC).
    months: BTreeSet<i64>,
    /// Whether a read snapshot is open on this connection.
    in_snapshot: Cell<bool>,
    /// The lease every write is fenced by, once one is taken.
    fence: Option<Lease>,
    /// How long each write extends the lease it is fenced by, in milliseconds.
    fence_ttl_ms: i64,
    /// The write path's statements, prepared once per connection (a statement given as text
    /// costs a round trip to prepare each time it runs).
    statements: RefCell<HashMap<&'static str, Statement>>,
}

/// A park's writer lease as held: who holds it and its fencing token (which grows by one each
/// time the lease changes hands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The holder's name (an instance id).
    pub holder: String,
    /// The fencing token.
    pub token: i64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("place", &self.place)
            .field("park", &self.park)
            .finish()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Best effort: a lease not released expires after its TTL all the same.
        let Some(lease) = self.fence.take() else {
            return;
        };
        let Some(mut client) = self.client.get_mut().0.take() else {
            return;
        };
        let park = self.park.clone();
        off_runtime(move || {
            let _ = client.execute(RELEASE, &[&park, &lease.holder, &lease.token]);
        });
    }
}

/// Expires the lease `(park, holder, token)` now, if it is the current one.
const RELEASE: &str = "UPDATE leases SET expires_at = clock_timestamp()
    WHERE park = $1 AND holder = $2 AND token = $3 AND expires_at > clock_timestamp()";

/// The connection of a store. The synchronous client drives its own small async runtime, which
/// may not be entered from a thread that runs another (a server's request handler dropping a
/// pooled store): the connection is closed on a thread of its own.
struct Conn(Option<Client>);

// The client is taken out only by `drop`: no method of a live store can see it missing.
#[allow(clippy::expect_used)]
impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0
            .as_ref()
            .expect("a store's connection is taken only when it is dropped")
    }
}

#[allow(clippy::expect_used)]
impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .expect("a store's connection is taken only when it is dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            off_runtime(move || drop(client));
        }
    }
}

/// Runs `f` on a new thread and waits for it: outside any async runtime the caller's thread
/// may be driving.
fn off_runtime(f: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        let _ = s.spawn(f).join();
    });
}

/// A stored interval length as the index row holds it.
fn interval(v: i64, meter: &str, start: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| {
        StoreError::Corrupt(format!(
            "reporting index row of meter {meter} at {start}: interval {v} s"
        ))
    })
}

/// `s` as an SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The first second (UTC) of the calendar month holding `t`, and of the next month.
fn month_of(t: i64) -> Result<(i64, i64), StoreError> {
    use tanji_units::time::{civil_from_days, days_from_civil, DAY_S};
    let date = civil_from_days(t.div_euclid(DAY_S));
    let (year, month) = if date.month == 12 {
        (date.year + 1, 1)
    } else {
        (date.year, date.month + 1)
    };
    let first = days_from_civil(date.year, date.month, 1).checked_mul(DAY_S);
    let next = days_from_civil(year, month, 1).checked_mul(DAY_S);
    first
        .zip(next)
        .ok_or_else(|| StoreError::Refused(format!("interval start {t}: outside the calendar")))
}

/// The `yyyymm` of a month's first second.
fn month_name(start: i64) -> String {
    let date = tanji_units::time::civil_from_days(start.div_euclid(tanji_units::time::DAY_S));
    format!("{:04}{:02}", date.year, date.month)
}

impl PostgresStore {
    /// Creates park `park` in the database at `at` (applying migrations first); fails if the
    /// park exists there.
    pub fn create(at: &PgLocation, park: &str) -> Result<Self, StoreError> {
        let mut client = Self::connect(at)?;
        let place = at.place();
        let err = |context: &str| {
            let place = place.clone();
            let context = context.to_string();
            move |source| StoreError::Postgres {
                place: place.clone(),
                context: context.clone(),
                source,
            }
        };
        let mut tx = client
            .transaction()
            .map_err(err("starting to create the park"))?;
        let exists = tx
            .query_opt("SELECT id FROM parks WHERE park = $1", &[&park])
            .map_err(err("looking for the park"))?;
        if exists.is_some() {
            return Err(StoreError::Schema {
                path: place,
                message: format!(
                    "a park named {park:?} already exists here; open it instead of creating it"
                ),
            });
        }
        let number: i64 = tx
            .query_one("INSERT INTO parks(park) VALUES ($1) RETURNING id", &[&park])
            .map_err(err("registering the park"))?
            .get(0);
        tx.batch_execute(&format!(
            "CREATE TABLE channels_p{number} PARTITION OF channels FOR VALUES IN ({})
             PARTITION BY RANGE (start)",
            literal(park)
        ))
        .map_err(err("creating the park's reporting index partition"))?;
        tx.execute(
            "INSERT INTO meta(park, key, value) VALUES ($1, 'schema', $2), ($1, $3, $4)",
            &[
                &park,
                &MIGRATIONS.len().to_string(),
                &CHANNELS_COMPLETE,
                &PACKING,
            ],
        )
        .map_err(err("writing the park's metadata"))?;
        tx.commit().map_err(err("committing the new park"))?;
        Ok(Self::with(client, park, number, place))
    }

    /// Opens park `park` in the database at `at` (applying migrations first).
    pub fn open(at: &PgLocation, park: &str) -> Result<Self, StoreError> {
        let mut client = Self::connect(at)?;
        let place = at.place();
        let row = client
            .query_opt("SELECT id FROM parks WHERE park = $1", &[&park])
            .map_err(|source| StoreError::Postgres {
                place: place.clone(),
                context: "looking for the park".into(),
                source,
            })?;
        let Some(row) = row else {
            return Err(StoreError::Schema {
                path: place,
                message: format!(
                    "no park named {park:?} here; create it first (`tanji init --store <url>`)"
                ),
            });
        };
        Ok(Self::with(client, park, row.get(0), place))
    }

    /// The parks in the database at `at`, by name.
    pub fn parks(at: &PgLocation) -> Result<Vec<String>, StoreError> {
        let mut client = Self::connect(at)?;
        let rows = client
            .query("SELECT park FROM parks ORDER BY park", &[])
            .map_err(|source| StoreError::Postgres {
                place: redact(&at.url),
                context: "listing parks".into(),
                source,
            })?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Every unexpired writer lease in the database at `at` (by the database's clock), by
    /// park: one query for all parks, so that an instance standing by for many parks learns
    /// which are free and who holds the others without opening each.
    pub fn live_leases(at: &PgLocation) -> Result<Vec<(String, Lease)>, StoreError> {
        let mut client = Self::connect(at)?;
        let rows = client
            .query(
                "SELECT park, holder, token FROM leases WHERE expires_at > clock_timestamp() ORDER BY park",
                &[],
            )
            .map_err(|source| StoreError::Postgres {
                place: redact(&at.url),
                context: "listing the writer leases".into(),
                source,
            })?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    Lease {
                        holder: r.get(1),
                        token: r.get(2),
                    },
                )
            })
            .collect())
    }

    fn with(client: Client, park: &str, number: i64, place: String) -> Self {
        Self {
            client: RefCell::new(Conn(Some(client))),
            park: park.to_string(),
            number,
            place,
            months: BTreeSet::new(),
            in_snapshot: Cell::new(false),
            fence: None,
            fence_ttl_ms: 0,
            statements: RefCell::new(HashMap::new()),
        }
    }

    /// Connects, selects the schema and brings it to this build's version.
    fn connect(at: &PgLocation) -> Result<Client, StoreError> {
        let place = redact(&at.url);
        let pg = |context: &str| {
            let (place, context) = (place.clone(), context.to_string());
            move |source| StoreError::Postgres {
                place: place.clone(),
                context: context.clone(),
                source,
            }
        };
        let mut client = Client::connect(&at.url, NoTls).map_err(pg("connecting"))?;
        client
            .batch_execute(&format!(
                "SET synchronous_commit = on; CREATE SCHEMA IF NOT EXISTS {0}; SET search_path TO {0}",
                at.schema
            ))
            .map_err(pg("selecting the schema"))?;
        let mut tx = client
            .transaction()
            .map_err(pg("starting the migrations"))?;
        // One migrating instance at a time; the others wait, then find the schema current.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('tanji migrations ' || $1))",
            &[&at.schema],
        )
        .map_err(pg("waiting for the migration lock"))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS tanji_schema (version INT PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .map_err(pg("creating the schema version table"))?;
        let current: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM tanji_schema", &[])
            .map_err(pg("reading the schema version"))?
            .get(0);
        let known = MIGRATIONS.len() as i32;
        if current > known {
            return Err(StoreError::Schema {
                path: at.place(),
                message: format!(
                    "schema version {current}, this build knows up to {known}: run a newer tanji"
                ),
            });
        }
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = n as i32 + 1;
            tx.batch_execute(sql)
                .map_err(pg(&format!("applying migration {version}")))?;
            tx.execute("INSERT INTO tanji_schema(version) VALUES ($1)", &[&version])
                .map_err(pg(&format!("recording migration {version}")))?;
        }
        tx.commit().map_err(pg("committing the migrations"))?;
        Ok(client)
    }

    /// Takes the park's writer lease for `holder` for `ttl` if nobody holds it or the
    /// holder's lease has expired (by the database's clock), or renews it if `holder` holds it
    /// already. From then on every write of this store is fenced: its transaction commits only
    /// while this lease is the park's current one, unexpired. `None` when another holder's
    /// lease is still valid.
    pub fn take_lease(
        &mut self,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let row = self.query_opt(
            "taking the writer lease",
            "INSERT INTO leases(park, holder, token, expires_at)
             VALUES ($1, $2, 1, clock_timestamp() + $3::bigint * interval '1 millisecond')
             ON CONFLICT (park) DO UPDATE SET holder = excluded.holder,
                 token = leases.token + CASE WHEN leases.holder = excluded.holder THEN 0 ELSE 1 END,
                 expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at < clock_timestamp()
             RETURNING token",
            &[&self.park, &holder, &ms],
        )?;
        let lease = row.map(|r| Lease {
            holder: holder.to_string(),
            token: r.get(0),
        });
        if lease.is_some() {
            self.fence.clone_from(&lease);
            self.fence_ttl_ms = ms;
        }
        Ok(lease)
    }

    /// Takes the park's writer lease for `holder` from `dead`, a holder known to be gone (a
    /// process of this host that no longer runs), without waiting for its lease to expire:
    /// only while `dead` still holds it with that token. Fences this store as
    /// [`PostgresStore::take_lease`] does; `None` if the lease is no longer `dead`'s.
    pub fn take_lease_from(
        &mut self,
        dead: &Lease,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let row = self.query_opt(
            "taking over the writer lease",
            "UPDATE leases SET holder = $4, token = token + 1,
                 expires_at = clock_timestamp() + $5::bigint * interval '1 millisecond'
             WHERE park = $1 AND holder = $2 AND token = $3
             RETURNING token",
            &[&self.park, &dead.holder, &dead.token, &holder, &ms],
        )?;
        let lease = row.map(|r| Lease {
            holder: holder.to_string(),
            token: r.get(0),
        });
        if lease.is_some() {
            self.fence.clone_from(&lease);
            self.fence_ttl_ms = ms;
        }
        Ok(lease)
    }

    /// Extends the lease this store holds by `ttl`; `false` (and the store is no longer
    /// fenced by it) when it was lost meanwhile: expired and taken, or taken over.
    pub fn renew_lease(&mut self, ttl: std::time::Duration) -> Result<bool, StoreError> {
        let Some(lease) = self.fence.clone() else {
            return Ok(false);
        };
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let n = self
            .client
            .borrow_mut()
            .execute(
                "UPDATE leases SET expires_at = clock_timestamp() + $4::bigint * interval '1 millisecond'
                 WHERE park = $1 AND holder = $2 AND token = $3 AND expires_at > clock_timestamp()",
                &[&self.park, &lease.holder, &lease.token, &ms],
            )
            .map_err(self.err("renewing the writer lease"))?;
        if n == 0 {
            self.fence = None;
        }
        Ok(n == 1)
    }

    /// Gives up the lease this store holds (it expires now, so another instance takes it at
    /// its next poll instead of after the TTL); nothing if it holds none or lost it. Dropping
    /// the store does this too.
    pub fn release_lease(&mut self) -> Result<(), StoreError> {
        let Some(lease) = self.fence.take() else {
            return Ok(());
        };
        self.client
            .borrow_mut()
            .execute(RELEASE, &[&self.park, &lease.holder, &lease.token])
            .map_err(self.err("releasing the writer lease"))?;
        Ok(())
    }

    /// The park's current lease holder and token, if a lease was ever taken and is unexpired.
    pub fn lease_holder(&self) -> Result<Option<Lease>, StoreError> {
        Ok(self
            .query_opt(
                "reading the writer lease",
                "SELECT holder, token FROM leases WHERE park = $1 AND expires_at > clock_timestamp()",
                &[&self.park],
            )?
            .map(|r| Lease {
                holder: r.get(0),
                token: r.get(1),
            }))
    }

    /// `sql` prepared on this store's connection: once, then from the cache.
    fn stmt(&self, tx: &mut Transaction<'_>, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let prepared = tx.prepare(sql).map_err(self.err("preparing a statement"))?;
        self.statements.borrow_mut().insert(sql, prepared.clone());
        Ok(prepared)
    }

    /// In a write transaction: refuses to go on unless this store's lease is still the park's
    /// (its holder and token unchanged: nobody else took it, even if it ran out meanwhile),
    /// and extends it by its TTL. The row is locked until the transaction ends, so the lease
    /// cannot change hands between this check and the commit.
    fn fenced(&self, tx: &mut Transaction<'_>) -> Result<(), StoreError> {
        let Some(lease) = &self.fence else {
            return Ok(());
        };
        let stmt = self.stmt(
            tx,
            "UPDATE leases SET expires_at = GREATEST(expires_at,
                     clock_timestamp() + $4::bigint * interval '1 millisecond')
                 WHERE park = $1 AND holder = $2 AND token = $3 RETURNING 1",
        )?;
        let held = tx
            .query_opt(
                &stmt,
                &[&self.park, &lease.holder, &lease.token, &self.fence_ttl_ms],
            )
            .map_err(self.err("checking the writer lease"))?;
        match held {
            Some(_) => Ok(()),
            None => Err(StoreError::LeaseLost(format!(
                "park {}: the writer lease (token {}) of {} was taken over; nothing was written",
                self.park, lease.token, lease.holder
            ))),
        }
    }

    /// The lease this store's writes are fenced by, once one is taken (and not known lost).
    pub fn lease(&self) -> Option<&Lease> {
        self.fence.as_ref()
    }

    /// The park this store holds.
    pub fn park(&self) -> &str {
        &self.park
    }

    fn err(&self, context: &str) -> impl Fn(postgres::Error) -> StoreError + '_ {
        let context = context.to_string();
        move |source| StoreError::Postgres {
            place: format!("{}, park {}", self.place, self.park),
            context: context.clone(),
            source,
        }
    }

    fn query(
        &self,
        context: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        self.client
            .borrow_mut()
            .query(sql, params)
            .map_err(self.err(context))
    }

    fn query_opt(
        &self,
        context: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        self.client
            .borrow_mut()
            .query_opt(sql, params)
            .map_err(self.err(context))
    }

    /// Creates the month partitions `rows` need that are not known to exist.
    fn ensure_months(
        &self,
        tx: &mut Transaction<'_>,
        rows: &[ChannelRow],
        made: &mut BTreeSet<i64>,
    ) -> Result<(), StoreError> {
        let mut months = BTreeSet::new();
        for r in rows {
            months.insert(month_of(r.start)?);
        }
        for (first, next) in months {
            if self.months.contains(&first) || made.contains(&first) {
                continue;
            }
            tx.batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS channels_p{n}_{m} PARTITION OF channels_p{n}
                 FOR VALUES FROM ({first}) TO ({next})",
                n = self.number,
                m = month_name(first),
            ))
            .map_err(self.err("creating a month partition of the reporting index"))?;
            made.insert(first);
        }
        Ok(())
    }

    /// Writes a batch's entries, the uploads among them and their spans: one statement each
    /// (arrays unnested on the server), however many entries the batch has.
    fn insert_entries(
        &self,
        tx: &mut Transaction<'_>,
        size: u64,
        batch: &AppendBatch,
    ) -> Result<(), StoreError> {
        let n = batch.entries.len();
        let (mut idx, mut kind, mut data) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut u = UploadColumns::default();
        let (mut s_meter, mut s_start, mut s_end, mut s_idx) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, e) in batch.entries.iter().enumerate() {
            let at = to_i64(size + i as u64, "entry index")?;
            idx.push(at);
            kind.push(i16::from(e.kind));
            data.push(e.data.as_slice());
            let Some(up) = &e.upload else { continue };
            u.seq.push(i64::try_from(up.seq).map_err(|_| {
                StoreError::Refused(format!(
                    "sequence number {} of device {} (entry {at}): above 2^63 − 1",
                    up.seq, up.device
                ))
            })?);
            u.device.push(up.device.as_str());
            u.idx.push(at);
            u.record_hash.push(&up.record_hash[..]);
            u.prev.push(&up.prev[..]);
            for sp in &up.spans {
                s_meter.push(sp.meter.as_str());
                s_start.push(sp.start);
                s_end.push(sp.end);
                s_idx.push(at);
            }
        }
        if n > 0 {
            let stmt = self.stmt(
                tx,
                "INSERT INTO entries(park, idx, kind, data)
                 SELECT $1, * FROM unnest($2::bigint[], $3::smallint[], $4::bytea[])",
            )?;
            tx.execute(&stmt, &[&self.park, &idx, &kind, &data])
                .map_err(self.err("writing the entries"))?;
        }
        if !u.idx.is_empty() {
            let stmt = self.stmt(
                tx,
                "INSERT INTO uploads(park, device, seq, idx, record_hash, prev)
                 SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bytea[],
                     $6::bytea[])",
            )?;
            tx.execute(
                &stmt,
                &[
                    &self.park,
                    &u.device,
                    &u.seq,
                    &u.idx,
                    &u.record_hash,
                    &u.prev,
                ],
            )
            .map_err(self.err("indexing the uploads"))?;
        }
        if !s_idx.is_empty() {
            let stmt = self.stmt(
                tx,
                "INSERT INTO spans(park, meter, start, \"end\", idx)
                 SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[])",
            )?;
            tx.execute(&stmt, &[&self.park, &s_meter, &s_start, &s_end, &s_idx])
                .map_err(self.err("indexing the uploads' spans"))?;
        }
        Ok(())
    }

    /// Writes a batch's new tree nodes with one statement.
    fn insert_nodes(
        &self,
        tx: &mut Transaction<'_>,
        nodes: &[(u8, u64, Hash)],
    ) -> Result<(), StoreError> {
        if nodes.is_empty() {
            return Ok(());
        }
        let level: Vec<i16> = nodes.iter().map(|(l, _, _)| i16::from(*l)).collect();
        let idx = nodes
            .iter()
            .map(|(_, i, _)| to_i64(*i, "node index"))
            .collect::<Result<Vec<_>, _>>()?;
        let hash: Vec<&[u8]> = nodes.iter().map(|(_, _, h)| &h[..]).collect();
        let stmt = self.stmt(
            tx,
            "INSERT INTO nodes(park, level, idx, hash)
             SELECT $1, * FROM unnest($2::smallint[], $3::bigint[], $4::bytea[])",
        )?;
        tx.execute(&stmt, &[&self.park, &level, &idx, &hash])
            .map_err(self.err("writing the nodes"))?;
        Ok(())
    }

    /// Writes a batch's data issues with one statement, in order.
    fn insert_issues(
        &self,
        tx: &mut Transaction<'_>,
        issues: &[StoredIssue],
    ) -> Result<(), StoreError> {
        if issues.is_empty() {
            return Ok(());
        }
        let idx = issues
            .iter()
            .map(|i| to_i64(i.index, "entry index"))
            .collect::<Result<Vec<_>, _>>()?;
        let code: Vec<&str> = issues.iter().map(|i| i.code.as_str()).collect();
        let message: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
        let stmt = self.stmt(
            tx,
            "INSERT INTO issues(park, idx, code, message)
             SELECT $1, i, c, m FROM unnest($2::bigint[], $3::text[], $4::text[])
                 WITH ORDINALITY AS u(i, c, m, n)
             ORDER BY n",
        )?;
        tx.execute(&stmt, &[&self.park, &idx, &code, &message])
            .map_err(self.err("writing the data issues"))?;
        Ok(())
    }

    /// Writes the reporting index rows with one statement (arrays unnested on the server):
    /// one round trip for a batch's rows, however many.
    fn insert_channels(
        &self,
        tx: &mut Transaction<'_>,
        rows: &[ChannelRow],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut c = ChannelColumns::default();
        for r in rows {
            let idx = to_i64(r.index, "entry index")?;
            c.seq.push(i64::try_from(r.seq).map_err(|_| {
                StoreError::Refused(format!(
                    "sequence number {} of device {} (entry {idx}): above 2^63 − 1",
                    r.seq, r.device
                ))
            })?);
            c.meter.push(r.meter.as_str());
            c.start.push(r.start);
            c.idx.push(idx);
            c.end.push(r.end());
            c.device.push(r.device.as_str());
            c.interval_s.push(i64::from(r.interval_s));
            c.unit.push(r.unit.as_str());
            c.decimals.push(i16::from(r.decimals));
            c.vals.push(pack(&r.values));
        }
        let stmt = self.stmt(
            tx,
            "INSERT INTO channels(park, meter, start, idx, \"end\", device, seq, interval_s,
             unit, decimals, vals)
             SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
                 $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::smallint[],
                 $11::bytea[])",
        )?;
        tx.execute(
            &stmt,
            &[
                &self.park,
                &c.meter,
                &c.start,
                &c.idx,
                &c.end,
                &c.device,
                &c.seq,
                &c.interval_s,
                &c.unit,
                &c.decimals,
                &c.vals,
            ],
        )
        .map_err(self.err("indexing channels"))?;
        Ok(())
    }

    /// Writes quarantined records with one statement.
    fn insert_quarantine(
        &self,
        tx: &mut Transaction<'_>,
        items: &[Quarantined],
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut received_at = Vec::with_capacity(items.len());
        let (mut source, mut code, mut message, mut device) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut seq, mut raw, mut raw_len) = (Vec::new(), Vec::new(), Vec::new());
        for q in items {
            received_at.push(q.received_at);
            source.push(q.source.as_str());
            code.push(q.code.as_str());
            message.push(q.message.as_str());
            device.push(q.device.as_deref());
            // Sequence numbers beyond i64 cannot come from a decoded record; keep them as NULL.
            seq.push(q.seq.and_then(|s| i64::try_from(s).ok()));
            raw.push(q.raw.as_slice());
            raw_len.push(i64::try_from(q.raw_len).unwrap_or(i64::MAX));
        }
        let stmt = self.stmt(
            tx,
            "INSERT INTO quarantine(park, received_at, source, code, message, device, seq, raw,
             raw_len)
             SELECT $1, r, s, c, m, d, q, w, l
             FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                 $7::bigint[], $8::bytea[], $9::bigint[]) WITH ORDINALITY
                 AS u(r, s, c, m, d, q, w, l, n)
             ORDER BY n",
        )?;
        tx.execute(
            &stmt,
            &[
                &self.park,
                &received_at,
                &source,
                &code,
                &message,
                &device,
                &seq,
                &raw,
                &raw_len,
            ],
        )
        .map_err(self.err("writing the quarantine"))?;
        Ok(())
    }

    fn set_meta_in(
        &self,
        tx: &mut Transaction<'_>,
        key: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO meta(park, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (park, key) DO UPDATE SET value = excluded.value",
            &[&self.park, &key, &value],
        )
        .map(|_| ())
        .map_err(self.err("writing metadata"))
    }

    fn listing(&self, row: &Row) -> Result<QuarantineListing, StoreError> {
        let seq: Option<i64> = row.get(6);
        Ok(QuarantineListing {
            id: to_u64(row.get(0), "quarantine row id")?,
            received_at: row.get(1),
            source: row.get(2),
            code: row.get(3),
            message: row.get(4),
            device: row.get(5),
            seq: seq.map(|s| to_u64(s, "sequence number")).transpose()?,
            raw_len: to_u64(row.get(7), "raw length")?,
        })
    }

    fn quarantined_row(row: &Row) -> Result<Quarantined, StoreError> {
        let seq: Option<i64> = row.get(5);
        Ok(Quarantined {
            received_at: row.get(0),
            source: row.get(1),
            code: row.get(2),
            message: row.get(3),
            device: row.get(4),
            seq: seq.map(|s| to_u64(s, "sequence number")).transpose()?,
            raw: row.get(6),
            raw_len: to_u64(row.get(7), "raw length")?,
        })
    }

    fn spans_by_entry(&self) -> Result<HashMap<i64, Vec<Span>>, StoreError> {
        let mut out: HashMap<i64, Vec<Span>> = HashMap::new();
        for row in self.query(
            "reading upload spans",
            "SELECT meter, start, \"end\", idx FROM spans WHERE park = $1 ORDER BY idx, meter, start",
            &[&self.park],
        )? {
            out.entry(row.get(3)).or_default().push(Span {
                meter: row.get(0),
                start: row.get(1),
                end: row.get(2),
            });
        }
        Ok(out)
    }
}

impl NodeSource for PostgresStore {
    type Error = StoreError;

    fn node(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        let row = self.query_opt(
            "reading a node",
            "SELECT hash FROM nodes WHERE park = $1 AND level = $2 AND idx = $3",
            &[&self.park, &i16::from(level), &to_i64(index, "node index")?],
        )?;
        let row = row.ok_or_else(|| StoreError::NotFound(format!("node ({level}, {index})")))?;
        to_hash(row.get(0), &|| format!("node ({level}, {index})"))
    }
}

/// Ends the read snapshot's transaction when dropped.
struct PgSnapshot<'a> {
    store: &'a PostgresStore,
}

impl Drop for PgSnapshot<'_> {
    fn drop(&mut self) {
        // It wrote nothing: ending it cannot lose data, so a failure is only logged away.
        let _ = self.store.client.borrow_mut().batch_execute("COMMIT");
        self.store.in_snapshot.set(false);
    }
}

impl Store for PostgresStore {
    fn read_snapshot(&self) -> Result<crate::ReadSnapshot<'_>, StoreError> {
        if self.in_snapshot.get() {
            return Ok(crate::ReadSnapshot::holding(()));
        }
        self.client
            .borrow_mut()
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(self.err("starting a read snapshot"))?;
        self.in_snapshot.set(true);
        Ok(crate::ReadSnapshot::holding(PgSnapshot { store: self }))
    }

    fn channels_packed(
        &self,
        meter: &str,
        size: u64,
        from: i64,
        to: i64,
        f: &mut PackedVisitor<'_>,
    ) -> Result<(), StoreError> {
        let size = to_i64(size, "tree size")?;
        // Pages keyed by (start, idx): the visitor may read the store between pages.
        let mut after: (i64, i64) = (i64::MIN, -1);
        loop {
            let rows = self.query(
                "reading the reporting index",
                "SELECT start, idx, device, seq, interval_s, unit, decimals, vals FROM channels
                 WHERE park = $1 AND meter = $2 AND start < $3 AND \"end\" > $4 AND idx < $5
                   AND (start, idx) > ($6, $7)
                 ORDER BY start, idx LIMIT $8",
                &[
                    &self.park, &meter, &to, &from, &size, &after.0, &after.1, &PAGE,
                ],
            )?;
            for row in &rows {
                let start: i64 = row.get(0);
                let idx: i64 = row.get(1);
                let decimals: i16 = row.get(6);
                f(ChannelRef {
                    index: to_u64(idx, "entry index")?,
                    device: row.get(2),
                    seq: to_u64(row.get(3), "sequence number")?,
                    start,
                    interval_s: interval(row.get(4), meter, start)?,
                    unit: row.get(5),
                    decimals: u8::try_from(decimals).map_err(|_| {
                        StoreError::Corrupt(format!(
                            "reporting index row of meter {meter} at {start}: decimals {decimals}"
                        ))
                    })?,
                    packed: row.get(7),
                })?;
                after = (start, idx);
            }
            if (rows.len() as i64) < PAGE {
                return Ok(());
            }
        }
    }

    fn channels_extent(&self, meter: &str, size: u64) -> Result<Option<(i64, i64)>, StoreError> {
        let size = to_i64(size, "tree size")?;
        let edge = |sql: &str| -> Result<Option<(i64, i64)>, StoreError> {
            Ok(self
                .query_opt(
                    "reading the reporting index",
                    sql,
                    &[&self.park, &meter, &size],
                )?
                .map(|r| (r.get(0), r.get(1))))
        };
        let first = edge(
            "SELECT start, \"end\" FROM channels WHERE park = $1 AND meter = $2 AND idx < $3
             ORDER BY start, idx LIMIT 1",
        )?;
        let last = edge(
            "SELECT start, \"end\" FROM channels WHERE park = $1 AND meter = $2 AND idx < $3
             ORDER BY start DESC, idx DESC LIMIT 1",
        )?;
        Ok(first.zip(last).map(|((s, _), (_, e))| (s, e)))
    }

    fn channels_complete(&self) -> Result<bool, StoreError> {
        Ok(self.meta(CHANNELS_COMPLETE)?.as_deref() == Some(PACKING))
    }

    fn rebuild_channels(&mut self, rows: &[ChannelRow]) -> Result<(), StoreError> {
        let mut made = BTreeSet::new();
        let mut client = self.client.borrow_mut();
        let mut tx = client
            .transaction()
            .map_err(self.err("starting a transaction"))?;
        self.fenced(&mut tx)?;
        tx.execute("DELETE FROM channels WHERE park = $1", &[&self.park])
            .map_err(self.err("clearing the reporting index"))?;
        self.ensure_months(&mut tx, rows, &mut made)?;
        self.insert_channels(&mut tx, rows)?;
        self.set_meta_in(&mut tx, CHANNELS_COMPLETE, PACKING)?;
        tx.commit()
            .map_err(self.err("committing the reporting index"))?;
        drop(client);
        self.months.extend(made);
        Ok(())
    }

    fn device_seqs(&self, device: &str, size: u64) -> Result<Vec<u64>, StoreError> {
        self.query(
            "reading the upload index",
            "SELECT seq FROM uploads WHERE park = $1 AND device = $2 AND idx < $3 ORDER BY seq",
            &[&self.park, &device, &to_i64(size, "tree size")?],
        )?
        .iter()
        .map(|r| to_u64(r.get(0), "sequence number"))
        .collect()
    }

    fn nodes(&self, wanted: &[(u8, u64)]) -> Result<Vec<Hash>, StoreError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let level: Vec<i16> = wanted.iter().map(|&(l, _)| i16::from(l)).collect();
        let idx = wanted
            .iter()
            .map(|&(_, i)| to_i64(i, "node index"))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = self.query(
            "reading nodes",
            "SELECT w.n, nodes.hash FROM unnest($2::smallint[], $3::bigint[]) WITH ORDINALITY
                 AS w(level, idx, n)
             JOIN nodes ON nodes.park = $1 AND nodes.level = w.level AND nodes.idx = w.idx",
            &[&self.park, &level, &idx],
        )?;
        let mut out: Vec<Option<Hash>> = vec![None; wanted.len()];
        for row in &rows {
            let n: i64 = row.get(0);
            let at = usize::try_from(n - 1).ok().filter(|&a| a < out.len());
            let Some(at) = at else {
                return Err(StoreError::Corrupt(format!("node lookup answered row {n}")));
            };
            let (l, i) = wanted[at];
            out[at] = Some(to_hash(row.get(1), &|| format!("node ({l}, {i})"))?);
        }
        out.into_iter()
            .zip(wanted)
            .map(|(h, (l, i))| h.ok_or_else(|| StoreError::NotFound(format!("node ({l}, {i})"))))
            .collect()
    }

    fn leaf_hashes(&self, size: u64) -> Result<Vec<Hash>, StoreError> {
        let rows = self.query(
            "reading leaf hashes",
            "SELECT idx, hash FROM nodes WHERE park = $1 AND level = 0 AND idx < $2 ORDER BY idx",
            &[&self.park, &to_i64(size, "tree size")?],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let idx = to_u64(row.get(0), "node index")?;
            if idx != out.len() as u64 {
                return Err(StoreError::NotFound(format!("node (0, {})", out.len())));
            }
            out.push(to_hash(row.get(1), &|| format!("node (0, {idx})"))?);
        }
        if (out.len() as u64) < size {
            return Err(StoreError::NotFound(format!("node (0, {})", out.len())));
        }
        Ok(out)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .query_opt(
                "reading metadata",
                "SELECT value FROM meta WHERE park = $1 AND key = $2",
                &[&self.park, &key],
            )?
            .map(|r| r.get(0)))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        let mut client = self.client.borrow_mut();
        let mut tx = client
            .transaction()
            .map_err(self.err("starting a transaction"))?;
        self.fenced(&mut tx)?;
        self.set_meta_in(&mut tx, key, value)?;
        tx.commit().map_err(self.err("writing metadata"))
    }

    fn size(&self) -> Result<u64, StoreError> {
        let row = self.query_opt(
            "counting entries",
            "SELECT MAX(idx) FROM entries WHERE park = $1",
            &[&self.park],
        )?;
        match row.and_then(|r| r.get::<_, Option<i64>>(0)) {
            None => Ok(0),
            Some(max) => Ok(to_u64(max, "entry index")? + 1),
        }
    }

    fn entry(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        self.query_opt(
            "reading an entry",
            "SELECT data FROM entries WHERE park = $1 AND idx = $2",
            &[&self.park, &to_i64(index, "entry index")?],
        )?
        .map(|r| r.get(0))
        .ok_or_else(|| StoreError::NotFound(format!("entry {index}")))
    }

    fn scan_entries(
        &self,
        start: u64,
        end: u64,
        f: &mut EntryVisitor<'_>,
    ) -> Result<(), StoreError> {
        let mut expected = start;
        let end_i = to_i64(end, "index")?;
        loop {
            let rows = self.query(
                "scanning entries",
                "SELECT idx, data FROM entries WHERE park = $1 AND idx >= $2 AND idx < $3
                 ORDER BY idx LIMIT $4",
                &[&self.park, &to_i64(expected, "index")?, &end_i, &PAGE],
            )?;
            for row in &rows {
                let idx = to_u64(row.get(0), "entry index")?;
                if idx != expected {
                    return Err(StoreError::Corrupt(format!(
                        "entry {expected} is missing (next stored entry is {idx})"
                    )));
                }
                f(idx, row.get(1))?;
                expected += 1;
            }
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
        if expected != end {
            return Err(StoreError::Corrupt(format!(
                "entry {expected} is missing (the log should hold {end} entries)"
            )));
        }
        Ok(())
    }

    fn scan_nodes(&self, f: &mut NodeVisitor<'_>) -> Result<(), StoreError> {
        let mut after: (i16, i64) = (-1, -1);
        loop {
            let rows = self.query(
                "scanning nodes",
                "SELECT level, idx, hash FROM nodes WHERE park = $1 AND (level, idx) > ($2, $3)
                 ORDER BY level, idx LIMIT $4",
                &[&self.park, &after.0, &after.1, &PAGE],
            )?;
            for row in &rows {
                let level: i16 = row.get(0);
                let idx: i64 = row.get(1);
                let lvl = u8::try_from(level).map_err(|_| {
                    StoreError::Corrupt(format!("node level {level} is out of range"))
                })?;
                f(lvl, to_u64(idx, "node index")?, row.get(2))?;
                after = (level, idx);
            }
            if (rows.len() as i64) < PAGE {
                return Ok(());
            }
        }
    }

    fn entries_of_kind(&self, kind: u8) -> Result<Vec<u64>, StoreError> {
        self.query(
            "listing entries",
            "SELECT idx FROM entries WHERE park = $1 AND kind = $2 ORDER BY idx",
            &[&self.park, &i16::from(kind)],
        )?
        .iter()
        .map(|r| to_u64(r.get(0), "entry index"))
        .collect()
    }

    fn uploads(&self) -> Result<Vec<StoredUpload>, StoreError> {
        let mut spans = self.spans_by_entry()?;
        let rows = self.query(
            "reading the upload index",
            "SELECT device, seq, idx, record_hash, prev FROM uploads WHERE park = $1 ORDER BY idx",
            &[&self.park],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let device: String = row.get(0);
            let seq: i64 = row.get(1);
            let idx: i64 = row.get(2);
            let name = || format!("upload index row {device}#{seq}");
            out.push(StoredUpload {
                row: UploadRow {
                    seq: to_u64(seq, "sequence number")?,
                    record_hash: to_hash(row.get(3), &name)?,
                    prev: to_hash(row.get(4), &name)?,
                    spans: spans.remove(&idx).unwrap_or_default(),
                    device: device.clone(),
                },
                index: to_u64(idx, "entry index")?,
            });
        }
        Ok(out)
    }

    fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .query_opt(
                "reading the latest checkpoint",
                "SELECT note FROM checkpoints WHERE park = $1 ORDER BY size DESC LIMIT 1",
                &[&self.park],
            )?
            .map(|r| r.get(0)))
    }

    fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError> {
        self.query(
            "reading checkpoints",
            "SELECT size, note FROM checkpoints WHERE park = $1 ORDER BY size",
            &[&self.park],
        )?
        .iter()
        .map(|r| Ok((to_u64(r.get(0), "checkpoint size")?, r.get(1))))
        .collect()
    }

    fn append(&mut self, batch: &AppendBatch) -> Result<(), StoreError> {
        let mut made = BTreeSet::new();
        let mut client = self.client.borrow_mut();
        let mut tx = client
            .transaction()
            .map_err(self.err("starting a transaction"))?;
        // Under the lease, the frontier read here is the one the commit extends.
        self.fenced(&mut tx)?;
        let stmt = self.stmt(&mut tx, "SELECT MAX(idx) FROM entries WHERE park = $1")?;
        let max: Option<i64> = tx
            .query_one(&stmt, &[&self.park])
            .map_err(self.err("counting entries"))?
            .get(0);
        let size = match max {
            None => 0,
            Some(m) => to_u64(m, "entry index")? + 1,
        };
        if batch.start != size {
            return Err(StoreError::NotContiguous {
                batch_start: batch.start,
                size,
            });
        }
        self.insert_entries(&mut tx, size, batch)?;
        self.ensure_months(&mut tx, &batch.channels, &mut made)?;
        self.insert_channels(&mut tx, &batch.channels)?;
        self.insert_nodes(&mut tx, &batch.nodes)?;
        self.insert_issues(&mut tx, &batch.issues)?;
        if !batch.blobs.is_empty() {
            let hashes: Vec<&[u8]> = batch.blobs.iter().map(|(h, _)| &h[..]).collect();
            let data: Vec<&[u8]> = batch.blobs.iter().map(|(_, d)| d.as_slice()).collect();
            let stmt = self.stmt(
                &mut tx,
                "INSERT INTO blobs(park, hash, data)
                 SELECT $1, * FROM unnest($2::bytea[], $3::bytea[])
                 ON CONFLICT (park, hash) DO NOTHING",
            )?;
            tx.execute(&stmt, &[&self.park, &hashes, &data])
                .map_err(self.err("writing a blob"))?;
        }
        self.insert_quarantine(&mut tx, &batch.quarantine)?;
        if !batch.seal.is_empty() {
            self.set_meta_in(&mut tx, "seal", &batch.seal)?;
        }
        let new_size = to_i64(size + batch.entries.len() as u64, "size")?;
        let stmt = self.stmt(
            &mut tx,
            "INSERT INTO checkpoints(park, size, note) VALUES ($1, $2, $3)
             ON CONFLICT (park, size) DO UPDATE SET note = excluded.note",
        )?;
        tx.execute(&stmt, &[&self.park, &new_size, &batch.checkpoint])
            .map_err(self.err("writing the checkpoint"))?;
        tx.commit().map_err(self.err("committing"))?;
        drop(client);
        self.months.extend(made);
        Ok(())
    }

    fn quarantine(&mut self, items: &[Quarantined]) -> Result<(), StoreError> {
        let mut client = self.client.borrow_mut();
        let mut tx = client
            .transaction()
            .map_err(self.err("writing the quarantine"))?;
        self.fenced(&mut tx)?;
        self.insert_quarantine(&mut tx, items)?;
        tx.commit().map_err(self.err("writing the quarantine"))
    }

    fn scan_quarantine(&self, f: &mut crate::QuarantineVisitor<'_>) -> Result<(), StoreError> {
        let mut after = 0i64;
        loop {
            let rows = self.query(
                "reading the quarantine",
                "SELECT received_at, source, code, message, device, seq, raw, raw_len, id
                 FROM quarantine WHERE park = $1 AND id > $2 ORDER BY id LIMIT $3",
                &[&self.park, &after, &PAGE],
            )?;
            for row in &rows {
                let id: i64 = row.get(8);
                f(QuarantineRow {
                    id: to_u64(id, "quarantine row id")?,
                    item: Self::quarantined_row(row)?,
                })?;
                after = id;
            }
            if (rows.len() as i64) < PAGE {
                return Ok(());
            }
        }
    }

    fn quarantine_page(
        &self,
        before: Option<u64>,
        limit: usize,
        devices: Option<&[String]>,
    ) -> Result<Vec<QuarantineListing>, StoreError> {
        let before = before.map_or(Ok(i64::MAX), |b| to_i64(b, "cursor"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let devices: Option<Vec<String>> = devices.map(<[String]>::to_vec);
        self.query(
            "listing the quarantine",
            "SELECT id, received_at, source, code, message, device, seq, raw_len FROM quarantine
             WHERE park = $1 AND id < $2 AND ($4::text[] IS NULL OR device = ANY($4))
             ORDER BY id DESC LIMIT $3",
            &[&self.park, &before, &limit, &devices],
        )?
        .iter()
        .map(|r| self.listing(r))
        .collect()
    }

    fn quarantine_oldest(
        &self,
        source: Option<&str>,
        older_than: Option<i64>,
        limit: usize,
    ) -> Result<Vec<QuarantineListing>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let older = older_than.unwrap_or(i64::MAX);
        self.query(
            "listing the quarantine",
            "SELECT id, received_at, source, code, message, device, seq, raw_len FROM quarantine
             WHERE park = $1 AND ($2::text IS NULL OR source = $2) AND received_at < $3
             ORDER BY id LIMIT $4",
            &[&self.park, &source, &older, &limit],
        )?
        .iter()
        .map(|r| self.listing(r))
        .collect()
    }

    fn quarantine_counts(
        &self,
        of: crate::QuarantineFilter<'_>,
    ) -> Result<QuarantineCounts, StoreError> {
        use crate::QuarantineFilter;
        let (devices, source): (Option<Vec<String>>, Option<&str>) = match of {
            QuarantineFilter::All => (None, None),
            QuarantineFilter::Devices(d) => (Some(d.to_vec()), None),
            QuarantineFilter::Source(s) => (None, Some(s)),
        };
        let mut out = QuarantineCounts::default();
        for row in self.query(
            "counting the quarantine",
            "SELECT code, COUNT(*) FROM quarantine
             WHERE park = $1 AND ($2::text[] IS NULL OR device = ANY($2))
               AND ($3::text IS NULL OR source = $3) GROUP BY code",
            &[&self.park, &devices, &source],
        )? {
            let n = to_u64(row.get(1), "row count")?;
            out.kept += n;
            out.by_code.insert(row.get(0), n);
        }
        Ok(out)
    }

    fn quarantine_summaries(&self) -> Result<Vec<QuarantineSummary>, StoreError> {
        self.query(
            "reading the quarantine's summaries",
            "SELECT source, code, count, bytes, first_at, last_at FROM quarantine_summary
             WHERE park = $1 ORDER BY source, code",
            &[&self.park],
        )?
        .iter()
        .map(|row| {
            Ok(QuarantineSummary {
                source: row.get(0),
                code: row.get(1),
                count: to_u64(row.get(2), "summary count")?,
                bytes: to_u64(row.get(3), "summary bytes")?,
                first_at: row.get(4),
                last_at: row.get(5),
            })
        })
        .collect()
    }

    fn summarise_quarantine(
        &mut self,
        ids: &[u64],
        summaries: &[QuarantineSummary],
        seal: &str,
    ) -> Result<(), StoreError> {
        let ids: Vec<i64> = ids
            .iter()
            .map(|&id| to_i64(id, "quarantine row id"))
            .collect::<Result<_, _>>()?;
        let mut client = self.client.borrow_mut();
        let mut tx = client
            .transaction()
            .map_err(self.err("starting a transaction"))?;
        self.fenced(&mut tx)?;
        tx.execute(
            "DELETE FROM quarantine WHERE park = $1 AND id = ANY($2)",
            &[&self.park, &ids],
        )
        .map_err(self.err("summarising the quarantine"))?;
        for s in summaries {
            tx.execute(
                "INSERT INTO quarantine_summary(park, source, code, count, bytes, first_at, last_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (park, source, code) DO UPDATE SET
                 count = excluded.count, bytes = excluded.bytes,
                 first_at = excluded.first_at, last_at = excluded.last_at",
                &[
                    &self.park,
                    &s.source,
                    &s.code,
                    &to_i64(s.count, "summary count")?,
                    &to_i64(s.bytes, "summary bytes")?,
                    &s.first_at,
                    &s.last_at,
                ],
            )
            .map_err(self.err("writing the quarantine's summaries"))?;
        }
        self.set_meta_in(&mut tx, "seal", seal)?;
        tx.commit()
            .map_err(self.err("committing the quarantine's summaries"))
    }

    fn issues(&self) -> Result<Vec<StoredIssue>, StoreError> {
        self.query(
            "reading data issues",
            "SELECT idx, code, message FROM issues WHERE park = $1 ORDER BY idx, id",
            &[&self.park],
        )?
        .iter()
        .map(|r| {
            Ok(StoredIssue {
                index: to_u64(r.get(0), "entry index")?,
                code: r.get(1),
                message: r.get(2),
            })
        })
        .collect()
    }

    fn scan_channels(&self, f: &mut crate::ChannelVisitor<'_>) -> Result<(), StoreError> {
        let mut after: (i64, String, i64) = (-1, String::new(), i64::MIN);
        loop {
            let rows = self.query(
                "reading the reporting index",
                "SELECT meter, start, idx, device, seq, interval_s, unit, decimals, vals, \"end\"
                 FROM channels WHERE park = $1 AND (idx, meter, start) > ($2, $3, $4)
                 ORDER BY idx, meter, start LIMIT $5",
                &[&self.park, &after.0, &after.1, &after.2, &PAGE],
            )?;
            for row in &rows {
                let meter: String = row.get(0);
                let start: i64 = row.get(1);
                let index = to_u64(row.get(2), "entry index")?;
                let name =
                    || format!("reporting index row of meter {meter} at {start}, entry {index}");
                let decimals: i16 = row.get(7);
                let r = ChannelRow {
                    index,
                    device: row.get(3),
                    seq: to_u64(row.get(4), "sequence number")?,
                    start,
                    interval_s: interval(row.get(5), &meter, start)?,
                    unit: row.get(6),
                    decimals: u8::try_from(decimals)
                        .map_err(|_| StoreError::Corrupt(format!("{}: decimals", name())))?,
                    values: crate::unpack(row.get(8), &name)?,
                    meter: meter.clone(),
                };
                let end: i64 = row.get(9);
                if end != r.end() {
                    return Err(StoreError::Corrupt(format!(
                        "{}: ends at {end}, its values end at {}",
                        name(),
                        r.end()
                    )));
                }
                after = (row.get(2), meter.clone(), start);
                f(r)?;
            }
            if (rows.len() as i64) < PAGE {
                return Ok(());
            }
        }
    }

    fn spans(&self) -> Result<Vec<(u64, Span)>, StoreError> {
        self.query(
            "reading upload spans",
            "SELECT meter, start, \"end\", idx FROM spans WHERE park = $1 ORDER BY idx, meter, start",
            &[&self.park],
        )?
        .iter()
        .map(|row| {
            Ok((
                to_u64(row.get(3), "entry index")?,
                Span {
                    meter: row.get(0),
                    start: row.get(1),
                    end: row.get(2),
                },
            ))
        })
        .collect()
    }

    fn quick_check(&self) -> Result<Vec<String>, StoreError> {
        // PostgreSQL checks its own pages (checksums, when the cluster has them) and types
        // columns strictly: no value of another type can sit where bytes belong. What is left
        // to check here is that the park's rows are where tanji puts them.
        let mut out = Vec::new();
        let orphans = self.query(
            "checking the reporting index",
            "SELECT COUNT(*) FROM channels c WHERE c.park = $1
             AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.park = c.park AND e.idx = c.idx)",
            &[&self.park],
        )?;
        let n: i64 = orphans[0].get(0);
        if n > 0 {
            out.push(format!(
                "{}: channels table: {n} row(s) point at entries that are not in the log",
                self.place
            ));
        }
        Ok(out)
    }

    fn blob(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .query_opt(
                "reading a blob",
                "SELECT data FROM blobs WHERE park = $1 AND hash = $2",
                &[&self.park, &&hash[..]],
            )?
            .map(|r| r.get(0)))
    }

    fn add_cosignatures(
        &mut self,
        size: u64,
        rows: &[(String, String)],
        seal: &str,
    ) -> Result<(), StoreError> {
        let size = to_i64(size, "tree size")?;
        let mut client = self.client.borrow_mut();
        let mut tx = client
            .transaction()
            .map_err(self.err("starting to store cosignatures"))?;
        self.fenced(&mut tx)?;
        for (witness, line) in rows {
            tx.execute(
                "INSERT INTO cosignatures(park, size, witness, line) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (park, size, witness) DO UPDATE SET line = excluded.line",
                &[&self.park, &size, witness, line],
            )
            .map_err(self.err("storing cosignatures"))?;
        }
        if !seal.is_empty() {
            self.set_meta_in(&mut tx, "seal", seal)?;
        }
        tx.commit().map_err(self.err("committing cosignatures"))
    }

    fn cosignatures(&self, size: u64) -> Result<Vec<String>, StoreError> {
        Ok(self
            .query(
                "reading cosignatures",
                "SELECT line FROM cosignatures WHERE park = $1 AND size = $2 ORDER BY witness",
                &[&self.park, &to_i64(size, "tree size")?],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn latest_cosigned(&self, witness: Option<&str>) -> Result<Option<u64>, StoreError> {
        let row = self.query_opt(
            "reading cosignatures",
            "SELECT MAX(size) FROM cosignatures WHERE park = $1 AND ($2::text IS NULL OR witness = $2)",
            &[&self.park, &witness],
        )?;
        row.and_then(|r| r.get::<_, Option<i64>>(0))
            .map(|s| to_u64(s, "tree size"))
            .transpose()
    }
}

/// One connection renewing many parks' writer leases together: what an instance holding the
/// leases of many parks uses instead of a connection per park.
pub struct LeaseRenewer {
    client: Conn,
    place: String,
}

impl std::fmt::Debug for LeaseRenewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseRenewer")
            .field("place", &self.place)
            .finish()
    }
}

impl LeaseRenewer {
    /// Connects to the database at `at`.
    pub fn connect(at: &PgLocation) -> Result<Self, StoreError> {
        Ok(LeaseRenewer {
            client: Conn(Some(PostgresStore::connect(at)?)),
            place: at.place(),
        })
    }

    /// Extends each lease of `held` (park, lease) by `ttl` in one statement, if it is still
    /// that park's current, unexpired lease: whether it was, in the order given.
    pub fn renew(
        &mut self,
        held: &[(String, Lease)],
        ttl: std::time::Duration,
    ) -> Result<Vec<bool>, StoreError> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let parks: Vec<&str> = held.iter().map(|(p, _)| p.as_str()).collect();
        let holders: Vec<&str> = held.iter().map(|(_, l)| l.holder.as_str()).collect();
        let tokens: Vec<i64> = held.iter().map(|(_, l)| l.token).collect();
        let rows = self
            .client
            .query(
                "UPDATE leases SET expires_at = clock_timestamp() + $4::bigint * interval '1 millisecond'
                 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS h(park, holder, token)
                 WHERE leases.park = h.park AND leases.holder = h.holder
                     AND leases.token = h.token AND leases.expires_at > clock_timestamp()
                 RETURNING leases.park, leases.holder, leases.token",
                &[&parks, &holders, &tokens, &ms],
            )
            .map_err(|source| StoreError::Postgres {
                place: self.place.clone(),
                context: "renewing the writer leases".into(),
                source,
            })?;
        let renewed: BTreeSet<(String, String, i64)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        Ok(held
            .iter()
            .map(|(p, l)| renewed.contains(&(p.clone(), l.holder.clone(), l.token)))
            .collect())
    }
}

/// A batch's reporting index rows, column by column (for one `unnest` insert).
#[derive(Default)]
struct ChannelColumns<'a> {
    meter: Vec<&'a str>,
    start: Vec<i64>,
    idx: Vec<i64>,
    end: Vec<i64>,
    device: Vec<&'a str>,
    seq: Vec<i64>,
    interval_s: Vec<i64>,
    unit: Vec<&'a str>,
    decimals: Vec<i16>,
    vals: Vec<Vec<u8>>,
}

/// A batch's upload rows, column by column.
#[derive(Default)]
struct UploadColumns<'a> {
    device: Vec<&'a str>,
    seq: Vec<i64>,
    idx: Vec<i64>,
    record_hash: Vec<&'a [u8]>,
    prev: Vec<&'a [u8]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_take_a_schema_and_hide_passwords() {
        let at = PgLocation::parse("postgres://u:secret@h:5432/db?schema=parks_a&sslmode=disable")
            .unwrap();
        assert_eq!(at.schema, "parks_a");
        assert_eq!(at.url, "postgres://u:secret@h:5432/db?sslmode=disable");
        assert_eq!(
            at.place(),
            "postgres://u:***@h:5432/db?sslmode=disable (schema parks_a)"
        );
        assert_eq!(
            PgLocation::parse("postgres://h/db").unwrap().schema,
            "tanji"
        );
        assert!(PgLocation::parse("postgres://h/db?schema=A;drop").is_err());
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn months_are_calendar_months_in_utc() {
        // 2025-02-14T00:00:00Z lies in February 2025 (28 days).
        let (first, next) = month_of(1_739_491_200).unwrap();
        assert_eq!(first, 1_738_368_000); // 2025-02-01
        assert_eq!(next, 1_740_787_200); // 2025-03-01
        assert_eq!(month_name(first), "202502");
        assert_eq!(literal("a'b"), "'a''b'");
    }
}
