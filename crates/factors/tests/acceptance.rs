//! Acceptance tests of the factor computation, with numbers worked on paper.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::needless_range_loop,
    missing_docs
)]

use tanji_factors::*;

const H0: &str = "2022-01-01T00:00:00Z";
const H1: &str = "2022-01-01T01:00:00Z";
const T0: i64 = 1_640_995_200; // 2022-01-01T00:00:00Z

fn gen(text: &str) -> Vec<GenerationRow> {
    parse_generation_csv(text).unwrap()
}

fn exch(text: &str) -> Vec<ExchangeRow> {
    parse_exchanges_csv(text).unwrap()
}

fn run(g: &str, x: &str) -> Series {
    compute(
        &gen(g),
        &if x.is_empty() { vec![] } else { exch(x) },
        &SourceFactors::default_table(),
        &Options::default(),
    )
    .unwrap()
}

fn row<'a>(s: &'a Series, region: &str, t: i64) -> &'a FactorRow {
    s.factor_at(region, t).unwrap()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

/// Three regions, one hour, with a loop of flows, factors from reference/factors.md.
///
/// Generation: A coal 100 MWh; B gas 50 + wind 50; C hydro 40.
/// Flows: A→B 40, B→C 30, C→A 10.
/// Own direct emissions (MWh·g/kWh): A 100·760 = 76 000; B 50·370 = 18 500; C 0.
/// Inflow G_i + Σ_j F_ji: A 100+10 = 110; B 100+40 = 140; C 40+30 = 70.
///
/// The system (direct), (G_i + Σ_j F_ji)·x_i − Σ_j F_ji·x_j = Σ_s G_i,s·e_s:
///   110·x_A           − 10·x_C = 76 000
///   −40·x_A + 140·x_B          = 18 500
///            − 30·x_B + 70·x_C =      0
/// Third row: x_C = 3/7·x_B. Second: x_B = (18 500 + 40·x_A)/140. So
/// x_C = 3·(18 500 + 40·x_A)/980; into the first row, ×980:
///   107 800·x_A − 555 000 − 1 200·x_A = 74 480 000  ⇒  x_A = 75 035 000/106 600 = 375175/533
///   x_A = 703.8930…, x_B = (18 500 + 40·x_A)/140 = 177625/533 = 333.2552…,
///   x_C = 3/7·x_B = 76125/533 = 142.8236… g/kWh.
/// Lifecycle, own: A 100·820 = 82 000; B 50·490 + 50·11 = 25 050; C 40·24 = 960; the same
/// elimination gives x_A = 812459/1066 = 762.1567…, x_B = 422869/1066 = 396.6876…,
/// x_C = 195849/1066 = 183.7233….
/// Net supply: A 100+10−40 = 70; B 100+40−30 = 110; C 40+30−10 = 60 MWh.
/// Check: consumed 70·x_A + 110·x_B + 60·x_C = 94 500 = 76 000 + 18 500 produced (direct).
/// Production: A 760/820; B 18 500/100 = 185 and 25 050/100 = 250.5; C 0/24.
#[test]
fn three_regions_by_hand() {
    let s = run(
        &format!(
            "region,start,end,source,mwh\n\
             A,{H0},{H1},coal,100\n\
             B,{H0},{H1},gas,50\n\
             B,{H0},{H1},wind,50\n\
             C,{H0},{H1},hydro,40\n"
        ),
        &format!(
            "from,to,start,end,mwh\n\
             A,B,{H0},{H1},40\n\
             B,C,{H0},{H1},30\n\
             C,A,{H0},{H1},10\n"
        ),
    );
    assert!(s.issues.is_empty(), "{:?}", s.issues);
    let expect = [
        ("A", 375175.0 / 533.0, 812459.0 / 1066.0, 760.0, 820.0, 70.0),
        (
            "B",
            177625.0 / 533.0,
            422869.0 / 1066.0,
            185.0,
            250.5,
            110.0,
        ),
        ("C", 76125.0 / 533.0, 195849.0 / 1066.0, 0.0, 24.0, 60.0),
    ];
    for (region, cd, cl, pd, pl, mwh) in expect {
        let r = row(&s, region, T0);
        assert!(
            close(r.consumption_direct.unwrap(), cd, 1e-12),
            "{region} {r:?}"
        );
        assert!(
            close(r.consumption_lifecycle.unwrap(), cl, 1e-12),
            "{region} {r:?}"
        );
        assert!(
            close(r.production_direct.unwrap(), pd, 1e-12),
            "{region} {r:?}"
        );
        assert!(
            close(r.production_lifecycle.unwrap(), pl, 1e-12),
            "{region} {r:?}"
        );
        assert!(close(r.consumption_mwh, mwh, 1e-12), "{region} {r:?}");
    }
    // The published bytes, 4 decimals.
    assert_eq!(
        s.to_csv(),
        format!(
            "{SERIES_HEADER}\n\
             A,{H0},{H1},760.0000,820.0000,703.8931,762.1567,70.0000\n\
             B,{H0},{H1},185.0000,250.5000,333.2552,396.6876,110.0000\n\
             C,{H0},{H1},0.0000,24.0000,142.8236,183.7233,60.0000\n"
        )
    );
}

