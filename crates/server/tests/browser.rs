//! The dashboard in a real browser: headless Debian Chromium driven through chromedriver
//! (WebDriver, `fantoccini`) against a server on 127.0.0.1:0 over a park filled with demo data
//! (the simulator's park and the synthetic Fujian-like factor year, as `tanji demo` makes).
//!
//! The park also has enterprise inputs published after its factors (as the README's path
//! does), which must not disturb the factor views.
//!
//! It checks that before a token is entered the public parts show (log size, checkpoint) with
//! where a token comes from, that the charts hold data points, that every number the page
//! shows equals the API's (filled shares too), that the page follows the log live (a day of
//! uploads posted over HTTP shows up without a reload), that the Chinese view is Chinese
//! throughout (the server's Chinese reason, no English sentence on the enterprise, park and
//! advice pages), that the park's report downloads give a workbook and a PDF, that an advice
//! error keeps the selector usable and no id wraps, that an enterprise token sees its own enterprise only, that a factor series covering only part of
//! the data raises the coverage banner, and that a park without uploads says why; it saves
//! screenshots into its temp dir and, when `TANJI_SCREENSHOT_DIR` is set, there too.
//!
//! With `CI=true` it runs and fails if chromium or chromedriver is missing; elsewhere it prints
//! `SKIPPED: …` and returns (`apt-get install chromium chromium-driver` to run it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tanji_park::{Incoming, Park, PublicationRequest};
use tanji_readings::{upload_to_json, SignedUpload};
use tanji_simulator::{Fault, Park as SimPark, ParkSpec};

/// 2026-11-20T00:00:00Z: the demo days start here (a fixed date keeps the test repeatable).
const START: i64 = 1_795_132_800;
/// Days logged before the browser opens; one more day is posted while it watches.
const DAYS: u32 = 6;
const ENTERPRISES: usize = 4;
/// The injected flat line: 16:00–21:00 UTC of the last day logged at first.
const STUCK: (i64, i64) = (
    START + (DAYS as i64 - 1) * 86_400 + 16 * 3600,
    START + (DAYS as i64 - 1) * 86_400 + 21 * 3600,
);
/// Fujian's official 2022 average grid factor (tCO2/MWh), the demo's calibration target.
const FUJIAN_2022_T_PER_MWH: f64 = 0.4092;
/// The longest the test waits for the page to show something (a bound, not a timing check).
const WAIT: Duration = Duration::from_secs(60);

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The demo park: `ENTERPRISES` simulated enterprises, the synthetic factor year of 2026
/// published, `DAYS` days logged. Returns the uploads of the day after (not logged yet).
fn demo_park(dir: &Path) -> (SimPark, Vec<SignedUpload>) {
    let mut park = Park::create(dir, "demo-park", None).unwrap();
    let region = tanji_simulator::grid::REGION;
    let generation = tanji_simulator::grid::fujian_like_generation_csv(2026, 2026);
    let rows = tanji_factors::parse_generation_csv(&generation).unwrap();
    let series = tanji_factors::compute(
        &rows,
        &[],
        &tanji_factors::SourceFactors::default_table(),
        &tanji_factors::Options {
            calibrate: vec![(region.to_string(), FUJIAN_2022_T_PER_MWH)],
        },
    )
    .unwrap();
    park.publish(&PublicationRequest {
        name: format!("{region}-2026"),
        method: tanji_factors::METHOD.to_string(),
        content: series.to_csv().into_bytes(),
        regions: series.regions(),
        period: (
            series.rows.iter().map(|r| r.start).min().unwrap(),
            series.rows.iter().map(|r| r.end).max().unwrap(),
        ),
        intervals: series.rows.len() as u64,
        inputs: vec![(
            "generation".into(),
            Sha256::digest(generation.as_bytes()).into(),
        )],
        calibrations: series.calibrations.iter().map(|c| c.to_string()).collect(),
        published_at: START,
    })
    .unwrap();
    let mut sim = SimPark::generate(ParkSpec {
        seed: 2026,
        enterprises: ENTERPRISES,
        start_day: START,
        days: DAYS + 1,
    });
    // A stuck grid meter (00:00–05:00 Beijing time on the last logged day), as `tanji demo`
    // injects one, so the anomaly cards have a real alert to show.
    sim.faults.push(Fault::FlatLine {
        meter: "m-0001-grid".into(),
        start: STUCK.0,
        end: STUCK.1,
    });
    park.register(&sim.registrations(START - 86_400)).unwrap();
    // Enterprise inputs published after the factors, as the README's path does (`tanji inputs
    // publish`): the factor views must still read the factor series, never the inputs. They
    // give each enterprise an illustrative value added and output per logged day, as `tanji
    // demo` publishes, for the outcomes panel's efficiencies.
    let days = (START, START + i64::from(DAYS) * 86_400);
    let economics = tanji_report::illustrative_inputs(park.store(), days).unwrap();
    park.publish(&PublicationRequest {
        name: "e1-inputs".into(),
        method: tanji_report::INPUTS_METHOD.into(),
        content: serde_json::to_vec(&economics).unwrap(),
        regions: Vec::new(),
        period: (0, 0),
        intervals: 0,
        inputs: Vec::new(),
        calibrations: Vec::new(),
        published_at: START,
    })
    .unwrap();
    let cut = START + i64::from(DAYS) * 86_400;
    let (now, later): (Vec<_>, Vec<_>) = sim
        .uploads()
        .partition(|u| u.body.channels.iter().all(|c| c.start < cut));
    let batch = now
        .into_iter()
        .map(|u| Incoming {
            source: "demo".into(),
            raw: Vec::new(),
            parsed: Ok(u),
            checked: None,
        })
        .collect();
    let outcomes = park.ingest(batch, cut + 86_400 * 2).unwrap();
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, tanji_park::Outcome::Accepted { .. })));
    assert!(!later.is_empty());
    (sim, later)
}

