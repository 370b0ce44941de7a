//! The PostgreSQL server of the tests that run a park on PostgreSQL: `TANJI_TEST_POSTGRES`, or
//! the CI database (127.0.0.1:5432, database `test`). SKIPPED when unreachable outside CI;
//! under CI=true it must be reachable. Each test works in a schema of its own, dropped at the
//! end.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

/// The database URL, or `None` (the test says SKIPPED) when it cannot be reached outside CI.
pub fn url() -> Option<String> {
    tanji_store::conformance::postgres_test_url()
}

/// A schema of its own for one test, dropped when this is dropped.
pub struct Schema {
    url: String,
    pub name: String,
}

impl Schema {
    pub fn new(url: &str, tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Schema {
            url: url.to_string(),
            name: format!("tanji_cli_{tag}_{}_{nanos}", std::process::id()),
        }
    }

    /// The `--store` URL of a park in this schema.
    pub fn store_url(&self) -> String {
        format!("{}?schema={}", self.url, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// A PostgreSQL server that takes `connections` connections: the test server when its
/// `max_connections` allows them, else a private cluster of this machine's PostgreSQL
/// (`initdb` and `pg_ctl` of `/usr/lib/postgresql/*/bin`, as the `postgres` user when run as
/// root) on a free loopback port, stopped when this is dropped. `None` (SKIPPED) outside CI when
/// neither is available; under CI=true one must be.
pub struct Server {
    pub url: String,
    /// The command that stops the private cluster, and its directory.
    private: Option<(Vec<String>, tempfile::TempDir)>,
}

impl Server {
    pub fn with_connections(connections: u32) -> Option<Server> {
        let ci = std::env::var("CI").as_deref() == Ok("true");
        if let Some(url) = url() {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let max: String = c.query_one("SHOW max_connections", &[]).unwrap().get(0);
            if max.parse::<u32>().unwrap_or(0) >= connections {
                return Some(Server { url, private: None });
            }
        }
        match Server::private(connections) {
            Ok(s) => Some(s),
            Err(e) => {
                assert!(
                    !ci,
                    "CI=true: no PostgreSQL server for {connections} connections: {e}"
                );
                eprintln!("SKIPPED: no PostgreSQL server for {connections} connections: {e}");
                None
            }
        }
    }

    fn private(connections: u32) -> Result<Server, String> {
        use std::process::Command;
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("/usr/lib/postgresql: {e}"))?
            .filter_map(Result::ok)
            .map(|d| d.path().join("bin"))
            .find(|b| b.join("initdb").exists())
            .ok_or("no initdb under /usr/lib/postgresql/*/bin")?;
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let data = tmp.path().join("data");
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let run = |args: &[&str]| -> Result<(), String> {
            let mut c = if root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]);
                c
            } else {
                Command::new(args[0])
            };
            let args = if root { args } else { &args[1..] };
            let out = c.args(args).output().map_err(|e| e.to_string())?;
            match out.status.success() {
                true => Ok(()),
                false => Err(format!(
                    "{args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                )),
            }
        };
        if root {
            Command::new("chown")
                .args(["postgres", &tmp.path().display().to_string()])
                .status()
                .map_err(|e| e.to_string())?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let (initdb, pg_ctl) = (bin.join("initdb"), bin.join("pg_ctl"));
        let d = data.display().to_string();
        run(&[
            &initdb.display().to_string(),
            "-D",
            &d,
            "-A",
            "trust",
            "-U",
            "postgres",
        ])?;
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c max_connections={connections} -c unix_socket_directories={}",
            tmp.path().display()
        );
        let log = tmp.path().join("log").display().to_string();
        run(&[
            &pg_ctl.display().to_string(),
            "-D",
            &d,
            "-l",
            &log,
            "-o",
            &options,
            "-w",
            "start",
        ])?;
        let mut stop: Vec<String> = Vec::new();
        if root {
            stop.extend(["runuser", "-u", "postgres", "--"].map(String::from));
        }
        stop.extend([
            pg_ctl.display().to_string(),
            "-D".into(),
            d,
            "-m".into(),
            "immediate".into(),
            "stop".into(),
        ]);
        Ok(Server {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            private: Some((stop, tmp)),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some((stop, _)) = &self.private {
            let _ = std::process::Command::new(&stop[0])
                .args(&stop[1..])
                .output();
        }
    }
}
