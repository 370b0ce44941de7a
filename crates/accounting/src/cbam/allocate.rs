//! Allocation: production records → products and lines; metered intervals and process
//! emissions → sources; each source to the products made on its line in its interval (by
//! mass), to the line's products over the period when the line was idle, or to all products
//! by mass when it belongs to no line.

use std::collections::{BTreeMap, BTreeSet};

use tanji_units::Carrier;

use super::annex::{classify, spaced, CnClass};
use super::{CbamError, ProductInputs, ProductTotals, ProductionRecord};
use crate::report::IntervalEmission;

pub(super) fn overlap(a: (i64, i64), b: (i64, i64)) -> i64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0)
}

/// Emissions of one source interval (or a product's share of them).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Amount {
    /// Direct emissions (fuels, heat and steam, process), g.
    pub(super) direct: f64,
    /// Grid electricity, Wh.
    pub(super) wh: f64,
    /// Grid electricity at each interval's own factor, g.
    pub(super) elec_g: f64,
}

impl Amount {
    fn add(&mut self, o: Amount, share: f64) {
        self.direct += o.direct * share;
        self.wh += o.wh * share;
        self.elec_g += o.elec_g * share;
    }
    fn g(&self) -> f64 {
        self.direct + self.elec_g
    }
}

/// Where a product's emissions came from, g.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Parts {
    /// From its lines while it was made.
    pub(super) line: f64,
    /// From its lines while they made nothing.
    pub(super) idle: f64,
    /// Shared by mass over all products.
    pub(super) shared: f64,
}

/// Which part of [`Parts`] an allocation adds to.
#[derive(Clone, Copy)]
enum Bucket {
    Line,
    Idle,
    Shared,
}

/// One product: what it is, how much was made in the period, where, and the emissions
/// allocated to it.
pub(super) struct Product {
    pub(super) name: String,
    pub(super) class: CnClass,
    /// kg made inside the period.
    pub(super) kg: f64,
    /// The lines it was made on.
    pub(super) lines: BTreeSet<String>,
    pub(super) amount: Amount,
    pub(super) parts: Parts,
}

/// A product's share of an amount: kg of product `product` (an index of the products).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Share {
    pub(super) product: usize,
    pub(super) kg: f64,
}

/// One record on a line: `[start, end)`, product index, kg per second.
struct Slot {
    start: i64,
    end: i64,
    product: usize,
    kg_per_s: f64,
}

#[derive(Default)]
struct Line {
    slots: Vec<Slot>,
    max_len: i64,
    /// kg per product over the period.
    kg: BTreeMap<usize, f64>,
}

impl Line {
    /// kg per product made on the line in `[a, b)`.
    fn made_in(&self, a: i64, b: i64) -> Vec<Share> {
        let from = self.slots.partition_point(|s| s.start < a - self.max_len);
        let mut out: Vec<Share> = Vec::new();
        for s in self.slots[from..].iter().take_while(|s| s.start < b) {
            let o = overlap((a, b), (s.start, s.end));
            if o > 0 {
                let kg = s.kg_per_s * o as f64;
                match out.iter_mut().find(|e| e.product == s.product) {
                    Some(e) => e.kg += kg,
                    None => out.push(Share {
                        product: s.product,
                        kg,
                    }),
                }
            }
        }
        out
    }
}

/// Emissions in `[start, end)`, of a line or of none.
pub(super) struct Source<'a> {
    pub(super) line: Option<&'a str>,
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) amount: Amount,
}

/// The products of the production records, in order of first appearance, and the lines
/// they were made on.
pub(super) struct Production<'a> {
    pub(super) products: Vec<Product>,
    lines: BTreeMap<&'a str, Line>,
}

