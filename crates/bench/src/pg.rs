//! The PostgreSQL side of the benches: a schema of its own for each run on the database a
//! `--store postgres://…` option names, dropped when the run ends.

use anyhow::{ensure, Context, Result};

/// A fresh schema in the database at a URL, dropped on drop.
pub struct PgRun {
    url: String,
    schema: String,
}

impl PgRun {
    /// A new schema named for `tag`, this process and the time, in the database at `url`
    /// (which must not name a schema itself: each run makes its own).
    pub fn new(url: &str, tag: &str) -> Result<PgRun> {
        ensure!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "--store {url}: give a postgres:// URL"
        );
        ensure!(
            !url.contains("schema="),
            "--store {url}: leave out schema=; each benchmark run makes a schema of its own and drops it"
        );
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let schema = format!("tanji_bench_{tag}_{}_{nanos}", std::process::id());
        // Reach the server now, so that a wrong URL fails before anything is measured.
        postgres::Client::connect(url, postgres::NoTls)
            .context("connecting to the PostgreSQL server --store names")?;
        Ok(PgRun {
            url: url.to_string(),
            schema,
        })
    }

    /// The `--store` URL of parks in this run's schema.
    pub fn store_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}schema={}", self.url, self.schema)
    }

    /// The server's version and the settings that decide commit cost and connections.
    pub fn describe(&self) -> Result<String> {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls)
            .context("connecting to PostgreSQL")?;
        let show = |c: &mut postgres::Client, what: &str| -> Result<String> {
            Ok(c.query_one(&format!("SHOW {what}"), &[])?.get(0))
        };
        Ok(format!(
            "PostgreSQL {} on this machine (fsync {}, synchronous_commit {}, max_connections {})",
            show(&mut c, "server_version")?,
            show(&mut c, "fsync")?,
            show(&mut c, "synchronous_commit")?,
            show(&mut c, "max_connections")?
        ))
    }
}

impl Drop for PgRun {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }
}
