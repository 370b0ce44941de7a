//! Stage: Scope 1, fuel combustion (GB/T 32150-2015: AD = NCV × FC, EF = CC × OF × 44/12):
//! each fuel meter's quantity through its fuel table's row, biogenic fuels apart, gas volumes
//! at their reference conditions.

use tanji_units::Dimension;

use super::series::Filled;
use super::{issues, round_g, Span, Tally};
use crate::fuels::{Fuel, FuelLookupError, FuelTable, GasReference, MeterFuel, NcvBasis};
use crate::input::{Inputs, Options};
use crate::report::{DataIssue, FuelLine, GasVolume, IssueKind};
use crate::AccountingError;

/// The fuel table and row of fuel meter `f`: its entry in `Options::meter_fuels`, else the
/// series' fuel, else the carrier's default in the default table.
fn resolve<'o>(
    f: &Filled<'_>,
    opts: &'o Options,
    choice: Option<&MeterFuel>,
) -> Result<(&'o FuelTable, &'o Fuel), AccountingError> {
    opts.fuels
        .resolve(
            f.carrier,
            choice.and_then(|c| c.table.as_deref()),
            choice.and_then(|c| c.fuel.as_deref()).or(f.fuel),
        )
        .map_err(|e| match e {
            FuelLookupError::UnknownTable(table) => AccountingError::UnknownFuelTable {
                meter: f.meter.to_owned(),
                table,
            },
            FuelLookupError::UnknownFuel { table, fuel } => AccountingError::UnknownFuel {
                meter: f.meter.to_owned(),
                fuel,
                table,
            },
        })
}

/// Adds fuel meter `f` to Scope 1 (each interval's fossil g into `eff` when it is not
/// empty), with its issues: `unconvertible`, `default_density`, `gas_reference_assumed`.
pub(super) fn fuel(
    f: &Filled<'_>,
    inputs: &Inputs,
    opts: &Options,
    eff: &mut [f64],
    tally: &mut Tally,
) -> Result<(), AccountingError> {
    let total: i64 = f.sum(0..f.len);
    let choice = opts.meter_fuels.get(f.meter);
    let (table, fuel) = resolve(f, opts, choice)?;
    // Gas by volume: m3 at the meter's stated conditions → normal m3 (the NCV's).
    let gas_reference = (f.unit.dimension() == Dimension::Volume
        && fuel.ncv_basis == NcvBasis::GjPer10kNm3)
        .then(|| choice.and_then(|c| c.gas_reference));
    let to_normal = gas_reference.flatten().map_or(1.0, GasReference::to_normal);
    let Some((gj_1000, default_density)) = fuel.activity_gj(1_000_000, f.unit) else {
        tally.issues.push(issues::unconvertible(
            f,
            total,
            &format!(
                "fuel {} has NCV per {:?} and no density for {}; add density_kg_per_l to the fuel table",
                fuel.id, fuel.ncv_basis, f.unit
            ),
        ));
        return Ok(());
    };
    let gj_per_milli = gj_1000 / 1_000_000.0 * to_normal;
    let ef = fuel.ef_t_per_gj();
    let g_per_milli = gj_per_milli * ef * 1e6;
    let gj = total as f64 * gj_per_milli;
    let g = round_g(total as f64 * g_per_milli);
    if !eff.is_empty() {
        f.each(|k, milli| {
            eff[k] = if fuel.biogenic {
                0.0
            } else {
                milli as f64 * g_per_milli
            };
        });
    }
    if fuel.biogenic {
        tally.scope1.biogenic_g += g;
    } else {
        tally.scope1.fossil_g += g;
    }
    tally.energy.fuel_gj += gj;
    // A default density turns nothing into nothing when no fuel was used: no note.
    if default_density && total != 0 {
        let issue = default_density_issue(f, fuel, total, g, inputs);
        tally.issues.push(issue);
    }
    let gas_volume = gas_reference
        .map(|stated| gas_volume(f, fuel, stated, total, g, inputs, &mut tally.issues));
    tally.scope1.lines.push(FuelLine {
        meter: f.meter.to_owned(),
        carrier: f.carrier,
        fuel: fuel.id.clone(),
        table: table.id.clone(),
        quantity_milli: total,
        unit: f.unit,
        ncv: fuel.ncv,
        ncv_basis: fuel.ncv_basis,
        density_kg_per_l: default_density.then_some(fuel.density_kg_per_l).flatten(),
        activity_mj: (gj * 1000.0).round() as i64,
        carbon_tc_per_tj: fuel.carbon_tc_per_tj,
        oxidation: fuel.oxidation,
        ef_t_per_gj: ef,
        emissions_g: g,
        biogenic: fuel.biogenic,
        source: fuel.source.clone(),
        verified: fuel.verified,
        gas_volume,
    });
    Ok(())
}