/// chromedriver, in a process group of its own: dropping it (also when an assertion fails
/// before the browser session is closed) ends chromedriver and the Chromium it started.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts chromedriver on a free port and waits until it answers.
async fn chromedriver(program: &Path) -> (Driver, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(program)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(r) = http.get(format!("{url}/status")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (driver, url)
}

async fn browser(driver_url: &str, chromium: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium.display().to_string(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,2400", "--lang=en-US"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver_url)
        .await
        .unwrap()
}

async fn api(url: &str, token: &str, path: &str) -> Value {
    let res = reqwest::Client::new()
        .get(format!("{url}/api/v1{path}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    serde_json::from_str(&res.text().await.unwrap()).unwrap()
}

/// Waits until the view has rendered at tree size `size` (or at any size when `None`).
async fn ready(c: &Client, size: Option<u64>) {
    let css = match size {
        Some(s) => format!("main[data-state=ready][data-size='{s}']"),
        None => "main[data-state=ready]".to_string(),
    };
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&css))
        .await
        .unwrap_or_else(|e| panic!("the page never got to {css}: {e}"));
}

async fn attr(c: &Client, testid: &str, name: &str) -> String {
    let el = c
        .find(Locator::Css(&format!("[data-testid='{testid}']")))
        .await
        .unwrap_or_else(|e| panic!("no element {testid}: {e}"));
    el.attr(name)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{testid} has no {name}"))
}

async fn value(c: &Client, testid: &str) -> f64 {
    attr(c, testid, "data-value").await.parse().unwrap()
}

async fn text(c: &Client, testid: &str) -> String {
    c.find(Locator::Css(&format!("[data-testid='{testid}']")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Runs `script` in the page and returns its value.
async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Clicks the download button `testid` and returns what the page saved: the blob's media type
/// and its first bytes as text (the page's `URL.createObjectURL` is wrapped to catch it).
async fn download(c: &Client, testid: &str) -> Value {
    js(
        c,
        &format!(
            "window.__saved = null;
             if (!window.__wrapped) {{
               const make = URL.createObjectURL;
               URL.createObjectURL = (b) => {{ window.__saved = b; return make(b); }};
               window.__wrapped = true;
             }}
             document.querySelector(\"[data-testid='{testid}']\").click();"
        ),
    )
    .await;
    // Bounded like WAIT: 600 polls 100 ms apart.
    let mut tries = 0;
    loop {
        let got = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const b = window.__saved;
                 if (!b) { done(null); return; }
                 b.slice(0, 5).text().then((t) => done([b.type, t]));",
                vec![],
            )
            .await
            .unwrap();
        if !got.is_null() {
            return got;
        }
        tries += 1;
        assert!(tries < 600, "{testid}: nothing was downloaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The data of series `i` of the ECharts chart in `[data-testid=testid]`.
async fn chart_series(c: &Client, testid: &str, i: usize) -> Vec<Value> {
    let v = js(
        c,
        &format!(
            "const el = document.querySelector(\"[data-testid='{testid}']\");
             return echarts.getInstanceByDom(el).getOption().series[{i}].data;"
        ),
    )
    .await;
    v.as_array().cloned().unwrap_or_default()
}

/// `a` equals `b` to 1e-12 relative: serde_json's default float parsing (the API side here)
/// may be one unit in the last place off, the browser's is exact.
#[track_caller]
fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()),
        "{what}: page {a}, API {b}"
    );
}

#[track_caller]
fn close_all(a: &[Option<f64>], b: &[Option<f64>], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        match (x, y) {
            (Some(x), Some(y)) => close(*x, *y, &format!("{what}[{i}]")),
            _ => assert_eq!(x, y, "{what}[{i}]"),
        }
    }
}

/// Numbers as f64 (JSON from the browser writes whole numbers as integers).
fn nums(v: &[Value]) -> Vec<Option<f64>> {
    v.iter().map(Value::as_f64).collect()
}

/// How the page shows `x` with `digits` decimals in English: `Intl.NumberFormat("en-US")`,
/// which rounds the number's shortest decimal form (1.005, not 1.00499…) half away from zero
/// and groups thousands.
fn en(x: f64, digits: usize) -> String {
    // Rust's `Display` of an f64 is its shortest round-trip decimal form, without exponent.
    let shortest = format!("{}", x.abs());
    let (int, frac) = shortest.split_once('.').unwrap_or((&shortest, ""));
    let frac = format!("{frac:0<width$}", width = digits + 1);
    let mut kept: Vec<u8> = int.bytes().chain(frac.bytes().take(digits)).collect();
    if frac.as_bytes()[digits] >= b'5' {
        let mut i = kept.len();
        loop {
            if i == 0 {
                kept.insert(0, b'1');
                break;
            }
            i -= 1;
            if kept[i] == b'9' {
                kept[i] = b'0';
            } else {
                kept[i] += 1;
                break;
            }
        }
    }
    let split = kept.len() - digits;
    let (int, frac) = kept.split_at(split);
    let int = std::str::from_utf8(int).unwrap();
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    // Intl keeps the sign of a negative number that rounds to zero ("-0.0").
    let sign = if x < 0.0 { "-" } else { "" };
    if digits == 0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{}", std::str::from_utf8(frac).unwrap())
    }
}

#[test]
fn en_formats_as_intl_does() {
    assert_eq!(en(1.25, 1), "1.3");
    assert_eq!(en(0.25, 1), "0.3");
    assert_eq!(en(-1.25, 1), "-1.3");
    assert_eq!(en(1.005, 2), "1.01");
    assert_eq!(en(9.96, 1), "10.0");
    assert_eq!(en(1234567.891, 1), "1,234,567.9");
    assert_eq!(en(999.95, 1), "1,000.0");
    assert_eq!(en(-0.04, 1), "-0.0");
    assert_eq!(en(52.0, 0), "52");
}

/// Whether `s` holds a CJK character.
fn has_han(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// The runs of four or more English words in a row (words of two or more Latin letters,
/// apart from single spaces or commas) in `s`: what an English sentence looks like, and what
/// ids, units, codes and command names (`tanji audit`, `t CO₂`, `e-0001`) do not.
fn english_runs(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in s.lines() {
        let mut run: Vec<&str> = Vec::new();
        for token in line.split([' ', ',']) {
            if token.len() >= 2 && token.chars().all(|c| c.is_ascii_alphabetic()) {
                run.push(token);
            } else if !token.is_empty() {
                if run.len() >= 4 {
                    out.push(run.join(" "));
                }
                run.clear();
            }
        }
        if run.len() >= 4 {
            out.push(run.join(" "));
        }
    }
    out
}

#[test]
fn english_runs_find_sentences_not_ids() {
    assert_eq!(
        english_runs("原因：The season explains most of it"),
        vec!["season explains most of it".to_string()]
    );
    assert!(english_runs("e-0001 · 12.5 t CO₂ · `tanji audit` · 下载 JSON").is_empty());
}

/// Asserts that the view (`main`) shows no English sentence.
async fn no_english_sentence(c: &Client, what: &str) {
    let shown = js(c, "return document.querySelector('main').innerText;").await;
    let runs = english_runs(shown.as_str().unwrap());
    assert!(
        runs.is_empty(),
        "{what}: English on a Chinese page: {runs:?}"
    );
}

async fn screenshot(c: &Client, dir: &Path, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    std::fs::write(dir.join(name), &png).unwrap();
    if let Some(out) = std::env::var_os("TANJI_SCREENSHOT_DIR") {
        let out = PathBuf::from(out);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join(name), &png).unwrap();
        eprintln!("screenshot: {}", out.join(name).display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboard_shows_the_apis_numbers_live() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = find_program(&["chromedriver"]);
    let (Some(chromium), Some(driver)) = (chromium, driver) else {
        assert!(
            !ci,
            "CI=true: the browser test needs chromium and chromedriver on PATH (apt-get install chromium chromium-driver)"
        );
        eprintln!("SKIPPED: chromium and chromedriver not found on PATH (apt-get install chromium chromium-driver)");
        return;
    };

    let dir = tempfile::tempdir().unwrap();
    let (sim, later) = demo_park(dir.path());
    let fx = common::Fixture {
        vkey: String::new(),
        origin: String::new(),
        uploads: Vec::new(),
        sim,
        dir,
    };
    let server = common::start(fx.path(), common::config(&fx)).await;
    let url = server.url.clone();
    let op = common::OPERATOR;
    let shots = fx.path().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    let (_driver, driver_url) = chromedriver(&driver).await;
    let c = browser(&driver_url, &chromium).await;

    // Before a token is entered: the public parts (the log's size and latest checkpoint, as
    // /checkpoint serves them) and where a token comes from.
    c.goto(&format!("{url}/dashboard/")).await.unwrap();
    c.find(Locator::Css("[data-testid='lang']"))
        .await
        .unwrap()
        .select_by_value("en")
        .await
        .unwrap();
    let status = api(&url, op, "/status").await;
    let size = status["size"].as_u64().unwrap();
    ready(&c, Some(size)).await;
    close(
        value(&c, "ledger-size").await,
        size as f64,
        "tokenless ledger-size",
    );
    assert_eq!(attr(&c, "head-size", "data-value").await, size.to_string());
    assert_eq!(
        text(&c, "checkpoint-root").await,
        status["checkpoint"]["root"].as_str().unwrap()
    );
    let help = text(&c, "token-help").await;
    assert!(help.contains("tanji token new"), "{help}");
    assert!(c
        .find_all(Locator::Css("[data-testid='error']"))
        .await
        .unwrap()
        .is_empty());
    screenshot(&c, &shots, "tokenless-en.png").await;

    // The token is entered once and kept in localStorage.
    let input = c
        .find(Locator::Css("[data-testid='token-input']"))
        .await
        .unwrap();
    input.send_keys(op).await.unwrap();
    c.find(Locator::Css("[data-testid='token-save']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        js(&c, "return localStorage.getItem('tanji.token');").await,
        json!(op)
    );

    // Park overview.
    ready(&c, Some(size)).await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            "main[data-state=ready] [data-testid='witness-count']",
        ))
        .await
        .unwrap();
    close(value(&c, "ledger-size").await, size as f64, "ledger-size");
    assert_eq!(text(&c, "ledger-size").await, en(size as f64, 0));
    close(
        value(&c, "checkpoint-size").await,
        status["checkpoint"]["size"].as_f64().unwrap(),
        "checkpoint-size",
    );
    assert_eq!(
        text(&c, "checkpoint-root").await,
        status["checkpoint"]["root"].as_str().unwrap()
    );
    close(
        value(&c, "witness-count").await,
        status["cosignatures"].as_array().unwrap().len() as f64,
        "witness-count",
    );

    // Today's factor curve against the annual mean: the chart draws the API's 24 hours. The
    // inputs publication logged after the factors changes nothing here (no 500).
    let curve = api(&url, op, "/factors/curve").await;
    assert_eq!(curve["publication"], "CN-FJ-synthetic-2026@v1", "{curve}");
    let factors = api(&url, op, "/factors").await.to_string();
    assert!(!factors.contains("e1-inputs"), "{factors}");
    let hours: Vec<Value> = curve["hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["g_per_kwh"].clone())
        .collect();
    assert_eq!(hours.len(), 24);
    assert!(hours.iter().all(Value::is_f64), "{hours:?}");
    assert_eq!(
        nums(&chart_series(&c, "factor-chart", 0).await),
        nums(&hours)
    );
    assert_eq!(attr(&c, "factor-chart", "data-points").await, "48"); // 24 hours + 24 of the mean
    let mean = curve["annual_mean"]["g_per_kwh"].as_f64().unwrap();
    close(value(&c, "annual-mean").await, mean, "annual-mean");
    assert_eq!(
        text(&c, "annual-mean").await,
        format!("{} g CO₂/kWh", en(mean, 1))
    );
    // Calibrated to Fujian's 0.4092 t/MWh, the consumption-weighted annual mean is 409.2 g/kWh.
    assert!((mean - 409.2).abs() < 0.05, "{mean}");
    assert_eq!(text(&c, "factor-day").await, curve["day"].as_str().unwrap());

    // Emissions by enterprise, park totals, green share: as the API (the report) says.
    let em = api(&url, op, "/park/emissions").await;
    let ind = api(&url, op, "/park/indicators").await;
    let cmp = api(&url, op, "/park/comparison").await;
    let issues = api(&url, op, "/park/issues").await;
    let rows = em["enterprises"].as_array().unwrap();
    assert_eq!(rows.len(), ENTERPRISES);
    let s1: Vec<Option<f64>> = rows
        .iter()
        .map(|r| Some(r["scope1_g"].as_f64().unwrap() / 1e6))
        .collect();
    let s2: Vec<Option<f64>> = rows
        .iter()
        .map(|r| Some(r["scope2_location_g"].as_f64().unwrap() / 1e6))
        .collect();
    close_all(
        &nums(&chart_series(&c, "emissions-chart", 0).await),
        &s1,
        "emissions chart scope 1",
    );
    close_all(
        &nums(&chart_series(&c, "emissions-chart", 1).await),
        &s2,
        "emissions chart scope 2",
    );
    assert_eq!(
        attr(&c, "emissions-chart", "data-points").await,
        (2 * ENTERPRISES).to_string()
    );
    let t = &em["totals"];
    for (id, key) in [
        ("park-scope1", "scope1_g"),
        ("park-scope2-location", "scope2_location_g"),
        ("park-scope2-market", "scope2_market_g"),
        ("park-consumption", "consumption_wh"),
    ] {
        let v = t[key].as_f64().unwrap();
        assert!(v > 0.0, "{key}");
        close(value(&c, id).await, v, id);
        let unit = if key.ends_with("_wh") {
            "MWh"
        } else {
            "t CO₂"
        };
        assert_eq!(
            text(&c, id).await,
            format!("{} {unit}", en(v / 1e6, 1)),
            "{id}"
        );
    }
    let green = ind["totals"]["green_share"].as_f64().unwrap();
    assert!(green > 0.0);
    close(
        value(&c, "park-green-share").await,
        green,
        "park-green-share",
    );
    assert_eq!(
        text(&c, "park-green-share").await,
        format!("{}%", en(green * 100.0, 1))
    );
    close(
        value(&c, "park-difference").await,
        cmp["totals"]["difference_g"].as_f64().unwrap(),
        "park-difference",
    );
    close(
        value(&c, "issues-count").await,
        issues["count"].as_f64().unwrap(),
        "issues-count",
    );
    // The share of filled values, for the park and per enterprise, as the report gives it.
    close(
        value(&c, "park-filled-share").await,
        em["filled_share"]["share"].as_f64().unwrap(),
        "park-filled-share",
    );
    let filled: Vec<Option<f64>> = js(
        &c,
        "return [...document.querySelectorAll(\"[data-testid='row-filled-share']\")].map(td => Number(td.dataset.value));",
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(Value::as_f64)
    .collect();
    let want: Vec<Option<f64>> = rows
        .iter()
        .map(|r| r["filled_share"]["share"].as_f64())
        .collect();
    close_all(&filled, &want, "row-filled-share");
    // The alerts card also counts and lists the meters' anomalies, as the API finds them.
    let anomalies = api(&url, op, "/park/anomalies").await;
    let flat: Vec<&Value> = anomalies["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "flat_line")
        .collect();
    assert_eq!(flat.len(), 1, "{anomalies:#}");
    assert_eq!(flat[0]["meter"], "m-0001-grid");
    assert_eq!(flat[0]["start_unix"].as_i64().unwrap(), STUCK.0);
    assert_eq!(flat[0]["end_unix"].as_i64().unwrap(), STUCK.1);
    close(
        value(&c, "park-anomaly-count").await,
        anomalies["count"].as_f64().unwrap(),
        "park-anomaly-count",
    );
    let listed = c
        .find_all(Locator::Css(
            "[data-testid='park-anomalies'] [data-testid='anomaly']",
        ))
        .await
        .unwrap();
    assert_eq!(
        listed.len(),
        anomalies["count"].as_u64().unwrap().min(50) as usize
    );
    let shown = c
        .find_all(Locator::Css("[data-testid='enterprise-row']"))
        .await
        .unwrap();
    assert_eq!(shown.len(), ENTERPRISES);
    for (row, want) in shown.iter().zip(rows) {
        assert_eq!(
            row.attr("data-enterprise").await.unwrap().unwrap(),
            want["enterprise"].as_str().unwrap()
        );
        let cell = row
            .find(Locator::Css("[data-testid='row-scope1']"))
            .await
            .unwrap();
        assert_eq!(
            cell.attr("data-value").await.unwrap().unwrap(),
            want["scope1_g"].to_string()
        );
    }
    screenshot(&c, &shots, "park-en.png").await;

    // The park's report downloads: the Excel button fetches the workbook (a zip: "PK") with
    // its media type, the PDF button the PDF.
    for (format, media, magic) in [
        (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "PK",
        ),
        ("pdf", "application/pdf", "%PDF-"),
    ] {
        let got = download(&c, &format!("report-{format}")).await;
        assert_eq!(got[0], media, "{format}: {got}");
        assert!(
            got[1].as_str().unwrap().starts_with(magic),
            "{format}: {got}"
        );
    }

    // Park outcomes against a baseline: the panel shows the API's figures (the data's two
    // halves, value added and output from the latest inputs publication) for the park and each
    // enterprise, an absent figure with its reason, and offers the outcomes as files.
    let inputs = status["inputs"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(inputs, "e1-inputs@v1");
    let outcomes = api(&url, op, "/park/outcomes?inputs=e1-inputs@v1").await;
    assert_eq!(outcomes["parameters"]["inputs"], inputs);
    assert_eq!(outcomes["baseline"]["start"], "2026-11-20T00:00:00Z");
    assert_eq!(outcomes["period"]["end"], "2026-11-26T00:00:00Z");
    assert_eq!(
        text(&c, "outcomes-period").await,
        "2026-11-23T00:00:00Z – 2026-11-26T00:00:00Z"
    );
    let mut subjects = vec![outcomes["park_outcomes"].clone()];
    subjects.extend(outcomes["enterprises"].as_array().unwrap().iter().cloned());
    assert_eq!(subjects.len(), ENTERPRISES + 1);
    let mut shown_values = 0;
    for o in &subjects {
        let subject = o["subject"].as_str().unwrap();
        for key in [
            "tce",
            "value_added_per_tce",
            "output_per_tce",
            "cost",
            "green_share",
            "location_t_per_yr",
            "market_t_per_yr",
        ] {
            for col in ["baseline", "period"] {
                let f = &o[col][key];
                let css = format!(
                    "[data-testid='outcome-row'][data-subject='{subject}'][data-key='{key}'] [data-testid='outcome-{col}']"
                );
                let cell = c.find(Locator::Css(&css)).await.unwrap();
                match f["value"].as_f64() {
                    Some(v) => {
                        let got: f64 = cell
                            .attr("data-value")
                            .await
                            .unwrap()
                            .unwrap()
                            .parse()
                            .unwrap();
                        close(got, v, &css);
                        shown_values += 1;
                    }
                    None => assert_eq!(
                        cell.attr("data-absent").await.unwrap().as_deref(),
                        f["absent"].as_str(),
                        "{css}"
                    ),
                }
            }
        }
    }
    let park_o = &outcomes["park_outcomes"];
    for key in [
        "tce",
        "value_added_per_tce",
        "green_share",
        "location_t_per_yr",
    ] {
        assert!(park_o["period"][key]["value"].is_f64(), "{key}: {park_o:#}");
    }
    assert!(park_o["change"]["value_added_per_tce_pct"]["value"].is_f64());
    assert!(shown_values >= 4 * (ENTERPRISES + 1), "{shown_values}");
    let method = text(&c, "outcome-method").await;
    assert!(method.contains("GB/T 2589"), "{method}");
    assert!(text(&c, "outcomes-advice").await.contains("not measurable"));
    for (format, media, magic) in [
        (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "PK",
        ),
        ("pdf", "application/pdf", "%PDF-"),
        ("json", "application/json", "{"),
    ] {
        let got = download(&c, &format!("outcomes-{format}")).await;
        assert_eq!(got[0], media, "outcomes {format}: {got}");
        assert!(
            got[1].as_str().unwrap().starts_with(magic),
            "outcomes {format}: {got}"
        );
    }
    screenshot(&c, &shots, "outcomes-en.png").await;

    // Live: a day of uploads posted as devices post them appears without a reload.
    let body = format!(
        "[{}]",
        later
            .iter()
            .map(upload_to_json)
            .collect::<Vec<_>>()
            .join(",")
    );
    let res = reqwest::Client::new()
        .post(format!("{url}/api/v1/uploads"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let answers: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    let answers = answers.as_array().cloned().unwrap_or_else(|| vec![answers]);
    assert!(
        answers.iter().all(|a| a["status"] == "accepted"),
        "{answers:?}"
    );
    let grown = api(&url, op, "/status").await["size"].as_u64().unwrap();
    assert_eq!(grown, size + later.len() as u64);
    ready(&c, Some(grown)).await;
    close(value(&c, "ledger-size").await, grown as f64, "ledger-size");
    let em2 = api(&url, op, "/park/emissions").await;
    assert!(em2["totals"]["scope1_g"].as_f64() > em["totals"]["scope1_g"].as_f64());
    close(
        value(&c, "park-scope1").await,
        em2["totals"]["scope1_g"].as_f64().unwrap(),
        "park-scope1",
    );
    assert_eq!(attr(&c, "live", "data-state").await, "live");

    // The enterprise page: load against factor, fixed vs hourly with the reason, indicators.
    let e = fx.enterprise(0);
    c.goto(&format!("{url}/dashboard/#/enterprise/{e}"))
        .await
        .unwrap();
    ready(&c, Some(grown)).await;
    assert_eq!(text(&c, "enterprise-id").await, e);
    let q = format!("/enterprises/{e}");
    // The anomalies card shows the API's alerts: the stuck grid meter among them.
    let anomalies = api(&url, op, &format!("{q}/anomalies")).await;
    let count = anomalies["count"].as_f64().unwrap();
    assert!(count >= 1.0, "{anomalies:#}");
    close(value(&c, "anomaly-count").await, count, "anomaly-count");
    let kinds: Vec<(String, String)> = js(
        &c,
        "return [...document.querySelectorAll(\"[data-testid='anomalies'] [data-testid='anomaly']\")].map(li => [li.dataset.kind, li.dataset.meter]);",
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string()))
    .collect();
    assert_eq!(kinds.len() as f64, count.min(50.0));
    assert!(
        kinds.contains(&("flat_line".into(), "m-0001-grid".into())),
        "{kinds:?}"
    );
    let loads = api(&url, op, &format!("{q}/loads")).await;
    let import = loads["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["carrier"] == "electricity_import")
        .unwrap();
    let drawn = chart_series(&c, "load-chart", 0).await;
    let want: Vec<Option<f64>> = import["values_milli"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().map(|x| x / 1000.0))
        .collect();
    assert!(want.len() >= 96 * 7, "{}", want.len());
    assert!(want.iter().all(Option::is_some));
    let drawn: Vec<Option<f64>> = drawn.iter().map(|d| d[1].as_f64()).collect();
    close_all(&drawn, &want, "load chart");
    let cmp = api(&url, op, &format!("{q}/comparison")).await;
    let cc = &cmp["comparison"];
    for (id, key) in [
        ("cmp-fixed", "fixed_g"),
        ("cmp-dynamic", "dynamic_g"),
        ("cmp-difference", "difference_g"),
    ] {
        close(value(&c, id).await, cc[key].as_f64().unwrap(), id);
        assert_eq!(
            text(&c, id).await,
            format!("{} t CO₂", en(cc[key].as_f64().unwrap() / 1e6, 1)),
            "{id}"
        );
    }
    close(
        value(&c, "cmp-difference-pct").await,
        cc["difference_pct"].as_f64().unwrap(),
        "cmp-difference-pct",
    );
    let reason = cc["reason"].as_str().unwrap();
    assert!(reason.len() > 20, "{reason}");
    assert_eq!(text(&c, "cmp-reason").await, reason);
    let by_hour: Vec<Value> = cc["by_hour"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["mean_factor_g_per_kwh"].clone())
        .collect();
    assert_eq!(by_hour.len(), 24);
    assert!(by_hour.iter().all(Value::is_f64));
    assert_eq!(
        nums(&chart_series(&c, "hour-chart", 1).await),
        nums(&by_hour)
    );
    let ind = api(&url, op, &format!("{q}/indicators")).await;
    close(
        value(&c, "ind-green-share").await,
        ind["indicators"]["green_share"].as_f64().unwrap(),
        "ind-green-share",
    );
    close(
        value(&c, "ind-consumption").await,
        ind["indicators"]["consumption_wh"].as_f64().unwrap(),
        "ind-consumption",
    );
    let em = api(&url, op, &format!("{q}/emissions")).await;
    close(
        value(&c, "em-filled-share").await,
        em["filled_share"]["share"].as_f64().unwrap(),
        "em-filled-share",
    );
    close(
        value(&c, "em-scope1").await,
        em["scope1"]["fossil_g"].as_f64().unwrap(),
        "em-scope1",
    );
    close(
        value(&c, "em-scope2-location").await,
        em["scope2_location"]["total_g"].as_f64().unwrap(),
        "em-scope2-location",
    );
    screenshot(&c, &shots, "enterprise-en.png").await;
    // The enterprise's documents: the GHG inventory as files, and footprints offered because
    // an inputs publication is logged (this one has no footprint section: the page says why).
    for (format, media, magic) in [
        (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "PK",
        ),
        ("pdf", "application/pdf", "%PDF-"),
        ("json", "application/json", "{"),
    ] {
        let got = download(&c, &format!("inventory-{format}")).await;
        assert_eq!(got[0], media, "inventory {format}: {got}");
        assert!(
            got[1].as_str().unwrap().starts_with(magic),
            "inventory {format}: {got}"
        );
    }
    for format in ["xlsx", "pdf", "json", "pact"] {
        c.find(Locator::Css(&format!("[data-testid='footprint-{format}']")))
            .await
            .unwrap();
    }
    c.find(Locator::Css("[data-testid='footprint-pact']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(
            "//*[@data-testid='footprint-error' and string-length(normalize-space(.)) > 0]",
        ))
        .await
        .unwrap();

    // The advice view: the week's load before and after the plan over the factor curve; the
    // cut it shows is the API's, at unchanged energy.
    c.find(Locator::Css("[data-testid='advice-link']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            "main[data-state=ready] [data-testid='advice-chart']",
        ))
        .await
        .unwrap();
    let adv = api(&url, op, &format!("{q}/optimize?days=7")).await;
    let iv = adv["intervals"].as_array().unwrap();
    let planned = adv["totals"]["planned_days"].as_u64().unwrap();
    assert!(planned >= 6, "{}", adv["refused"]);
    assert_eq!(iv.len() as u64, planned * 96);
    let points: usize = attr(&c, "advice-chart", "data-points")
        .await
        .parse()
        .unwrap();
    assert_eq!(points, 3 * iv.len());
    let after: Vec<Option<f64>> = chart_series(&c, "advice-chart", 1)
        .await
        .iter()
        .map(|d| d[1].as_f64())
        .collect();
    let want: Vec<Option<f64>> = iv
        .iter()
        .map(|x| {
            let kw = x["load_after_wh"].as_f64().unwrap() * 4.0 / 1000.0;
            Some((kw * 1000.0).round() / 1000.0)
        })
        .collect();
    close_all(&after, &want, "advice chart, load after");
    let t = &adv["totals"];
    let cut = t["emissions_cut_g"].as_f64().unwrap();
    assert!(cut > 0.0, "the week's advice cuts emissions: {t}");
    assert_eq!(t["before"]["consumption_wh"], t["after"]["consumption_wh"]);
    close(value(&c, "advice-cut-g").await, cut, "advice-cut-g");
    close(
        value(&c, "advice-cut-pct").await,
        t["emissions_cut_pct"].as_f64().unwrap(),
        "advice-cut-pct",
    );
    close(
        value(&c, "advice-energy-wh").await,
        t["after"]["consumption_wh"].as_f64().unwrap(),
        "advice-energy-wh",
    );
    assert_eq!(
        attr(&c, "advice-energy-unchanged", "data-value").await,
        "true"
    );
    assert_eq!(
        c.find_all(Locator::Css("[data-testid='advice-line']"))
            .await
            .unwrap()
            .len(),
        adv["advice"].as_array().unwrap().len()
    );
    eprintln!(
        "advice for {e}, {} – {} ({planned} days): {:.3} t -> {:.3} t ({:.2}%), energy {} Wh unchanged, {} advice lines",
        adv["first_day"],
        adv["per_day"][planned as usize - 1]["day"],
        t["before"]["emissions_g"].as_f64().unwrap() / 1e6,
        t["after"]["emissions_g"].as_f64().unwrap() / 1e6,
        t["emissions_cut_pct"].as_f64().unwrap(),
        t["after"]["consumption_wh"],
        adv["advice"].as_array().unwrap().len()
    );
    screenshot(&c, &shots, "advice-en.png").await;
    // Least cost instead: the view asks the API again and shows its figures.
    c.find(Locator::Css("[data-testid='advice-objective']"))
        .await
        .unwrap()
        .select_by_value("cost")
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            "main[data-state=ready] [data-testid='advice-objective'] option[value='cost']:checked",
        ))
        .await
        .unwrap();
    let by_cost = api(&url, op, &format!("{q}/optimize?days=7&objective=cost")).await;
    let tc = &by_cost["totals"];
    assert_eq!(
        tc["before"]["consumption_wh"],
        tc["after"]["consumption_wh"]
    );
    close(
        value(&c, "advice-cost-cut").await,
        tc["cost_cut"].as_f64().unwrap(),
        "advice-cost-cut",
    );
    close(
        value(&c, "advice-cut-g").await,
        tc["emissions_cut_g"].as_f64().unwrap(),
        "advice-cut-g (cost)",
    );
    assert!(tc["cost_cut"].as_f64().unwrap() >= t["cost_cut"].as_f64().unwrap());
    c.goto(&format!("{url}/dashboard/#/enterprise/{e}"))
        .await
        .unwrap();
    ready(&c, Some(grown)).await;

    // The Chinese UI.
    c.find(Locator::Css("[data-testid='lang']"))
        .await
        .unwrap()
        .select_by_value("zh")
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(
            "//h2[contains(., '固定因子与逐时因子对比')]",
        ))
        .await
        .unwrap();
    assert_eq!(
        js(
            &c,
            "return document.querySelector(\"nav a[data-view='park']\").textContent;"
        )
        .await,
        json!("园区总览")
    );
    // The Chinese view is Chinese throughout: the reason is the server's Chinese sentence (from
    // the same figures), and no sentence the server wrote is English.
    let zh_cmp = api(&url, op, &format!("{q}/comparison?lang=zh")).await;
    let zh_reason = zh_cmp["comparison"]["reason"].as_str().unwrap();
    assert!(has_han(zh_reason), "{zh_reason}");
    assert_eq!(text(&c, "cmp-reason").await, zh_reason);
    no_english_sentence(&c, "enterprise (zh)").await;
    screenshot(&c, &shots, "enterprise-zh.png").await;
    c.goto(&format!("{url}/dashboard/#/park")).await.unwrap();
    ready(&c, Some(grown)).await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            "main[data-state=ready] [data-testid='enterprise-table']",
        ))
        .await
        .unwrap();
    no_english_sentence(&c, "park (zh)").await;
    screenshot(&c, &shots, "park-zh.png").await;
    c.goto(&format!("{url}/dashboard/#/advice/{e}"))
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            "main[data-state=ready] [data-testid='advice-chart']",
        ))
        .await
        .unwrap();
    let lines = c
        .find_all(Locator::Css("[data-testid='advice-line']"))
        .await
        .unwrap();
    assert!(!lines.is_empty());
    for l in &lines {
        let t = l.text().await.unwrap();
        assert!(has_han(&t), "{t}");
    }
    no_english_sentence(&c, "advice (zh)").await;
    screenshot(&c, &shots, "advice-zh.png").await;
    // An advice error (an enterprise the log does not know) keeps the selector usable.
    c.goto(&format!("{url}/dashboard/#/advice/e-none"))
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            "main[data-state=ready] [data-testid='advice-error']",
        ))
        .await
        .unwrap();
    c.find(Locator::Css("[data-testid='advice-enterprise-select']"))
        .await
        .unwrap()
        .select_by_value(&e)
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            "main[data-state=ready] [data-testid='advice-chart']",
        ))
        .await
        .unwrap();
    // Enterprise ids never wrap: each id element is one line high.
    let wrapped = js(
        &c,
        "return [...document.querySelectorAll('.id')].filter(el => el.getClientRects().length > 1).map(el => el.textContent);",
    )
    .await;
    assert_eq!(wrapped, json!([]));
    c.find(Locator::Css("[data-testid='lang']"))
        .await
        .unwrap()
        .select_by_value("en")
        .await
        .unwrap();

    // An enterprise token: its own page only; the park-wide figures are refused.
    js(
        &c,
        &format!(
            "localStorage.setItem('tanji.token', '{}');",
            common::ENTERPRISE_1
        ),
    )
    .await;
    c.goto(&format!("{url}/dashboard/#/park")).await.unwrap();
    c.refresh().await.unwrap();
    ready(&c, Some(grown)).await;
    assert!(c
        .find_all(Locator::Css("[data-testid='enterprise-row']"))
        .await
        .unwrap()
        .is_empty());
    let links = js(
        &c,
        "return [...document.querySelectorAll('main a[href^=\"#/enterprise/\"]')].map(a => a.textContent);",
    )
    .await;
    assert_eq!(links, json!([e]));
    let other = fx.enterprise(1);
    c.goto(&format!("{url}/dashboard/#/enterprise/{other}"))
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("main[data-state=error]"))
        .await
        .unwrap();
    assert!(c
        .find_all(Locator::Css("[data-testid='cmp-fixed']"))
        .await
        .unwrap()
        .is_empty());

    // A park whose factor series covers only part of its data: a loud banner on the overview
    // and on each enterprise page names the series and its span.
    let partial = common::fixture(2, 4);
    common::publish_factors(partial.path(), 1);
    let server3 = common::start(partial.path(), common::config(&partial)).await;
    common::post_uploads(&server3, &partial, 0..partial.uploads.len()).await;
    let cov = api(&server3.url, op, "/park/emissions").await["factor_coverage"].clone();
    assert_eq!(cov["complete"], false, "{cov}");
    assert!(
        cov["intervals_without_factor"].as_u64().unwrap() > 0,
        "{cov}"
    );
    c.goto(&format!("{}/dashboard/#/park", server3.url))
        .await
        .unwrap();
    js(&c, &format!("localStorage.setItem('tanji.token', '{op}');")).await;
    c.refresh().await.unwrap();
    ready(&c, Some(server3.state.head().size)).await;
    let banner = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            "main[data-state=ready] [data-testid='coverage-banner']",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for k in ["series", "series_from", "series_to"] {
        let want = cov[k].as_str().unwrap();
        assert!(banner.contains(want), "{banner} lacks {k} {want}");
    }
    assert!(
        banner.contains(&en(cov["intervals_without_factor"].as_f64().unwrap(), 0)),
        "{banner}"
    );
    screenshot(&c, &shots, "partial-factors-en.png").await;
    let pe = partial.enterprise(0);
    c.goto(&format!("{}/dashboard/#/enterprise/{pe}", server3.url))
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(
            "main[data-state=ready] [data-testid='coverage-banner']",
        ))
        .await
        .unwrap();
    server3.stop().await;

    // A park with factors but no uploads yet: the page says why there are no figures and
    // still shows the ledger and the factor curve.
    let empty = common::fixture(2, 1);
    common::publish_factors(empty.path(), 1);
    let server2 = common::start(empty.path(), common::config(&empty)).await;
    c.goto(&format!("{}/dashboard/", server2.url))
        .await
        .unwrap();
    js(&c, &format!("localStorage.setItem('tanji.token', '{op}');")).await;
    c.refresh().await.unwrap();
    let size2 = server2.state.head().size;
    ready(&c, Some(size2)).await;
    let why = text(&c, "no-figures").await;
    assert!(why.contains("no accepted upload"), "{why}");
    assert_eq!(attr(&c, "factor-chart", "data-points").await, "48");
    close(
        value(&c, "ledger-size").await,
        size2 as f64,
        "empty park ledger-size",
    );
    screenshot(&c, &shots, "empty-park-en.png").await;
    server2.stop().await;

    c.close().await.unwrap();
    server.stop().await;
}