impl<'a> Production<'a> {
    /// Products and lines of `records`, clipped to `period`; a note for each record outside
    /// it. A record must have a non-empty interval, a non-negative mass and a CN code
    /// [`classify`] accepts, the same for every record of a product.
    pub(super) fn new(
        records: &'a [ProductionRecord],
        period: (i64, i64),
        notes: &mut Vec<String>,
    ) -> Result<Production<'a>, CbamError> {
        let mut products: Vec<Product> = Vec::new();
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        let mut lines: BTreeMap<&str, Line> = BTreeMap::new();
        for (i, rec) in records.iter().enumerate() {
            let class = check_record(i, rec)?;
            let p = match index.get(rec.product.as_str()) {
                Some(&p) => {
                    if products[p].class.cn_code != class.cn_code {
                        return Err(CbamError::CnConflict {
                            product: rec.product.clone(),
                            first: spaced(&products[p].class.cn_code),
                            other: spaced(&class.cn_code),
                            index: i,
                        });
                    }
                    p
                }
                None => {
                    index.insert(&rec.product, products.len());
                    products.push(Product {
                        name: rec.product.clone(),
                        class,
                        kg: 0.0,
                        lines: BTreeSet::new(),
                        amount: Amount::default(),
                        parts: Parts::default(),
                    });
                    products.len() - 1
                }
            };
            let len = rec.end - rec.start;
            let inside = overlap((rec.start, rec.end), period);
            if inside == 0 {
                notes.push(format!(
                    "production record {i} ({}, {} kg, {}..{}) lies outside the period: not counted",
                    rec.product, rec.kg, rec.start, rec.end
                ));
                continue;
            }
            let kg_per_s = rec.kg as f64 / len as f64;
            products[p].kg += kg_per_s * inside as f64;
            if let Some(line) = &rec.line {
                products[p].lines.insert(line.clone());
                let l = lines.entry(line).or_default();
                let (s, e) = (rec.start.max(period.0), rec.end.min(period.1));
                l.slots.push(Slot {
                    start: s,
                    end: e,
                    product: p,
                    kg_per_s,
                });
                l.max_len = l.max_len.max(e - s);
                *l.kg.entry(p).or_default() += kg_per_s * inside as f64;
            }
        }
        for l in lines.values_mut() {
            l.slots.sort_by_key(|s| (s.start, s.end, s.product));
        }
        Ok(Production { products, lines })
    }

    /// Every product made in the period, by its mass.
    pub(super) fn by_mass(&self) -> Vec<Share> {
        self.products
            .iter()
            .enumerate()
            .filter(|(_, p)| p.kg > 0.0)
            .map(|(product, p)| Share { product, kg: p.kg })
            .collect()
    }

    /// Allocates `sources` to the products (`all`: every product by mass, for what belongs
    /// to no line); returns the lines with sources but no production record.
    pub(super) fn allocate<'s>(
        &mut self,
        sources: &[Source<'s>],
        all: &[Share],
    ) -> BTreeSet<&'s str> {
        let mut shared = Amount::default();
        let mut idle: BTreeMap<&str, Amount> = BTreeMap::new();
        let mut lines_without_production: BTreeSet<&str> = BTreeSet::new();
        for src in sources {
            match src.line.map(|l| (l, self.lines.get(l))) {
                Some((name, Some(l))) => {
                    let made = l.made_in(src.start, src.end);
                    if made.iter().any(|m| m.kg > 0.0) {
                        distribute(&mut self.products, &made, src.amount, Bucket::Line);
                    } else {
                        idle.entry(name).or_default().add(src.amount, 1.0);
                    }
                }
                Some((name, None)) => {
                    lines_without_production.insert(name);
                    shared.add(src.amount, 1.0);
                }
                None => shared.add(src.amount, 1.0),
            }
        }
        for (name, amount) in &idle {
            if let Some(l) = self.lines.get(name) {
                let shares: Vec<Share> =
                    l.kg.iter()
                        .map(|(&product, &kg)| Share { product, kg })
                        .collect();
                distribute(&mut self.products, &shares, *amount, Bucket::Idle);
            }
        }
        distribute(&mut self.products, all, shared, Bucket::Shared);
        lines_without_production
    }

    /// Notes on the line mapping: lines with meters but no production, and (with a map)
    /// lines without meters and mapped meters without data.
    pub(super) fn line_notes(
        &self,
        lines_without_production: &BTreeSet<&str>,
        pi: &ProductInputs,
        intervals: &[IntervalEmission],
        notes: &mut Vec<String>,
    ) {
        for name in lines_without_production {
            notes.push(format!(
                "line {name} has mapped meters but no production in the period: its emissions are \
                 shared by mass over all products"
            ));
        }
        if pi.meter_lines.is_empty() {
            return;
        }
        let metered: BTreeSet<&str> = pi.meter_lines.values().map(String::as_str).collect();
        for name in self.lines.keys().filter(|l| !metered.contains(*l)) {
            notes.push(format!(
                "line {name} has production but no meter mapped to it: its products get only \
                 shared emissions"
            ));
        }
        let seen: BTreeSet<&str> = intervals.iter().map(|i| i.meter.as_str()).collect();
        for m in pi.meter_lines.keys().filter(|m| !seen.contains(m.as_str())) {
            notes.push(format!(
                "meter {m} is mapped to line {} but has no fuel, heat or grid-import data in the \
                 period",
                pi.meter_lines[m]
            ));
        }
    }
}