/// The reporting period of `inputs`.
fn period(inputs: &Inputs) -> Span {
    Span {
        start: inputs.period_start,
        end: inputs.period_end,
    }
}

/// The `default_density` issue of a fuel meter whose volume became mass at the fuel table's
/// default density: the whole line (`g`) depends on it.
fn default_density_issue(
    f: &Filled<'_>,
    fuel: &Fuel,
    total: i64,
    g: i64,
    inputs: &Inputs,
) -> DataIssue {
    DataIssue {
        kind: IssueKind::DefaultDensity,
        meter: Some(f.meter.to_owned()),
        start: if f.len > 0 {
            f.t(0)
        } else {
            inputs.period_start
        },
        end: if f.len > 0 {
            f.t(f.len - 1) + f.interval_s
        } else {
            inputs.period_end
        },
        intervals: f.len as u64,
        quantity_milli: total,
        effect_g: if fuel.biogenic { 0 } else { g },
        message: format!(
            "meter {}: {} {} of {} turned into mass at the default density {} kg/L ({}); \
             the whole line depends on it: supply the delivery note's density",
            f.meter,
            total as f64 / 1000.0,
            f.unit,
            fuel.id,
            fuel.density_kg_per_l.unwrap_or(0.0),
            fuel.density_source.as_deref().unwrap_or("no source")
        ),
    }
}

