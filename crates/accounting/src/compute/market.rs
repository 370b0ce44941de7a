//! Stage: market-based Scope 2. Green certificates and green-power purchases cover grid import
//! (annual or hourly matching); what no instrument covers counts at the residual factor (or
//! the grid's, with a `residual_location` issue); the hourly carbon-free-energy match.

use std::ops::Range;

use super::hours::{Hours, Supply};
use super::location::ImportPoint;
use super::{round_g, Span, HOUR};
use crate::input::{china_residual, Inputs, Matching, NamedFactor, Options, Residual};
use crate::report::{DataIssue, InstrumentUse, IssueKind, Scope2Location, Scope2Market};
use tanji_units::time::local_year;

/// A certificate or purchase and how much of it was applied.
struct Instrument {
    kind: &'static str,
    id: String,
    wh: f64,
    /// Annual: eligible window for the consumption it may cover.
    eligible: Span,
    /// Hourly: delivery window (spread evenly over `spread` seconds), clipped to `eligible`.
    delivery: Span,
    spread: i64,
    applied: f64,
}

/// The market-based figure and the hourly carbon-free-energy match.
pub(super) struct Market {
    pub(super) scope2: Scope2Market,
    /// PV consumed on site + instrument supply matched to import hour by hour, Wh.
    pub(super) cfe_matched_wh: i64,
}

/// What the import no instrument covers counts.
struct Uncovered {
    /// Wh.
    wh: f64,
    /// g at the residual (or grid) factor.
    g: f64,
}

/// The market-based figure over the period's `hours` (their import starting uncovered);
/// `imports` when it is summed interval by interval.
pub(super) fn market(
    inputs: &Inputs,
    opts: &Options,
    hours: &mut Hours,
    imports: Option<&[ImportPoint]>,
    loc: &Scope2Location,
) -> Market {
    let period = Span {
        start: inputs.period_start,
        end: inputs.period_end,
    };
    let residual_factor = residual_factor(inputs, &opts.residual, opts.utc_offset_s);
    let residual = residual_factor.as_ref();
    let mut instruments = instruments(inputs, period);
    deliver(&instruments, hours);
    let cfe = cfe(hours);
    match opts.matching {
        Matching::Hourly => match_hourly(&mut instruments, hours),
        Matching::Annual => match_annual(&mut instruments, hours, period),
    }
    let uncovered = match imports.filter(|_| !instruments.is_empty() || residual.is_none()) {
        Some(imports) => uncovered_by_interval(hours, imports, residual),
        None => {
            debug_assert!(instruments.is_empty());
            uncovered_by_hour(hours, residual)
        }
    };
    let instruments_wh: f64 = instruments.iter().map(|i| i.wh).sum();
    let applied: f64 = instruments.iter().map(|i| i.applied).sum();
    let electricity_g = round_g(uncovered.g);
    let scope2 = Scope2Market {
        matching: opts.matching,
        residual: opts.residual.clone(),
        residual_factor: residual_factor.clone(),
        instruments_wh: instruments_wh.round() as i64,
        applied_wh: applied.round() as i64,
        unused_wh: (instruments_wh - applied).round() as i64,
        uncovered_import_wh: uncovered.wh.round() as i64,
        electricity_g,
        heat_g: loc.heat_g,
        total_g: electricity_g + loc.heat_g,
        instruments: instruments
            .iter()
            .map(|i| InstrumentUse {
                kind: i.kind,
                id: i.id.clone(),
                wh: i.wh.round() as i64,
                applied_wh: i.applied.round() as i64,
            })
            .collect(),
    };
    Market {
        scope2,
        cfe_matched_wh: cfe.round() as i64,
    }
}