#[test]
fn single_region_consumption_equals_production() {
    let mut text = String::from("region,start,end,source,mwh\n");
    for h in 0..48i64 {
        let (s, e) = (T0 + 3600 * h, T0 + 3600 * (h + 1));
        let fmt = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .unwrap()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        let (s, e) = (fmt(s), fmt(e));
        let solar = (((h % 24) as f64 - 6.0) * std::f64::consts::PI / 12.0)
            .sin()
            .max(0.0)
            * 300.0;
        text += &format!(
            "Fujian,{s},{e},Fossil Hard coal,{}\n",
            600.0 + 10.0 * (h % 7) as f64
        );
        text += &format!("Fujian,{s},{e},NUC,400\n");
        text += &format!("Fujian,{s},{e},solar,{solar}\n");
        text += &format!("Fujian,{s},{e},Wind Offshore,{}\n", 50.0 + (h % 5) as f64);
    }
    let s = run(&text, "");
    assert_eq!(s.rows.len(), 48);
    assert!(s.issues.is_empty());
    for r in &s.rows {
        assert!(r.production_direct.is_some());
        assert_eq!(r.consumption_direct, r.production_direct, "{r:?}");
        assert_eq!(r.consumption_lifecycle, r.production_lifecycle, "{r:?}");
    }
    // Hour 0: coal 600, nuclear 400, solar 0, wind 50: direct 600·760/1050.
    let r0 = row(&s, "Fujian", T0 + 1800);
    assert!(close(
        r0.production_direct.unwrap(),
        600.0 * 760.0 / 1050.0,
        1e-12
    ));
    assert_eq!(r0.consumption_mwh, 1050.0);
}