/// The class of production record `i`, if its interval, mass and CN code are valid.
fn check_record(i: usize, rec: &ProductionRecord) -> Result<CnClass, CbamError> {
    let bad = |reason: String| CbamError::Record {
        index: i,
        product: rec.product.clone(),
        reason,
    };
    if rec.end <= rec.start {
        return Err(bad(format!(
            "interval {}..{} is empty; the end must be after the start",
            rec.start, rec.end
        )));
    }
    if rec.kg < 0 {
        return Err(bad(format!("mass {} kg is negative", rec.kg)));
    }
    classify(&rec.cn_code).map_err(|e| bad(e.to_string()))
}

/// The sources: every metered interval (grid import as electricity, the rest direct) on its
/// meter's line, then the process emissions (their in-period share) on theirs; the process
/// total into `totals`, a note for each only partly inside the period.
pub(super) fn sources<'a>(
    intervals: &[IntervalEmission],
    pi: &'a ProductInputs,
    period: (i64, i64),
    totals: &mut ProductTotals,
    notes: &mut Vec<String>,
) -> Result<Vec<Source<'a>>, CbamError> {
    let by_line = !pi.meter_lines.is_empty();
    let mut sources: Vec<Source<'a>> = intervals
        .iter()
        .map(|iv| {
            let amount = if iv.carrier == Carrier::ElectricityImport {
                Amount {
                    direct: 0.0,
                    wh: iv.wh as f64,
                    elec_g: iv.g,
                }
            } else {
                Amount {
                    direct: iv.g,
                    ..Amount::default()
                }
            };
            Source {
                line: pi.meter_lines.get(&iv.meter).map(String::as_str),
                start: iv.start,
                end: iv.end,
                amount,
            }
        })
        .collect();
    for pe in &pi.process {
        if pe.end <= pe.start || pe.g < 0 {
            return Err(CbamError::Process {
                id: pe.id.clone(),
                reason: format!(
                    "needs a non-empty interval and non-negative g (got {}..{}, {} g)",
                    pe.start, pe.end, pe.g
                ),
            });
        }
        let inside = overlap((pe.start, pe.end), period);
        let g = pe.g as f64 * inside as f64 / (pe.end - pe.start) as f64;
        if inside < pe.end - pe.start {
            notes.push(format!(
                "process emission {}: only the {:.1}% inside the period counted",
                pe.id,
                inside as f64 / (pe.end - pe.start) as f64 * 100.0
            ));
        }
        totals.process_g += super::round(g);
        sources.push(Source {
            line: if by_line { pe.line.as_deref() } else { None },
            start: pe.start.max(period.0),
            end: pe.end.min(period.1).max(pe.start.max(period.0)),
            amount: Amount {
                direct: g,
                ..Amount::default()
            },
        });
    }
    Ok(sources)
}

