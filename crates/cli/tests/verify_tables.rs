//! `tanji verify` and `tanji serve` on damaged stores: a text value where bytes belong is named
//! as a bad record; a deleted reporting index row fails verify naming the table (every table is
//! covered row by row in crates/park/tests/tables.rs); and `serve` refuses to start on a store
//! that fails the quick checks, naming the file and what is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{first_problem, s, sim_park, tanji, verify};
use rusqlite::Connection;

fn ingested() -> common::SimPark {
    let park = sim_park(2, 2, 3);
    tanji(["ingest", "--dir", s(&park.dir), s(&park.uploads)]).ok();
    verify(&park.dir).ok();
    park
}

#[test]
fn verify_names_a_text_value_where_bytes_belong_as_a_bad_record() {
    let park = ingested();
    {
        let conn = Connection::open(park.dir.join("park.db")).unwrap();
        conn.execute(
            "UPDATE entries SET data = CAST(data AS TEXT) WHERE idx = 4",
            [],
        )
        .unwrap();
    }
    let run = verify(&park.dir);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let first = first_problem(&run);
    assert!(
        first.starts_with("entries table, entry 4:") && first.contains("text"),
        "{first}"
    );
}

#[test]
fn verify_names_the_reporting_index_when_a_row_is_deleted() {
    let park = ingested();
    {
        let conn = Connection::open(park.dir.join("park.db")).unwrap();
        let n = conn
            .execute(
                "DELETE FROM channels WHERE (meter, start, idx) = (SELECT meter, start, idx FROM channels LIMIT 1)",
                [],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    let run = verify(&park.dir);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("channels table"), "{}", run.stdout);
    // Nor will a report be served from it.
    let serve = tanji(["serve", "--dir", s(&park.dir), "--listen", "127.0.0.1:0"]);
    assert_ne!(serve.code, Some(0));
    assert!(serve.stderr.contains("channels table"), "{}", serve.stderr);
}

#[test]
fn serve_refuses_a_truncated_store_naming_the_file() {
    let park = ingested();
    let db = park.dir.join("park.db");
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(len > 8192, "the store is {len} bytes");
    let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let serve = tanji(["serve", "--dir", s(&park.dir), "--listen", "127.0.0.1:0"]);
    assert_ne!(serve.code, Some(0), "{}", serve.stderr);
    assert!(
        serve.stderr.contains(s(&db)),
        "the message names the file: {}",
        serve.stderr
    );
    assert!(
        serve.stderr.contains("malformed") || serve.stderr.contains("quick_check"),
        "the message says what is wrong: {}",
        serve.stderr
    );
}