/// A → B → C → A, each with its own generation: solves, and satisfies every balance equation.
#[test]
fn loop_of_flows_solves_and_balances() {
    let g = format!(
        "region,start,end,source,mwh\n\
         A,{H0},{H1},coal,300\n\
         A,{H0},{H1},solar,20\n\
         B,{H0},{H1},gas,120\n\
         B,{H0},{H1},nuclear,200\n\
         C,{H0},{H1},hydro,90\n\
         C,{H0},{H1},oil,15\n"
    );
    let x = format!(
        "from,to,start,end,mwh\n\
         A,B,{H0},{H1},70\n\
         B,C,{H0},{H1},55\n\
         C,A,{H0},{H1},25\n"
    );
    let s = run(&g, &x);
    assert!(s.issues.is_empty(), "{:?}", s.issues);
    let f = SourceFactors::default_table();
    let e = |src: Source| f.get(src);
    let own = [
        (
            320.0,
            300.0 * e(Source::Coal).0 + 20.0 * e(Source::Solar).0,
            300.0 * e(Source::Coal).1 + 20.0 * e(Source::Solar).1,
        ),
        (
            320.0,
            120.0 * e(Source::Gas).0 + 200.0 * e(Source::Nuclear).0,
            120.0 * e(Source::Gas).1 + 200.0 * e(Source::Nuclear).1,
        ),
        (
            105.0,
            90.0 * e(Source::Hydro).0 + 15.0 * e(Source::Oil).0,
            90.0 * e(Source::Hydro).1 + 15.0 * e(Source::Oil).1,
        ),
    ];
    let flows = [(0, 1, 70.0), (1, 2, 55.0), (2, 0, 25.0)];
    let names = ["A", "B", "C"];
    let x: Vec<(f64, f64)> = names
        .iter()
        .map(|n| {
            let r = row(&s, n, T0);
            (
                r.consumption_direct.unwrap(),
                r.consumption_lifecycle.unwrap(),
            )
        })
        .collect();
    for i in 0..3 {
        let imports: Vec<(usize, f64)> = flows
            .iter()
            .filter(|f| f.1 == i)
            .map(|f| (f.0, f.2))
            .collect();
        let inflow = own[i].0 + imports.iter().map(|f| f.1).sum::<f64>();
        for (k, xi, rhs) in [(0, x[i].0, own[i].1), (1, x[i].1, own[i].2)] {
            let get = |j: usize| if k == 0 { x[j].0 } else { x[j].1 };
            let lhs = inflow * xi - imports.iter().map(|&(j, f)| f * get(j)).sum::<f64>();
            let scale = rhs.abs().max(inflow * xi.abs()).max(1.0);
            assert!(
                (lhs - rhs).abs() <= 1e-9 * scale,
                "{} equation {k}: {lhs} vs {rhs}",
                names[i]
            );
        }
    }
}

#[test]
fn opposite_flows_are_netted() {
    let g = format!("region,start,end,source,mwh\nA,{H0},{H1},coal,100\nB,{H0},{H1},wind,100\n");
    let gross = run(
        &g,
        &format!("from,to,start,end,mwh\nA,B,{H0},{H1},30\nB,A,{H0},{H1},10\n"),
    );
    let net = run(&g, &format!("from,to,start,end,mwh\nA,B,{H0},{H1},20\n"));
    assert_eq!(gross.to_csv(), net.to_csv());
    // B consumes 100 wind + 20 coal: 20·760/120.
    assert!(close(
        row(&net, "B", T0).consumption_direct.unwrap(),
        20.0 * 760.0 / 120.0,
        1e-12
    ));
}

#[test]
fn zero_net_supply_is_a_data_issue_not_nan() {
    // T is pure transit (imports 10, exports 10); Z exports nothing and generates nothing; in the
    // second hour B is missing entirely.
    let g = format!(
        "region,start,end,source,mwh\n\
         A,{H0},{H1},coal,100\n\
         B,{H0},{H1},wind,10\n\
         A,{H1},2022-01-01T02:00:00Z,coal,100\n"
    );
    let x = format!(
        "from,to,start,end,mwh\n\
         A,T,{H0},{H1},10\n\
         T,B,{H0},{H1},10\n\
         Z,B,{H0},{H1},0\n"
    );
    let s = run(&g, &x);
    let t = row(&s, "T", T0);
    assert_eq!(t.consumption_direct, None);
    assert_eq!(t.consumption_lifecycle, None);
    assert_eq!(t.production_direct, None);
    assert_eq!(t.consumption_mwh, 0.0);
    // B still sees A's coal through T: 10 coal + 10 wind.
    assert!(close(
        row(&s, "B", T0).consumption_direct.unwrap(),
        380.0,
        1e-12
    ));
    let kinds = |region: &str, start: i64| {
        s.issues
            .iter()
            .filter(|i| i.region == region && i.start == start)
            .map(|i| i.kind)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        kinds("T", T0),
        [IssueKind::NoGeneration, IssueKind::ZeroNetSupply]
    );
    assert_eq!(
        kinds("Z", T0),
        [IssueKind::NoGeneration, IssueKind::ZeroInflow]
    );
    assert_eq!(kinds("B", T0 + 3600), [IssueKind::NoData]);
    assert_eq!(kinds("A", T0), []);
    let csv = s.to_csv();
    assert!(
        !csv.to_lowercase().contains("nan") && !csv.contains("inf"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("\nT,{H0},{H1},,,,,0.0000\n")),
        "{csv}"
    );
    for r in &s.rows {
        for v in [
            r.production_direct,
            r.production_lifecycle,
            r.consumption_direct,
            r.consumption_lifecycle,
        ]
        .into_iter()
        .flatten()
        .chain([r.consumption_mwh])
        {
            assert!(v.is_finite(), "{r:?}");
        }
    }
}