/// A gas meter's volume at its conditions and in normal m3; when the meter states none, a
/// `gas_reference_assumed` issue with what 20 °C m3 would change.
fn gas_volume(
    f: &Filled<'_>,
    fuel: &Fuel,
    stated: Option<GasReference>,
    total: i64,
    g: i64,
    inputs: &Inputs,
    issues: &mut Vec<DataIssue>,
) -> GasVolume {
    let reference = stated.unwrap_or(GasReference::Normal);
    let to_normal = reference.to_normal();
    let normal = (total as f64 * to_normal).round() as i64;
    let note = match stated {
        Some(r) => format!(
            "{:.3} m3 at {} = {:.3} normal m3 (× {:.5} = 273.15 / (273.15 + t) × p / 101.325), \
                     the basis of the table's NCV",
            total as f64 / 1000.0,
            r.describe(),
            normal as f64 / 1000.0,
            to_normal
        ),
        None => {
            let at20 = GasReference::Standard20C.to_normal();
            let over = g - round_g(g as f64 * at20);
            let span = f.span().unwrap_or(period(inputs));
            issues.push(DataIssue {
                kind: IssueKind::GasReferenceAssumed,
                meter: Some(f.meter.to_owned()),
                start: span.start,
                end: span.end,
                intervals: f.len as u64,
                quantity_milli: total,
                effect_g: over,
                message: format!(
                    "meter {}: {:.3} m3 of {} with no stated reference conditions, taken as normal \
                     m3 (0 °C, 101.325 kPa, the table's basis); if they are 20 °C m3 (the usual \
                     billing basis) the line is {:.1}% high, {:.6} tCO2. State the meter's \
                     gas_reference at registration or in the enterprise inputs",
                    f.meter,
                    total as f64 / 1000.0,
                    fuel.id,
                    (1.0 / at20 - 1.0) * 100.0,
                    over as f64 / 1e6
                ),
            });
            format!(
                "{:.3} m3, reference conditions not stated: taken as normal m3 (0 °C, 101.325 \
                     kPa); see the gas_reference_assumed issue",
                total as f64 / 1000.0
            )
        }
    };
    GasVolume {
        reference,
        stated: stated.is_some(),
        to_normal,
        normal_m3_milli: normal,
        note,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tanji_units::{Carrier, Unit};

    use super::super::series::{prepare, Clip};
    use super::super::testing::{inputs, series};
    use super::*;

    /// Fuel meter `carrier` in `unit`, one hourly value of `milli`, through the stage.
    fn run(
        carrier: Carrier,
        unit: Unit,
        milli: i64,
        opts: &Options,
    ) -> Result<Tally, AccountingError> {
        let s = series("f", carrier, unit, 0, 3_600, vec![Some(milli)]);
        let i = inputs(0, 3_600, vec![s.clone()]);
        let f = prepare(&s, Clip { first: 0, last: 1 }, opts);
        let mut tally = Tally::new(opts);
        let mut eff = vec![0.0];
        fuel(&f, &i, opts, &mut eff, &mut tally)?;
        assert_eq!(eff[0].round() as i64, tally.scope1.fossil_g);
        Ok(tally)
    }

    #[test]
    fn diesel_by_volume_goes_through_the_default_density() {
        // 1000 L × 0.84 kg/L = 0.84 t × 42.652 GJ/t = 35.82768 GJ; EF = 20.2 tC/TJ × 0.98 ×
        // 44/12 = 0.0725853 t/GJ: 2 600 564 g.
        let t = run(Carrier::Diesel, Unit::L, 1_000_000, &Options::default()).unwrap();
        assert_eq!(t.scope1.fossil_g, 2_600_564);
        assert!(
            (t.energy.fuel_gj - 35.82768).abs() < 1e-9,
            "{}",
            t.energy.fuel_gj
        );
        let line = &t.scope1.lines[0];
        assert_eq!(
            (line.fuel.as_str(), line.density_kg_per_l),
            ("diesel", Some(0.84))
        );
        assert_eq!(t.issues[0].kind, IssueKind::DefaultDensity);
        assert_eq!(t.issues[0].effect_g, 2_600_564);
    }

    #[test]
    fn gas_without_reference_conditions_is_taken_as_normal_m3_with_an_issue() {
        // 10 000 m3 at 389.31 GJ per 10^4 Nm3 × 15.3 tC/TJ × 0.99 × 44/12: 21 621 888 g.
        let t = run(
            Carrier::NaturalGas,
            Unit::M3,
            10_000_000,
            &Options::default(),
        )
        .unwrap();
        assert_eq!(t.scope1.fossil_g, 21_621_888);
        assert_eq!(t.issues[0].kind, IssueKind::GasReferenceAssumed);
        // Were they 20 °C m3: × 273.15/293.15 = 20 146 746 g, 1 475 142 g less.
        assert_eq!(t.issues[0].effect_g, 21_621_888 - 20_146_746);
        let gas = t.scope1.lines[0].gas_volume.as_ref().unwrap();
        assert!(!gas.stated);
        // Stated as 20 °C m3: fewer normal m3, no issue.
        let mut opts = Options::default();
        opts.meter_fuels.insert(
            "f".to_owned(),
            MeterFuel {
                gas_reference: Some(GasReference::Standard20C),
                ..MeterFuel::default()
            },
        );
        let t = run(Carrier::NaturalGas, Unit::M3, 10_000_000, &opts).unwrap();
        assert_eq!(t.scope1.fossil_g, 20_146_746);
        assert!(t.issues.is_empty());
    }

    #[test]
    fn an_unknown_fuel_table_is_refused_with_the_meter() {
        let mut opts = Options::default();
        opts.meter_fuels.insert(
            "f".to_owned(),
            MeterFuel {
                table: Some("nope".to_owned()),
                ..MeterFuel::default()
            },
        );
        let e = run(Carrier::Diesel, Unit::L, 1, &opts).err().unwrap();
        assert_eq!(
            e,
            AccountingError::UnknownFuelTable {
                meter: "f".to_owned(),
                table: "nope".to_owned()
            }
        );
    }
}