/// The certificates, then the purchases, of `inputs`, nothing applied yet.
fn instruments(inputs: &Inputs, period: Span) -> Vec<Instrument> {
    let mut instruments: Vec<Instrument> = Vec::new();
    for c in &inputs.certificates {
        let from = c.valid_from.max(period.start);
        let eligible = Span {
            start: from,
            end: c.valid_until.min(period.end).max(from),
        };
        instruments.push(Instrument {
            kind: "certificate",
            id: c.id.clone(),
            wh: f64::from(c.mwh) * 1e6,
            eligible,
            delivery: Span {
                start: c.generation_start.max(eligible.start),
                end: c.generation_end.min(eligible.end),
            },
            spread: (c.generation_end - c.generation_start).max(1),
            applied: 0.0,
        });
    }
    for p in &inputs.purchases {
        let len = (p.end - p.start).max(1);
        let bought = Span {
            start: p.start,
            end: p.end,
        };
        let inside = bought.overlap(period) as f64 / len as f64;
        instruments.push(Instrument {
            kind: "purchase",
            id: p.id.clone(),
            wh: p.wh as f64,
            // Annual: the in-period share covers import anywhere in the period.
            eligible: if inside > 0.0 {
                period
            } else {
                Span { start: 0, end: 0 }
            },
            delivery: Span {
                start: p.start.max(period.start),
                end: p.end.min(period.end),
            },
            spread: len,
            applied: 0.0,
        });
    }
    instruments
}

/// From the start of the hour `w` starts in to the end of `w` (empty if `w` is inverted).
fn hour_range(w: Span) -> Range<i64> {
    w.start.div_euclid(HOUR) * HOUR..w.end.max(w.start)
}

/// Each instrument's delivery spread evenly over the hours of its delivery window (for
/// hourly matching and the CFE score).
fn deliver(instruments: &[Instrument], hours: &mut Hours) {
    for (i, ins) in instruments.iter().enumerate() {
        if ins.delivery.end <= ins.delivery.start {
            continue;
        }
        let range = hour_range(ins.delivery);
        for (h, agg) in hours.iter_range_mut(range.start, range.end) {
            let o = Span {
                start: h,
                end: h + HOUR,
            }
            .overlap(ins.delivery);
            if o > 0 {
                agg.supply.get_or_insert_with(Box::default).push(Supply {
                    instrument: i,
                    wh: ins.wh * o as f64 / ins.spread as f64,
                });
            }
        }
    }
}

/// Carbon-free energy matched hour by hour: PV consumed on site plus instrument supply up to
/// the hour's import, Wh.
fn cfe(hours: &Hours) -> f64 {
    let mut cfe = 0.0;
    for agg in hours.values() {
        let supply: f64 = agg.supply().iter().map(|s| s.wh).sum();
        let pv_self = (agg.pv_wh - agg.export_wh).max(0) as f64;
        cfe += pv_self + supply.min(agg.import_wh as f64);
    }
    cfe
}

/// Hourly matching: each hour's supply covers that hour's import, shared by the instruments
/// in proportion to what they deliver.
fn match_hourly(instruments: &mut [Instrument], hours: &mut Hours) {
    for agg in hours.values_mut() {
        let supply: f64 = agg.supply().iter().map(|s| s.wh).sum();
        let covered = supply.min(agg.import_wh as f64);
        if supply > 0.0 {
            for s in agg.supply() {
                instruments[s.instrument].applied += s.wh * covered / supply;
            }
        }
        agg.uncovered = agg.import_wh as f64 - covered;
    }
}

/// Annual matching: instruments in order of the end of their eligible window (then id), each
/// covering the same share of every open hour of its window.
fn match_annual(instruments: &mut [Instrument], hours: &mut Hours, period: Span) {
    let mut order: Vec<usize> = (0..instruments.len()).collect();
    order.sort_by(|&a, &b| {
        (instruments[a].eligible.end, &instruments[a].id)
            .cmp(&(instruments[b].eligible.end, &instruments[b].id))
    });
    for i in order {
        let (w, amount) = (instruments[i].eligible, instruments[i].wh);
        let amount = if instruments[i].kind == "purchase" {
            let len = instruments[i].spread;
            amount * instruments[i].delivery.overlap(period) as f64 / len as f64
        } else {
            amount
        };
        if w.end <= w.start {
            continue;
        }
        let range = hour_range(w);
        let open: f64 = hours
            .iter_range(range.start, range.end)
            .filter(|&(h, _)| h >= w.start && h < w.end)
            .map(|(_, a)| a.uncovered)
            .sum();
        if open <= 0.0 {
            continue;
        }
        let r = (amount / open).min(1.0);
        for (h, agg) in hours.iter_range_mut(range.start, range.end) {
            if h >= w.start && h < w.end {
                agg.uncovered -= agg.uncovered * r;
            }
        }
        instruments[i].applied += open * r;
    }
}