#[test]
fn negative_net_supply_and_untraceable_loop_are_issues() {
    // X → Y → W → X is a loop with no generation, and W also sends 3 to B: exports exceed
    // supply somewhere (X: in 2, out 5), which is how a generation-free loop can feed anything.
    let g = format!("region,start,end,source,mwh\nB,{H0},{H1},gas,10\n");
    let x = format!(
        "from,to,start,end,mwh\nX,Y,{H0},{H1},5\nY,W,{H0},{H1},4\nW,X,{H0},{H1},2\n\
         W,B,{H0},{H1},3\n"
    );
    let s = run(&g, &x);
    let kinds: Vec<(String, IssueKind)> = s
        .issues
        .iter()
        .filter(|i| i.kind != IssueKind::NoGeneration)
        .map(|i| (i.region.clone(), i.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("B".to_string(), IssueKind::UntraceableImport),
            ("W".to_string(), IssueKind::Untraceable),
            ("X".to_string(), IssueKind::Untraceable),
            ("Y".to_string(), IssueKind::Untraceable),
        ]
    );
    // B's mix is its own gas; the untraceable import is left out.
    assert!(close(
        row(&s, "B", T0).consumption_direct.unwrap(),
        370.0,
        1e-12
    ));
    assert_eq!(row(&s, "X", T0).consumption_mwh, -3.0);
    assert_eq!(row(&s, "Y", T0).consumption_mwh, 1.0);
}

/// Storage discharge at the trailing-24h mix of the region's other generation.
#[test]
fn storage_discharge_at_its_charging_mix() {
    let h2 = "2022-01-01T02:00:00Z";
    let s = run(
        &format!(
            "region,start,end,source,mwh\n\
             A,{H0},{H1},coal,100\n\
             A,{H1},{h2},wind,100\n\
             A,{H1},{h2},Hydro Pumped Storage,10\n\
             S,{H0},{H1},storage_discharge,5\n"
        ),
        "",
    );
    // Window for hour 1 = hours 0 and 1: coal 100 (76 000) + wind 100 (0) → 380 g/kWh direct;
    // lifecycle (82 000 + 1 100)/200 = 415.5. Hour 1: (100·0 + 10·380)/110 direct.
    let r = row(&s, "A", T0 + 3600);
    assert!(close(r.production_direct.unwrap(), 3800.0 / 110.0, 1e-12));
    assert!(close(
        r.production_lifecycle.unwrap(),
        (1100.0 + 10.0 * 415.5) / 110.0,
        1e-12
    ));
    // S has only storage: the table's fallback entry, and a data issue.
    let r = row(&s, "S", T0);
    assert_eq!(r.production_direct, Some(575.0));
    assert!(s
        .issues
        .iter()
        .any(|i| i.region == "S" && i.kind == IssueKind::StorageFallback));
}

