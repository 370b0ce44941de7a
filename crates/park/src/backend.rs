//! Which backend a park directory's store is on, and the writer lease of a park on
//! PostgreSQL.
//!
//! A park directory always holds its log key (`log.key`); its data is either the SQLite file
//! `park.db` beside it (the default) or a park in a PostgreSQL database, named by the file
//! `store` (owner-readable only, as the URL may carry a password):
//!
//! ```text
//! url = postgres://postgres@127.0.0.1:5432/test?schema=tanji
//! park = north
//! ```
//!
//! Several directories (one per server instance, on one machine or many) may name the same
//! PostgreSQL park: each copy holds the same `log.key` and `store`. One of them writes at a
//! time, holding the park's writer lease ([`tanji_store::PostgresStore::take_lease`]); every
//! write transaction is fenced by it.

use std::path::Path;
use std::time::Duration;

use tanji_store::{AnyStore, PgLocation, StoreAt};

use crate::{ParkError, DB_FILE};

/// The file naming a park's PostgreSQL store inside its directory.
pub const STORE_FILE: &str = "store";

/// The writer lease a command other than `serve` takes on a PostgreSQL park (released when
/// the park is dropped; a server's own lease is renewed by the server).
/// Each write of the command extends it by as much.
pub const COMMAND_LEASE_TTL: Duration = Duration::from_secs(10);

/// The URL this process's server is reached at by other instances, once set
/// ([`advertise_url`]); it is part of its lease holder name.
static ADVERTISED: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Says at which URL (`http://host:port`) other instances reach this process's server: from
/// now on its lease holder name carries it ([`lease_holder`]), so that an instance that does
/// not hold a park's lease can forward the park's uploads to the one that does
/// ([`holder_url`]). Set once, before any lease is taken; `false` if a URL was set already
/// (the first one stays).
pub fn advertise_url(url: &str) -> bool {
    ADVERTISED
        .set(url.trim_end_matches('/').to_string())
        .is_ok()
}

/// This process as a lease holder: host and process id, unique while it runs, and the URL
/// it is reached at if one was advertised: `host pid 42` or `host pid 42 at http://10.0.0.5:8080`.
pub fn lease_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    match ADVERTISED.get() {
        Some(url) => format!("{host} pid {} at {url}", std::process::id()),
        None => format!("{host} pid {}", std::process::id()),
    }
}

/// The URL a lease holder advertised ([`lease_holder`]'s ` at URL`), if it did.
pub fn holder_url(holder: &str) -> Option<&str> {
    holder
        .rsplit_once(" at ")
        .map(|(_, url)| url)
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
}

/// Where the store of the park in `dir` is, as the directory says: the PostgreSQL park its
/// `store` file names, else its `park.db`. Fails, saying how to create one, if it holds
/// neither.
pub fn store_at(dir: &Path) -> Result<StoreAt, ParkError> {
    let file = dir.join(STORE_FILE);
    match std::fs::read_to_string(&file) {
        Ok(text) => parse_store_file(&text)
            .map_err(|message| ParkError::Directory(format!("{}: {message}", file.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let db = dir.join(DB_FILE);
            if db.exists() {
                Ok(StoreAt::Sqlite(db))
            } else {
                Err(ParkError::Directory(format!(
                    "{} holds no park ({DB_FILE} and {STORE_FILE} are missing); create one with `tanji init --dir {} --park NAME`",
                    dir.display(),
                    dir.display()
                )))
            }
        }
        Err(e) => Err(ParkError::Io {
            path: file.display().to_string(),
            source: e,
        }),
    }
}

/// Parses the `store` file's `url = …` and `park = …` lines.
fn parse_store_file(text: &str) -> Result<StoreAt, String> {
    let (mut url, mut park) = (None, None);
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("url", v)) => url = Some(v.to_string()),
            Some(("park", v)) => park = Some(v.to_string()),
            _ => {
                return Err(format!(
                    "line {}: {line:?}: expected `url = postgres://…` or `park = NAME`",
                    n + 1
                ))
            }
        }
    }
    let url = url.ok_or("no `url = postgres://…` line")?;
    let park = park.ok_or("no `park = NAME` line")?;
    let at = PgLocation::parse(&url).map_err(|e| e.to_string())?;
    Ok(StoreAt::Postgres { at, park })
}

/// The `store` file's text for park `park` at `url`.
pub(crate) fn store_file_text(url: &str, park: &str) -> String {
    format!("url = {url}\npark = {park}\n")
}

/// Checks a `--store` URL: `postgres://…` or `postgresql://…`, with an optional `?schema=`.
pub fn check_store_url(url: &str) -> Result<PgLocation, ParkError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(ParkError::Directory(format!(
            "store {url:?}: expected a PostgreSQL URL, postgres://USER@HOST:PORT/DATABASE[?schema=NAME]; leave --store out for the embedded SQLite store"
        )));
    }
    Ok(PgLocation::parse(url)?)
}

/// Takes the writer lease of a PostgreSQL park for this process for `ttl`, or fails naming
/// who holds it. Nothing to do for a SQLite park (its directory lock is its one writer).
pub(crate) fn take_lease(store: &mut AnyStore, ttl: Duration) -> Result<(), ParkError> {
    let Some(pg) = store.postgres() else {
        return Ok(());
    };
    let holder = lease_holder();
    if pg.take_lease(&holder, ttl)?.is_some() {
        return Ok(());
    }
    let current = pg.lease_holder()?;
    // A holder that was a process of this host and no longer runs (killed) is gone: its lease
    // is taken over at once instead of after its TTL.
    if let Some(dead) = current.as_ref().filter(|l| is_gone(&l.holder)) {
        if pg.take_lease_from(dead, &holder, ttl)?.is_some() {
            tracing::info!(park = pg.park(), dead = %dead.holder, "took over the writer lease of a process that no longer runs");
            return Ok(());
        }
    }
    Err(ParkError::Leased {
        park: pg.park().to_string(),
        holder: current.map_or_else(|| "another instance".into(), |l| l.holder),
    })
}

/// Whether lease holder `holder` ([`lease_holder`]'s form) was a process of this host that no
/// longer runs. A reused process id reads as running: the lease is then waited for.
fn is_gone(holder: &str) -> bool {
    let Some((host, pid)) = holder.split_once(" pid ") else {
        return false;
    };
    let pid = pid.split(' ').next().unwrap_or_default();
    let Some((mine, _)) = lease_holder()
        .split_once(" pid ")
        .map(|(h, p)| (h.to_string(), p.to_string()))
    else {
        return false;
    };
    host == mine
        && pid.parse::<u32>().is_ok()
        && !Path::new("/proc").join(pid).exists()
        && Path::new("/proc/self").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_name_carries_its_url_and_its_process() {
        assert_eq!(
            holder_url("db-1 pid 42 at http://10.0.0.5:8080"),
            Some("http://10.0.0.5:8080")
        );
        assert_eq!(holder_url("db-1 pid 42"), None);
        // Only an http(s) URL is one to forward to.
        assert_eq!(holder_url("db-1 pid 42 at somewhere"), None);
        // A holder of another host is never taken for gone, URL or not.
        assert!(!is_gone("another-host-name pid 1 at http://10.0.0.5:8080"));
    }
}