/// The uncovered import interval by interval: each interval's share of its hour's uncovered
/// import, at its own g (grid) or the residual factor.
fn uncovered_by_interval(
    hours: &Hours,
    imports: &[ImportPoint],
    residual: Option<&NamedFactor>,
) -> Uncovered {
    let (mut g, mut wh) = (0.0, 0.0);
    for p in imports {
        let Some(agg) = hours.get(p.t.div_euclid(HOUR) * HOUR) else {
            continue;
        };
        if agg.import_wh <= 0 {
            continue;
        }
        let rest = agg.uncovered / agg.import_wh as f64;
        wh += p.wh as f64 * rest;
        g += match residual {
            None => p.g as f64 * rest,
            Some(f) => p.wh as f64 * rest * f.value / 1000.0,
        };
    }
    Uncovered { wh, g }
}

/// The uncovered import without instruments, from the hours' sums. Every hour's share
/// uncovered is exactly 1 then (`uncovered` = `import_wh`), so the sums are of the intervals'
/// whole Wh and g, exact in f64 (the caller checked they stay below 2^53): the same as
/// [`uncovered_by_interval`]. A constant residual factor applies to the uncovered total once.
fn uncovered_by_hour(hours: &Hours, residual: Option<&NamedFactor>) -> Uncovered {
    let (mut wh, mut g) = (0i64, 0i64);
    for agg in hours.values().filter(|a| a.import_wh > 0) {
        wh += agg.import_wh;
        g += agg.import_g;
    }
    Uncovered {
        wh: wh as f64,
        g: match residual {
            None => g as f64,
            Some(f) => wh as f64 * f.value / 1000.0,
        },
    }
}

/// The factor of uncovered import in the market-based figure: `None` = each interval's own
/// grid factor.
fn residual_factor(inputs: &Inputs, residual: &Residual, utc_offset_s: i32) -> Option<NamedFactor> {
    match residual {
        Residual::Grid => None,
        Residual::Fixed(f) => Some(f.clone()),
        Residual::ChinaExcludingTraded => {
            let first = local_year(inputs.period_start, utc_offset_s);
            let last = local_year(inputs.period_end - 1, utc_offset_s);
            let mut f = china_residual(first);
            if last != first {
                f.source.push_str(&format!(
                    " (the period runs into {last}; the factor of its first year applies \
                     throughout)"
                ));
            }
            Some(f)
        }
    }
}