/// Calibrate a multi-day synthetic Fujian to the official 2022 factor, 0.4092 tCO2/MWh
/// (Ministry of Ecology and Environment / National Bureau of Statistics, docs/reference/factors.md).
#[test]
fn calibration_reproduces_fujian_2022() {
    let fmt = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let mut g = String::from("region,start,end,source,mwh\n");
    let mut x = String::from("from,to,start,end,mwh\n");
    for h in 0..24 * 7i64 {
        let (s, e) = (fmt(T0 + 3600 * h), fmt(T0 + 3600 * (h + 1)));
        let hod = (h % 24) as f64;
        let sun = ((hod - 6.0) * std::f64::consts::PI / 12.0).sin().max(0.0);
        let load = 2500.0 + 800.0 * ((hod - 14.0) * std::f64::consts::PI / 12.0).cos();
        g += &format!(
            "Fujian,{s},{e},coal,{}\n",
            load * 0.45 + 20.0 * (h % 5) as f64
        );
        g += &format!("Fujian,{s},{e},nuclear,{}\n", 900.0);
        g += &format!("Fujian,{s},{e},hydro,{}\n", 300.0 + 50.0 * (h % 3) as f64);
        g += &format!("Fujian,{s},{e},solar,{}\n", 400.0 * sun);
        g += &format!(
            "Fujian,{s},{e},wind,{}\n",
            150.0 + 100.0 * ((h % 11) as f64 / 10.0)
        );
        g += &format!("Zhejiang,{s},{e},coal,3000\nZhejiang,{s},{e},gas,500\n");
        x += &format!(
            "Fujian,Zhejiang,{s},{e},{}\n",
            100.0 + 10.0 * (h % 4) as f64
        );
    }
    let gen = gen(&g);
    let ex = exch(&x);
    let f = SourceFactors::default_table();
    let plain = compute(&gen, &ex, &f, &Options::default()).unwrap();
    let opts = Options {
        calibrate: vec![("Fujian".into(), 0.4092)],
    };
    let s = compute(&gen, &ex, &f, &opts).unwrap();
    let c = &s.calibrations[0];
    assert_eq!(c.region, "Fujian");
    assert_eq!(c.target, 0.4092);
    assert_eq!(c.intervals, 168);
    assert!(close(c.scale, c.target / c.before, 1e-15));
    assert!((c.after - 0.4092).abs() < 1e-12, "{c:?}");
    assert!(c.scale != 1.0 && c.before > 0.1 && c.before < 0.8, "{c:?}");
    let shown = c.to_string();
    assert!(
        shown.starts_with("Fujian: direct factors x")
            && shown.contains("-> 0.409200 t/MWh, target 0.4092; 168 intervals"),
        "{shown}"
    );
    println!("{shown}");

    // The weighted mean before, recomputed from the uncalibrated series, is the reported one.
    let mean = |s: &Series| {
        let (mut e, mut m) = (0.0, 0.0);
        for r in s.rows.iter().filter(|r| r.region == "Fujian") {
            e += r.consumption_direct.unwrap() * r.consumption_mwh;
            m += r.consumption_mwh;
        }
        e / m / 1000.0
    };
    assert!(close(mean(&plain), c.before, 1e-12));
    // And from the published CSV after calibration: 0.4092 to 4 decimals, in t/MWh.
    let published = Series::parse_csv(&s.to_csv()).unwrap();
    assert_eq!(format!("{:.4}", mean(&published)), "0.4092");
    // Direct columns scaled alike, lifecycle left alone, Zhejiang untouched.
    for (a, b) in plain.rows.iter().zip(&s.rows) {
        let k = if a.region == "Fujian" { c.scale } else { 1.0 };
        assert!(close(
            b.consumption_direct.unwrap(),
            a.consumption_direct.unwrap() * k,
            1e-12
        ));
        assert!(close(
            b.production_direct.unwrap(),
            a.production_direct.unwrap() * k,
            1e-12
        ));
        assert_eq!(a.consumption_lifecycle, b.consumption_lifecycle);
        assert_eq!(a.production_lifecycle, b.production_lifecycle);
    }
}

