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