/// The `residual_location` issue: uncovered import at the location-based factor, and what the
/// default residual (China, excluding market-traded non-fossil power) would count instead.
pub(super) fn residual_location_issue(
    inputs: &Inputs,
    opts: &Options,
    market: &Scope2Market,
) -> DataIssue {
    let default = residual_factor(inputs, &Residual::ChinaExcludingTraded, opts.utc_offset_s);
    let alt_g = default.as_ref().map_or(0, |f| {
        round_g(market.uncovered_import_wh as f64 * f.value / 1000.0)
    });
    DataIssue {
        kind: IssueKind::ResidualLocation,
        meter: None,
        start: inputs.period_start,
        end: inputs.period_end,
        intervals: 0,
        quantity_milli: market.uncovered_import_wh.saturating_mul(1000),
        effect_g: alt_g - market.electricity_g,
        message: format!(
            "the market-based figure counts {:.3} MWh of grid import no instrument covers at the \
             location-based grid factor: the green power others bought is counted again (GHG \
             Protocol Scope 2 Guidance: use a residual mix, the grid average only with \
             disclosure). At the default residual, {} g/kWh ({}), it would be {:.6} tCO2 ({:+.6} \
             t). Set residual to china_excluding_traded or a named residual mix",
            market.uncovered_import_wh as f64 / 1e6,
            default.as_ref().map_or(0.0, |f| f.value),
            default.as_ref().map_or("", |f| f.source.as_str()),
            alt_g as f64 / 1e6,
            (alt_g - market.electricity_g) as f64 / 1e6
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::inputs;
    use super::*;
    use crate::input::Certificate;
    use crate::report::{Scope2Location, Scope2Market};

    /// Two hours of 600 000 Wh import at 100 g/kWh (60 000 g each), as the location-based
    /// stage leaves them.
    fn two_hours() -> (Hours, Vec<ImportPoint>) {
        let mut hours = Hours::new(0, HOUR);
        for h in hours.slots.iter_mut() {
            (h.present, h.import_wh, h.import_g) = (true, 600_000, 60_000);
            h.uncovered = 600_000.0;
        }
        let imports = (0..2)
            .map(|i| ImportPoint {
                t: i * HOUR,
                wh: 600_000,
                g: 60_000,
            })
            .collect();
        (hours, imports)
    }

    /// A 1 MWh certificate generated in `[0, generated_until)`, valid over both hours, against
    /// the two hours, the rest at a residual 500 g/kWh.
    fn one_certificate(matching: Matching, generated_until: i64) -> Market {
        let mut i = inputs(0, 2 * HOUR, Vec::new());
        i.certificates.push(Certificate {
            id: "c".to_owned(),
            mwh: 1,
            generation_start: 0,
            generation_end: generated_until,
            valid_from: 0,
            valid_until: 2 * HOUR,
        });
        let opts = Options {
            matching,
            residual: Residual::Fixed(NamedFactor {
                value: 500.0,
                source: "test".to_owned(),
            }),
            ..Options::default()
        };
        let (mut hours, imports) = two_hours();
        let loc = location();
        market(&i, &opts, &mut hours, Some(&imports), &loc)
    }

    fn location() -> Scope2Location {
        Scope2Location {
            import_wh: 1_200_000,
            electricity_g: 120_000,
            export_wh: 0,
            export_g: 0,
            exports_netted: false,
            pv_generation_wh: 0,
            pv_self_consumed_wh: 0,
            consumption_wh: 1_200_000,
            heat: Vec::new(),
            heat_g: 7,
            total_g: 120_007,
        }
    }

    fn figures(m: &Scope2Market) -> (i64, i64, i64, i64, i64) {
        (
            m.applied_wh,
            m.unused_wh,
            m.uncovered_import_wh,
            m.electricity_g,
            m.total_g,
        )
    }

    #[test]
    fn annual_matching_covers_import_anywhere_in_the_window() {
        // 1 MWh of 1.2 MWh covered; 0.2 MWh at 500 g/kWh = 100 000 g (+ 7 g heat).
        let m = one_certificate(Matching::Annual, HOUR);
        assert_eq!(
            figures(&m.scope2),
            (1_000_000, 0, 200_000, 100_000, 100_007)
        );
        // Delivered in the first hour only: 600 000 Wh of it matches import that hour.
        assert_eq!(m.cfe_matched_wh, 600_000);
    }

    #[test]
    fn hourly_matching_covers_only_the_hours_of_delivery() {
        // Generated in the first hour: 600 000 Wh applied, 400 000 unused, the second hour's
        // 600 000 Wh uncovered at 500 g/kWh = 300 000 g.
        let m = one_certificate(Matching::Hourly, HOUR);
        assert_eq!(
            figures(&m.scope2),
            (600_000, 400_000, 600_000, 300_000, 300_007)
        );
        // Spread over both hours: 500 000 Wh each, all applied.
        let m = one_certificate(Matching::Hourly, 2 * HOUR);
        assert_eq!(
            figures(&m.scope2),
            (1_000_000, 0, 200_000, 100_000, 100_007)
        );
        assert_eq!(m.cfe_matched_wh, 1_000_000);
    }

    #[test]
    fn without_instruments_hour_sums_count_at_the_grid_factor() {
        let i = inputs(0, 2 * HOUR, Vec::new());
        let opts = Options {
            residual: Residual::Grid,
            ..Options::default()
        };
        let (mut hours, _) = two_hours();
        let m = market(&i, &opts, &mut hours, None, &location());
        assert_eq!(figures(&m.scope2), (0, 0, 1_200_000, 120_000, 120_007));
        assert_eq!(m.scope2.residual_factor, None);
        let issue = residual_location_issue(&i, &opts, &m.scope2);
        assert_eq!(issue.kind, IssueKind::ResidualLocation);
        assert_eq!(issue.quantity_milli, 1_200_000_000);
    }
}