#[test]
fn calibration_refusals() {
    let g = gen(&format!(
        "region,start,end,source,mwh\nA,{H0},{H1},wind,10\nB,{H0},{H1},coal,5\n"
    ));
    let f = SourceFactors::default_table();
    let err = |region: &str, target: f64| {
        compute(
            &g,
            &[],
            &f,
            &Options {
                calibrate: vec![(region.into(), target)],
            },
        )
        .unwrap_err()
        .to_string()
    };
    assert!(
        err("A", 0.4).contains("mean direct factor is 0"),
        "{}",
        err("A", 0.4)
    );
    assert!(err("Q", 0.4).contains("not in the input"));
    assert!(err("B", 409.2).contains("not g/kWh"));
    assert!(err("B", -1.0).contains("positive"));
}

#[test]
fn csv_round_trip_and_byte_stable() {
    let g = format!(
        "region,start,end,source,mwh\n\
         \"Region, with comma\",{H0},{H1},coal,12.345678\n\
         B,{H0},{H1},gas,1\n\
         B,{H1},2022-01-01T02:00:00Z,wind,3\n"
    );
    let x = format!("from,to,start,end,mwh\n\"Region, with comma\",B,{H0},{H1},2\n");
    let a = run(&g, &x);
    let b = run(&g, &x);
    let csv = a.to_csv();
    assert_eq!(csv, b.to_csv());
    let parsed = Series::parse_csv(&csv).unwrap();
    assert_eq!(parsed.to_csv(), csv);
    assert_eq!(parsed.rows.len(), a.rows.len());
    assert_eq!(
        parsed.regions(),
        vec!["B".to_string(), "Region, with comma".to_string()]
    );
    // Rounded to 4 decimals, nothing else.
    for (p, r) in parsed.rows.iter().zip(&a.rows) {
        assert_eq!(p.region, r.region);
        assert_eq!((p.start, p.end), (r.start, r.end));
        for (u, v) in [
            (p.production_direct, r.production_direct),
            (p.consumption_lifecycle, r.consumption_lifecycle),
        ] {
            assert_eq!(u.is_some(), v.is_some());
            if let (Some(u), Some(v)) = (u, v) {
                assert!((u - v).abs() <= 0.00005);
            }
        }
    }
    assert!(csv.contains("\"Region, with comma\""), "{csv}");
    // factor_at respects half-open intervals.
    assert_eq!(parsed.factor_at("B", T0 + 3599).unwrap().start, T0);
    assert_eq!(parsed.factor_at("B", T0 + 3600).unwrap().start, T0 + 3600);
    assert!(parsed.factor_at("B", T0 + 7200).is_none());
    assert!(parsed.factor_at("B", T0 - 1).is_none());
    assert!(parsed.factor_at("nowhere", T0).is_none());
}

#[test]
fn series_csv_errors_name_line_and_column() {
    let e = Series::parse_csv(&format!(
        "{SERIES_HEADER}\nA,{H0},{H1},1.0,2.0,3.0,4.0,5.0\nA,{H1},x,1,2,3,4,5\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("line 3, column `end`: \"x\""), "{e}");
}