/// Adds `amount` to the products of `shares`, each by its share of their mass.
fn distribute(products: &mut [Product], shares: &[Share], amount: Amount, bucket: Bucket) {
    let total: f64 = shares.iter().map(|s| s.kg).sum();
    if total <= 0.0 {
        return;
    }
    for s in shares {
        let share = s.kg / total;
        let p = &mut products[s.product];
        p.amount.add(amount, share);
        let g = amount.g() * share;
        match bucket {
            Bucket::Line => p.parts.line += g,
            Bucket::Idle => p.parts.idle += g,
            Bucket::Shared => p.parts.shared += g,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::testing::{product_inputs, record};
    use super::super::ProcessEmission;
    use super::*;

    const CEMENT: &str = "2523 29 00";
    const PERIOD: (i64, i64) = (0, 10_800);

    fn direct(g: f64) -> Amount {
        Amount {
            direct: g,
            ..Amount::default()
        }
    }

    fn source(line: Option<&str>, start: i64, end: i64, g: f64) -> Source<'_> {
        Source {
            line,
            start,
            end,
            amount: direct(g),
        }
    }

    #[test]
    fn records_become_products_with_their_mass_inside_the_period() {
        let records = vec![
            record("a", CEMENT, 100, Some("L1"), 0, 3_600),
            record("b", CEMENT, 300, Some("L1"), 3_600, 7_200),
            // Half inside the period.
            record("a", CEMENT, 50, None, 9_000, 12_600),
            record("c", CEMENT, 5, None, 20_000, 30_000),
        ];
        let mut notes = Vec::new();
        let p = Production::new(&records, PERIOD, &mut notes).unwrap();
        let kg: Vec<f64> = p.products.iter().map(|p| p.kg).collect();
        assert_eq!(kg, [125.0, 300.0, 0.0]);
        assert_eq!(
            p.by_mass(),
            [
                Share {
                    product: 0,
                    kg: 125.0
                },
                Share {
                    product: 1,
                    kg: 300.0
                }
            ]
        );
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with("production record 3 (c, 5 kg"),
            "{}",
            notes[0]
        );
    }

    #[test]
    fn a_product_keeps_one_cn_code_and_a_record_needs_a_span() {
        let records = vec![
            record("a", CEMENT, 1, None, 0, 10),
            record("a", "7601 10 00", 1, None, 0, 10),
        ];
        let e = Production::new(&records, PERIOD, &mut Vec::new())
            .err()
            .unwrap();
        assert!(matches!(e, CbamError::CnConflict { index: 1, .. }), "{e}");
        let records = vec![record("a", CEMENT, 1, None, 10, 10)];
        let e = Production::new(&records, PERIOD, &mut Vec::new())
            .err()
            .unwrap();
        assert!(matches!(e, CbamError::Record { index: 0, .. }), "{e}");
    }

    #[test]
    fn sources_go_to_the_line_when_it_runs_to_its_products_when_idle_else_to_all() {
        let records = vec![
            record("a", CEMENT, 100, Some("L1"), 0, 3_600),
            record("b", CEMENT, 300, Some("L1"), 3_600, 7_200),
        ];
        let mut p = Production::new(&records, PERIOD, &mut Vec::new()).unwrap();
        let all = p.by_mass();
        let sources = [
            // While a is made: all to a.
            source(Some("L1"), 0, 3_600, 1_000.0),
            // L1 idle: by the line's mass over the period, 1:3.
            source(Some("L1"), 7_200, 10_800, 1_000.0),
            // No line, and a line without production: by all mass, 1:3.
            source(None, 0, 3_600, 200.0),
            source(Some("L2"), 0, 3_600, 200.0),
        ];
        let without = p.allocate(&sources, &all);
        assert_eq!(without.into_iter().collect::<Vec<_>>(), ["L2"]);
        let parts: Vec<Parts> = p.products.iter().map(|p| p.parts).collect();
        let want = |line, idle, shared| Parts { line, idle, shared };
        assert_eq!(
            parts,
            [want(1_000.0, 250.0, 100.0), want(0.0, 750.0, 300.0)]
        );
        assert_eq!(p.products[0].amount.direct, 1_350.0);
    }

    #[test]
    fn a_process_emission_counts_its_share_inside_the_period() {
        let mut pi = product_inputs(Vec::new());
        pi.process.push(ProcessEmission {
            id: "kiln".to_owned(),
            line: Some("L1".to_owned()),
            start: 5_400,
            end: 16_200,
            g: 1_000,
            source: "test".to_owned(),
        });
        let mut totals = ProductTotals {
            fuel_g: 0,
            heat_g: 0,
            heat_rule: "",
            process_g: 0,
            direct_g: 0,
            electricity_wh: 0,
            electricity_precise_g: 0,
            kg: 0,
        };
        let mut notes = Vec::new();
        let s = sources(&[], &pi, PERIOD, &mut totals, &mut notes).unwrap();
        // Half of it inside; no meter→line map, so on no line.
        assert_eq!(totals.process_g, 500);
        assert_eq!(
            (s[0].line, s[0].start, s[0].end, s[0].amount),
            (None, 5_400, 10_800, direct(500.0))
        );
        assert_eq!(
            notes,
            ["process emission kiln: only the 50.0% inside the period counted"]
        );
    }
}
