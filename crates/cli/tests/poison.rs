//! `tanji ingest` with a poison record among good ones: the record the store cannot hold
//! (`seq` 2^63, validly signed) and a record the store refuses (made so by a trigger, as a
//! missed limit would be) are each rejected by their own code; every other record of the
//! file is logged once, and the park verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::{s, sim_park, tanji, verify, SIM_START};
use tanji_readings::{parse_json_upload, upload_to_json};

const NOW: &str = "2025-03-10T00:00:00Z";

#[test]
fn a_poison_record_fails_only_itself_in_tanji_ingest() {
    let park = sim_park(3, 2, 5);
    // The simulator's device keys depend on the seed and device only.
    let sim = tanji_simulator::Park::generate(tanji_simulator::ParkSpec {
        seed: 5,
        enterprises: 3,
        start_day: 1_736_121_600, // SIM_START, 2025-01-06T00:00:00Z
        days: 2,
    });
    assert_eq!(SIM_START, "2025-01-06");
    let mut lines: Vec<String> = std::fs::read_to_string(&park.uploads)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let n = lines.len();
    assert_eq!(n, 6);
    let d1 = &sim.devices[0];
    let first = lines
        .iter()
        .map(|l| parse_json_upload(l).unwrap())
        .find(|u| u.body.device == d1.device)
        .unwrap();
    let mut body = first.body.clone();
    body.seq = 1 << 63;
    body.prev = first.record_hash();
    for c in &mut body.channels {
        c.start += 5 * 86_400;
    }
    lines.insert(2, upload_to_json(&body.sign(&d1.key)));
    let file = park.tmp.path().join("with-poison.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    // The store refuses device 3's second record.
    let refused = sim.devices[2].device.clone();
    let conn = rusqlite::Connection::open(park.dir.join("park.db")).unwrap();
    conn.execute_batch(&format!(
        "CREATE TRIGGER poison BEFORE INSERT ON uploads WHEN NEW.device = '{refused}' AND NEW.seq = 2
         BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;"
    ))
    .unwrap();
    drop(conn);

    let run = tanji([
        "ingest",
        "--dir",
        s(&park.dir),
        "--now",
        NOW,
        "--acks",
        "-",
        s(&file),
    ])
    .ok();
    // `verdict <file>:<line> <device> <seq> <index or code>`, by line.
    let acks: BTreeMap<usize, Vec<String>> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("accepted ") || l.starts_with("rejected "))
        .map(|l| {
            let f: Vec<String> = l.split(' ').map(str::to_string).collect();
            (f[1].rsplit(':').next().unwrap().parse().unwrap(), f)
        })
        .collect();
    assert_eq!(acks.len(), n + 1, "{}", run.stdout);
    let mut indices = Vec::new();
    for (line, f) in &acks {
        match (f[0].as_str(), f[2].as_str(), f[3].as_str()) {
            ("rejected", d, _) if *line == 3 => {
                assert_eq!((d, f[4].as_str()), (d1.device.as_str(), "out_of_range"))
            }
            ("rejected", d, "2") if d == refused => assert_eq!(f[4], "store_refused"),
            ("accepted", _, _) => indices.push(f[4].parse::<u64>().unwrap()),
            _ => panic!("line {line}: {f:?}\n{}", run.stdout),
        }
    }
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), n - 1, "{}", run.stdout);
    verify(&park.dir).ok();
}