#[test]
fn aliases() {
    let cases = [
        ("Fossil Hard coal", Source::Coal),
        ("fossil brown coal/lignite", Source::Coal),
        ("FOSSIL GAS", Source::Gas),
        ("Fossil Coal-derived gas", Source::Gas),
        ("Fossil Oil", Source::Oil),
        ("Fossil Oil shale", Source::Coal),
        ("Fossil Peat", Source::Coal),
        ("Nuclear", Source::Nuclear),
        ("Hydro Run-of-river and poundage", Source::Hydro),
        ("Hydro Water Reservoir", Source::Hydro),
        ("Hydro Pumped Storage", Source::StorageDischarge),
        (" Wind Onshore ", Source::Wind),
        ("Wind Offshore", Source::Wind),
        ("Solar", Source::Solar),
        ("Biomass", Source::Biomass),
        ("Waste", Source::Biomass),
        ("Geothermal", Source::Geothermal),
        ("Other", Source::Unknown),
        ("Other renewable", Source::Unknown),
        ("Marine", Source::Unknown),
        ("B10", Source::StorageDischarge),
        ("b05", Source::Coal),
        ("COL", Source::Coal),
        ("ng", Source::Gas),
        ("NUC", Source::Nuclear),
        ("OIL", Source::Oil),
        ("SUN", Source::Solar),
        ("WAT", Source::Hydro),
        ("WND", Source::Wind),
        ("OTH", Source::Unknown),
    ];
    for (name, source) in cases {
        assert_eq!(name.parse::<Source>(), Ok(source), "{name}");
    }
    for s in Source::ALL {
        assert_eq!(s.code().parse::<Source>(), Ok(s));
        assert_eq!(Source::ALL[s.index()], s);
    }
    // One table, no name mapped two ways.
    for (i, (a, sa)) in ALIASES.iter().enumerate() {
        for (b, sb) in &ALIASES[i + 1..] {
            assert!(!a.eq_ignore_ascii_case(b) || sa == sb, "{a} / {b}");
        }
    }
    let e = "fusion".parse::<Source>().unwrap_err().to_string();
    assert!(
        e.contains("\"fusion\"") && e.contains("storage_discharge"),
        "{e}"
    );
}

#[test]
fn source_factor_table() {
    let f = SourceFactors::default_table();
    assert_eq!(f.get(Source::Coal), (760.0, 820.0));
    assert_eq!(f.get(Source::Gas), (370.0, 490.0));
    assert_eq!(f.get(Source::Oil), (406.0, 650.0));
    assert_eq!(f.get(Source::Biomass), (0.0, 230.0));
    assert_eq!(f.get(Source::Geothermal), (0.0, 38.0));
    assert_eq!(f.get(Source::Hydro), (0.0, 24.0));
    assert_eq!(f.get(Source::Nuclear), (0.0, 12.0));
    assert_eq!(f.get(Source::Solar), (0.0, 45.0));
    assert_eq!(f.get(Source::Wind), (0.0, 11.0));
    assert_eq!(f.get(Source::Unknown), (575.0, 700.0));
    assert!(f.entry(Source::Coal).provenance.contains("IPCC AR5"));
    assert!(f.entry(Source::Oil).provenance.contains("EIA/BEIS"));

    let g = SourceFactors::parse_csv(
        "source,direct_g_per_kwh,lifecycle_g_per_kwh\nFossil Hard coal,800,900\nNG,350,470\n",
    )
    .unwrap();
    assert_eq!(g.get(Source::Coal), (800.0, 900.0));
    assert_eq!(g.get(Source::Gas), (350.0, 470.0));
    assert_eq!(g.get(Source::Wind), (0.0, 11.0));
    assert_eq!(g.entry(Source::Coal).provenance, "factor CSV line 2");
    let e = SourceFactors::parse_csv(
        "source,direct_g_per_kwh,lifecycle_g_per_kwh\ncoal,800,900\nB05,1,2\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("line 3") && e.contains("already listed on line 2"),
        "{e}"
    );
    let e = SourceFactors::parse_csv("source,direct_g_per_kwh,lifecycle_g_per_kwh\ncoal,-1,2\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2, column `direct_g_per_kwh`: \"-1\""),
        "{e}"
    );
}

