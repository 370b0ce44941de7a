//! Property tests on random small networks: emission balance and bounds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::needless_range_loop,
    missing_docs
)]

use proptest::prelude::*;
use tanji_factors::*;

const T0: i64 = 1_640_995_200;

/// Sources the property networks draw from (storage is tested separately: its factor comes
/// from other intervals).
const SOURCES: [Source; 10] = [
    Source::Coal,
    Source::Gas,
    Source::Oil,
    Source::Nuclear,
    Source::Hydro,
    Source::Wind,
    Source::Solar,
    Source::Biomass,
    Source::Geothermal,
    Source::Unknown,
];

#[derive(Debug, Clone)]
struct Net {
    n: usize,
    /// Per region: (source index, weight) pairs.
    mix: Vec<Vec<(usize, f64)>>,
    /// Per region: local load, MWh (> 0).
    load: Vec<f64>,
    /// Per unordered pair (i < j): flow, positive i → j, negative j → i, 0 none.
    flows: Vec<(usize, usize, f64)>,
}

fn network() -> impl Strategy<Value = Net> {
    (2usize..7).prop_flat_map(|n| {
        let mix = prop::collection::vec(
            prop::collection::vec((0usize..SOURCES.len(), 0.1f64..10.0), 1..4),
            n,
        );
        let load = prop::collection::vec(0.5f64..500.0, n);
        let flows =
            prop::collection::vec(prop_oneof![Just(0.0), -300.0f64..300.0], n * (n - 1) / 2);
        (Just(n), mix, load, flows).prop_map(|(n, mix, load, f)| {
            let mut flows = Vec::new();
            let mut k = 0;
            for i in 0..n {
                for j in i + 1..n {
                    flows.push((i, j, f[k]));
                    k += 1;
                }
            }
            Net {
                n,
                mix,
                load,
                flows,
            }
        })
    })
}

fn name(i: usize) -> String {
    format!("R{i}")
}

/// Rows of the network for one hour; generation = load + exports, so net supply
/// = load + imports > 0.
fn rows(net: &Net, hour: i64) -> (Vec<GenerationRow>, Vec<ExchangeRow>) {
    let (start, end) = (T0 + 3600 * hour, T0 + 3600 * (hour + 1));
    let mut exports = vec![0.0; net.n];
    let mut ex = Vec::new();
    for &(i, j, f) in &net.flows {
        if f == 0.0 {
            continue;
        }
        let (from, to) = if f > 0.0 { (i, j) } else { (j, i) };
        exports[from] += f.abs();
        ex.push(ExchangeRow {
            from: name(from),
            to: name(to),
            start,
            end,
            mwh: f.abs(),
        });
    }
    let mut gen = Vec::new();
    for i in 0..net.n {
        let total = net.load[i] + exports[i];
        let w: f64 = net.mix[i].iter().map(|m| m.1).sum();
        for &(s, weight) in &net.mix[i] {
            gen.push(GenerationRow {
                region: name(i),
                start,
                end,
                source: SOURCES[s],
                mwh: total * weight / w,
            });
        }
    }
    (gen, ex)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn emission_balance_and_bounds(net in network(), hours in 1i64..3) {
        let mut gen = Vec::new();
        let mut ex = Vec::new();
        for h in 0..hours {
            let (g, x) = rows(&net, h);
            gen.extend(g);
            ex.extend(x);
        }
        let f = SourceFactors::default_table();
        let s = compute(&gen, &ex, &f, &Options::default()).unwrap();
        prop_assert!(s.issues.is_empty(), "{:?}", s.issues);
        prop_assert_eq!(s.rows.len(), net.n * hours as usize);

        // Bounds: between the smallest and largest factor of the sources present.
        let present: Vec<(f64, f64)> = gen.iter().map(|g| f.get(g.source)).collect();
        let lo = present.iter().fold((f64::MAX, f64::MAX), |a, p| (a.0.min(p.0), a.1.min(p.1)));
        let hi = present.iter().fold((f64::MIN, f64::MIN), |a, p| (a.0.max(p.0), a.1.max(p.1)));
        let eps = 1e-9;
        for r in &s.rows {
            let (cd, cl) = (r.consumption_direct.unwrap(), r.consumption_lifecycle.unwrap());
            let (pd, pl) = (r.production_direct.unwrap(), r.production_lifecycle.unwrap());
            for (v, l, h) in [(cd, lo.0, hi.0), (pd, lo.0, hi.0), (cl, lo.1, hi.1), (pl, lo.1, hi.1)] {
                prop_assert!(v >= l - eps * (1.0 + l) && v <= h + eps * (1.0 + h), "{v} not in [{l}, {h}]: {r:?}");
            }
        }

        // Emission balance per region and interval:
        // consumed + exported = produced + imported (direct and lifecycle).
        for h in 0..hours {
            let t = T0 + 3600 * h;
            let c = |i: usize| {
                let r = s.factor_at(&name(i), t).unwrap();
                (r.consumption_direct.unwrap(), r.consumption_lifecycle.unwrap(), r.consumption_mwh)
            };
            let mut total_consumed = (0.0, 0.0);
            let mut total_produced = (0.0, 0.0);
            for i in 0..net.n {
                let (cd, cl, load) = c(i);
                let imports: f64 = ex.iter().filter(|x| x.start == t && x.to == name(i)).map(|x| x.mwh).sum();
                let expect = net.load[i] + imports;
                prop_assert!((load - expect).abs() <= 1e-9 * (1.0 + expect), "R{i}: {load} vs {expect}");
                let mut produced = (0.0, 0.0);
                for g in gen.iter().filter(|g| g.region == name(i) && g.start == t) {
                    let (d, l) = f.get(g.source);
                    produced.0 += g.mwh * d;
                    produced.1 += g.mwh * l;
                }
                let (mut imported, mut exported) = ((0.0, 0.0), (0.0, 0.0));
                for x in ex.iter().filter(|x| x.start == t) {
                    if x.to == name(i) {
                        let j = x.from[1..].parse::<usize>().unwrap();
                        let (jd, jl, _) = c(j);
                        imported.0 += x.mwh * jd;
                        imported.1 += x.mwh * jl;
                    }
                    if x.from == name(i) {
                        exported.0 += x.mwh * cd;
                        exported.1 += x.mwh * cl;
                    }
                }
                let consumed = (load * cd, load * cl);
                for (lhs, rhs) in [
                    (consumed.0 + exported.0, produced.0 + imported.0),
                    (consumed.1 + exported.1, produced.1 + imported.1),
                ] {
                    prop_assert!((lhs - rhs).abs() <= 1e-9 * (1.0 + rhs.abs()), "R{i}: {lhs} vs {rhs}");
                }
                total_consumed.0 += consumed.0;
                total_consumed.1 += consumed.1;
                total_produced.0 += produced.0;
                total_produced.1 += produced.1;
            }
            // And over the whole network, consumed = produced.
            prop_assert!((total_consumed.0 - total_produced.0).abs() <= 1e-9 * (1.0 + total_produced.0));
            prop_assert!((total_consumed.1 - total_produced.1).abs() <= 1e-9 * (1.0 + total_produced.1));
        }

        // Same input, same bytes; CSV round trip.
        let csv = s.to_csv();
        prop_assert_eq!(&compute(&gen, &ex, &f, &Options::default()).unwrap().to_csv(), &csv);
        prop_assert_eq!(&Series::parse_csv(&csv).unwrap().to_csv(), &csv);
    }
}