#[test]
fn input_errors_name_line_column_and_value() {
    let head = "region,start,end,source,mwh\n";
    let ok = format!("A,{H0},{H1},coal,1\n");
    let err = |line: &str| {
        parse_generation_csv(&format!("{head}{ok}{line}"))
            .unwrap_err()
            .to_string()
    };
    let e = err(&format!("A,{H0},{H1},coal,-3.2\n"));
    assert!(
        e.starts_with("generation CSV line 3, column `mwh`: \"-3.2\" is negative"),
        "{e}"
    );
    let e = err(&format!("A,{H0},{H1},fusion,1\n"));
    assert!(e.contains("line 3, column `source`: \"fusion\""), "{e}");
    let e = err(&format!("A,{H1},{H0},coal,1\n"));
    assert!(
        e.contains("line 3, column `end`") && e.contains("is not after start"),
        "{e}"
    );
    let e = err(&format!("A,2022-01-01 00:00,{H1},coal,1\n"));
    assert!(
        e.contains("line 3, column `start`") && e.contains("RFC 3339"),
        "{e}"
    );
    let e = err(&format!("A,{H0},{H1},coal,lots\n"));
    assert!(
        e.contains("line 3, column `mwh`: \"lots\" is not a number"),
        "{e}"
    );
    let e = err(&format!("A,{H0},2022-01-01T00:30:00Z,coal,1\n"));
    assert!(
        e.contains("line 3") && e.contains("overlaps") && e.contains("line 2"),
        "{e}"
    );
    let e = err(&format!("A,{H0},{H1},coal\n"));
    assert!(e.contains("line 3: has 4 fields; the header has 5"), "{e}");
    let e = parse_generation_csv("region,start,stop,source,mwh\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no column `end`"), "{e}");
    let e = parse_generation_csv("").unwrap_err().to_string();
    assert!(e.contains("empty"), "{e}");
    // Columns in another order and extra columns are fine; offsets convert to UTC.
    let rows = parse_generation_csv(
        "mwh,source,note,region,start,end\n5,Solar,x,A,2022-01-01T08:00:00+08:00,2022-01-01T09:00:00+08:00\n",
    )
    .unwrap();
    assert_eq!(rows[0].start, T0);
    assert_eq!(rows[0].source, Source::Solar);

    let e = parse_exchanges_csv(&format!("from,to,start,end,mwh\nA,A,{H0},{H1},1\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("exchanges CSV line 2, column `to`: \"A\""),
        "{e}"
    );
}

#[test]
fn compute_refuses_inconsistent_rows() {
    let f = SourceFactors::default_table();
    let o = Options::default();
    let row = |start: i64, end: i64, mwh: f64| GenerationRow {
        region: "A".into(),
        start,
        end,
        source: Source::Coal,
        mwh,
    };
    let e = compute(&[row(T0, T0, 1.0)], &[], &f, &o)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("generation row 0") && e.contains("not after start"),
        "{e}"
    );
    let e = compute(&[row(T0, T0 + 1, f64::NAN)], &[], &f, &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a finite number"), "{e}");
    let x = ExchangeRow {
        from: "A".into(),
        to: "B".into(),
        start: T0 + 1800,
        end: T0 + 5400,
        mwh: 1.0,
    };
    let e = compute(&[row(T0, T0 + 3600, 1.0)], &[x], &f, &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("overlap"), "{e}");
}

/// The benchmark entry point the CLI calls, on a small network (the year-long run is
/// `cargo bench -p tanji-factors`; no timing is asserted here).
#[test]
fn bench_runs_small() {
    let cfg = bench::BenchConfig {
        regions: 6,
        hours: 48,
        rounds: 1,
        seed: 7,
    };
    let report = bench::run(&cfg).unwrap();
    assert_eq!(report.generation_rows, 6 * 48 * 6 + 2 * 4 * 2); // 6 sources + evening storage
    assert_eq!(report.issues, 0);
    assert!(report.max_abs_diff < 1e-9, "{report}");
    assert_eq!(report.timings.len(), 7);
    assert!(report.to_string().contains("6 regions x 48 hours"));
    // Same seed, same data.
    let (a, _) = bench::synthetic(&cfg);
    let (b, _) = bench::synthetic(&cfg);
    assert_eq!(a, b);
}
