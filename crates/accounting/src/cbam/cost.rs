//! What is due: the free-allocation adjustment (CBAM factor × EU benchmark), the de minimis
//! exemption, and the certificate-cost estimate.

use serde::{Deserialize, Serialize};

use super::{
    cbam_factor, round, Benchmark, Category, CbamError, DeMinimis, FreeAllocation, DE_MINIMIS_T,
    NOT_MODELLED,
};
use crate::input::NamedFactor;

/// The inputs of a certificate-cost estimate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostInputs {
    /// EU ETS price, EUR per t CO2 (CBAM certificates are priced at the EU ETS auction
    /// clearing price: quarterly averages in 2026, weekly from 2027).
    pub ets_eur_per_t: f64,
    /// Its date and source, e.g. "EU ETS auction clearing price, 2026 Q1 average, EEX".
    pub ets_source: String,
    /// Exchange rate, CNY per EUR.
    pub cny_per_eur: f64,
    /// Its date and source.
    pub exchange_source: String,
    /// Carbon price effectively paid in the country of origin per t of embedded emissions,
    /// CNY/t (China's national ETS price net of free allocation if the installation is
    /// covered, else 0).
    pub origin_cny_per_t: f64,
    /// Its source, or why it is 0.
    pub origin_source: String,
}

/// A CBAM certificate-cost estimate, with every input of the formula.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostEstimate {
    /// Embedded emissions counted under CBAM, g.
    pub counted_g: i64,
    /// The same in t.
    pub counted_t: f64,
    /// The free-allocation adjustment, g (0 when not applied).
    pub free_allocation_g: i64,
    /// Certificates due before the origin price: max(0, counted − adjustment), t.
    pub certificates_t: f64,
    /// Whether the cost is an upper bound (the free-allocation adjustment not applied).
    pub upper_bound: bool,
    /// EU ETS price, EUR/t.
    pub ets_eur_per_t: f64,
    /// Its source.
    pub ets_source: String,
    /// CNY per EUR.
    pub cny_per_eur: f64,
    /// Its source.
    pub exchange_source: String,
    /// Carbon price paid at origin, CNY/t.
    pub origin_cny_per_t: f64,
    /// The same in EUR/t (÷ exchange rate).
    pub origin_eur_per_t: f64,
    /// Its source.
    pub origin_source: String,
    /// max(0, ETS − origin), EUR/t.
    pub net_eur_per_t: f64,
    /// Whether the origin price reached the ETS price (cost capped at zero).
    pub capped_at_zero: bool,
    /// max(0, certificates t × ETS − counted t × origin), EUR, rounded to the cent (without an
    /// adjustment: counted t × net).
    pub cost_eur: f64,
    /// The same in CNY (× exchange rate), rounded to the fen.
    pub cost_cny: f64,
    /// The formula with its numbers.
    pub formula: String,
    /// What the estimate leaves out.
    pub not_modelled: Vec<&'static str>,
}

pub(super) fn check(what: &str, value: f64, positive: bool) -> Result<(), CbamError> {
    let ok = value.is_finite() && if positive { value > 0.0 } else { value >= 0.0 };
    if ok {
        Ok(())
    } else {
        Err(CbamError::Value {
            what: what.to_owned(),
            value,
            reason: if positive {
                "it must be a finite number above zero".to_owned()
            } else {
                "it must be a finite, non-negative number".to_owned()
            },
        })
    }
}

/// `cost = counted t × max(0, ETS price − origin price ÷ CNY per EUR)`, in EUR and CNY
/// (Article 9 of Regulation (EU) 2023/956 lets the carbon price effectively paid in the
/// country of origin reduce the certificates to surrender; it never makes the cost negative),
/// without the free-allocation adjustment: an upper bound. See [`certificate_cost_adjusted`].
pub fn certificate_cost(counted_g: i64, inputs: &CostInputs) -> Result<CostEstimate, CbamError> {
    certificate_cost_adjusted(counted_g, None, inputs)
}

/// The certificate cost with the free-allocation adjustment (Article 31) `free_allocation_g`:
/// `cost = max(0, max(0, counted − adjustment) t × ETS − counted t × origin ÷ CNY per EUR)`
/// (the origin price is paid on the embedded emissions; Article 9). `None` = not applied:
/// the estimate is an upper bound.
pub fn certificate_cost_adjusted(
    counted_g: i64,
    free_allocation_g: Option<i64>,
    inputs: &CostInputs,
) -> Result<CostEstimate, CbamError> {
    check("EU ETS price (EUR/t)", inputs.ets_eur_per_t, false)?;
    check("exchange rate (CNY/EUR)", inputs.cny_per_eur, true)?;
    check(
        "origin carbon price (CNY/t)",
        inputs.origin_cny_per_t,
        false,
    )?;
    if counted_g < 0 {
        return Err(CbamError::Value {
            what: "counted embedded emissions (g)".to_owned(),
            value: counted_g as f64,
            reason: "emissions cannot be negative".to_owned(),
        });
    }
    let t = counted_g as f64 / 1e6;
    let origin_eur = inputs.origin_cny_per_t / inputs.cny_per_eur;
    let raw = inputs.ets_eur_per_t - origin_eur;
    let net = raw.max(0.0);
    let cents = |x: f64| (x * 100.0).round() / 100.0;
    let adjustment = free_allocation_g.unwrap_or(0).max(0);
    let certificates = (counted_g - adjustment).max(0) as f64 / 1e6;
    let (eur, formula_eur) = match free_allocation_g {
        None => (
            t * net,
            format!(
                "{t} t × max(0, {} EUR/t − {} CNY/t ÷ {} CNY/EUR = {:.4} EUR/t)",
                inputs.ets_eur_per_t, inputs.origin_cny_per_t, inputs.cny_per_eur, net
            ),
        ),
        Some(_) => (
            (certificates * inputs.ets_eur_per_t - t * origin_eur).max(0.0),
            format!(
                "max(0, max(0, {t} t − {} t free allocation) = {certificates} t × {} EUR/t − {t} t \
                 × {} CNY/t ÷ {} CNY/EUR)",
                adjustment as f64 / 1e6,
                inputs.ets_eur_per_t,
                inputs.origin_cny_per_t,
                inputs.cny_per_eur
            ),
        ),
    };
    let cost_eur = cents(eur);
    let cost_cny = cents(eur * inputs.cny_per_eur);
    Ok(CostEstimate {
        counted_g,
        counted_t: t,
        free_allocation_g: adjustment,
        certificates_t: certificates,
        upper_bound: free_allocation_g.is_none(),
        ets_eur_per_t: inputs.ets_eur_per_t,
        ets_source: inputs.ets_source.clone(),
        cny_per_eur: inputs.cny_per_eur,
        exchange_source: inputs.exchange_source.clone(),
        origin_cny_per_t: inputs.origin_cny_per_t,
        origin_eur_per_t: origin_eur,
        origin_source: inputs.origin_source.clone(),
        net_eur_per_t: net,
        capped_at_zero: raw <= 0.0,
        cost_eur,
        cost_cny,
        formula: format!("{formula_eur} = {cost_eur:.2} EUR = {cost_cny:.2} CNY"),
        not_modelled: if free_allocation_g.is_none() {
            vec![NOT_MODELLED[3], NOT_MODELLED[4]]
        } else {
            vec![NOT_MODELLED[4]]
        },
    })
}

/// The free-allocation adjustment of `t` tonnes of a good imported in `year` with EU
/// `benchmark`: `benchmark × t × CBAM factor × correction` (Article 31 of Regulation (EU)
/// 2023/956; the CBAM factor of Directive 2003/87/EC Article 10a(1a)).
pub(super) fn free_allocation(
    year: Option<i32>,
    benchmark: Option<&Benchmark>,
    t: f64,
    counted_g: i64,
) -> Result<FreeAllocation, CbamError> {
    if let Some(b) = benchmark {
        check("EU benchmark (t CO2e/t)", b.t_per_t, false)?;
        if let Some(c) = b.cross_sectoral_correction {
            check("cross-sectoral correction factor", c, false)?;
        }
    }
    let factor = year.and_then(cbam_factor);
    let counted_t = counted_g as f64 / 1e6;
    let (adjustment_g, certificates_t, upper_bound, rule) = match (year, factor, benchmark) {
        (None, ..) => (
            0,
            counted_t,
            true,
            "no import year given: the CBAM factor and the free-allocation adjustment are not \
             applied; the certificates (= counted emissions) are an upper bound"
                .to_owned(),
        ),
        (Some(y), None, _) => (
            0,
            0.0,
            false,
            format!(
                "imported in {y}, before the definitive period (2026): reporting only, no \
                 certificates are surrendered"
            ),
        ),
        (Some(y), Some(f), None) => (
            0,
            counted_t,
            true,
            format!(
                "imported in {y} (CBAM factor {:.1}% [unverified]): no EU benchmark given for this product, so \
                 the free-allocation adjustment (benchmark × t × CBAM factor) is not applied; the \
                 certificates (= counted emissions) are an upper bound. Give the benchmark of \
                 its CN code and route from the implementing act, with its source",
                f * 100.0
            ),
        ),
        (Some(y), Some(f), Some(b)) => {
            let c = b.cross_sectoral_correction.unwrap_or(1.0);
            let adj = round(b.t_per_t * t * f * c * 1e6);
            let cert = (counted_g - adj).max(0) as f64 / 1e6;
            (
                adj,
                cert,
                false,
                format!(
                    "imported in {y}: free-allocation adjustment = benchmark {} t/t ({}) × {t} t × \
                     CBAM factor {f} (Directive 2003/87/EC Art. 10a(1a) [unverified against its \
                     text]){} = {:.6} t; certificates due = max(0, {counted_t} − {:.6}) = \
                     {cert:.6} t (before any carbon price paid at origin)",
                    b.t_per_t,
                    b.source,
                    match b.cross_sectoral_correction {
                        Some(c) => format!(" × cross-sectoral correction {c}"),
                        None => " (cross-sectoral correction not given: not applied)".to_owned(),
                    },
                    adj as f64 / 1e6,
                    adj as f64 / 1e6
                ),
            )
        }
    };
    Ok(FreeAllocation {
        import_year: year,
        cbam_factor: factor,
        benchmark: benchmark.cloned(),
        adjustment_g,
        certificates_t,
        upper_bound,
        rule,
    })
}

/// The de minimis position of an importer with `importer_t` t of CBAM goods in the year.
pub(super) fn de_minimis(
    importer_t: Option<&NamedFactor>,
    category: Option<Category>,
) -> Result<DeMinimis, CbamError> {
    let applies = !matches!(
        category,
        Some(Category::Electricity) | Some(Category::Hydrogen)
    );
    if let Some(v) = importer_t {
        check("importer's annual CBAM goods (t)", v.value, false)?;
    }
    let (exempt, rule) = match (applies, importer_t) {
        (false, _) => (
            Some(false),
            "electricity and hydrogen have no de minimis threshold (Regulation (EU) 2025/2083)"
                .to_owned(),
        ),
        (true, None) => (
            None,
            format!(
                "an importer bringing in at most {DE_MINIMIS_T} t net mass of CBAM goods (iron and \
                 steel, aluminium, cement, fertilisers) in a calendar year is exempt (Regulation \
                 (EU) 2025/2083); the importer's total was not given, so the exemption is not \
                 decided here"
            ),
        ),
        (true, Some(v)) if v.value <= DE_MINIMIS_T => (
            Some(true),
            format!(
                "the importer's CBAM goods in the year, {} t ({}), do not exceed {DE_MINIMIS_T} t: \
                 exempt from CBAM obligations (Regulation (EU) 2025/2083); no certificates, no cost",
                v.value, v.source
            ),
        ),
        (true, Some(v)) => (
            Some(false),
            format!(
                "the importer's CBAM goods in the year, {} t ({}), exceed {DE_MINIMIS_T} t: all its \
                 imports of the year are subject to CBAM (Regulation (EU) 2025/2083)",
                v.value, v.source
            ),
        ),
    };
    Ok(DeMinimis {
        threshold_t: DE_MINIMIS_T,
        importer_t: importer_t.map(|v| v.value),
        exempt,
        rule,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn benchmark(t_per_t: f64, correction: Option<f64>) -> Benchmark {
        Benchmark {
            t_per_t,
            cross_sectoral_correction: correction,
            source: "test".to_owned(),
        }
    }

    #[test]
    fn the_adjustment_is_benchmark_times_mass_times_cbam_factor() {
        // 1.0 t/t × 10 t × 0.975 (2026) × 0.9 = 8.775 t; 12 t counted → 3.225 t due.
        let b = benchmark(1.0, Some(0.9));
        let fa = free_allocation(Some(2026), Some(&b), 10.0, 12_000_000).unwrap();
        assert_eq!(
            (fa.adjustment_g, fa.certificates_t, fa.upper_bound),
            (8_775_000, 3.225, false)
        );
        assert_eq!(fa.cbam_factor, Some(0.975));
        // Never below zero.
        let fa = free_allocation(Some(2026), Some(&b), 10.0, 1_000_000).unwrap();
        assert_eq!(fa.certificates_t, 0.0);
        // No benchmark: the counted emissions, an upper bound; before 2026: nothing due.
        let fa = free_allocation(Some(2027), None, 10.0, 12_000_000).unwrap();
        assert_eq!(
            (fa.adjustment_g, fa.certificates_t, fa.upper_bound),
            (0, 12.0, true)
        );
        let fa = free_allocation(Some(2025), Some(&b), 10.0, 12_000_000).unwrap();
        assert_eq!(
            (fa.certificates_t, fa.upper_bound, fa.cbam_factor),
            (0.0, false, None)
        );
        assert!(free_allocation(Some(2026), Some(&benchmark(-1.0, None)), 1.0, 1).is_err());
    }

    #[test]
    fn de_minimis_exempts_up_to_fifty_tonnes_except_electricity_and_hydrogen() {
        let t = |value: f64| NamedFactor {
            value,
            source: "customs".to_owned(),
        };
        let steel = Some(Category::IronAndSteel);
        assert_eq!(
            de_minimis(Some(&t(50.0)), steel).unwrap().exempt,
            Some(true)
        );
        assert_eq!(
            de_minimis(Some(&t(50.5)), steel).unwrap().exempt,
            Some(false)
        );
        assert_eq!(de_minimis(None, steel).unwrap().exempt, None);
        let hydrogen = Some(Category::Hydrogen);
        assert_eq!(
            de_minimis(Some(&t(1.0)), hydrogen).unwrap().exempt,
            Some(false)
        );
    }

    #[test]
    fn the_origin_price_reduces_the_cost_and_never_below_zero() {
        let inputs = CostInputs {
            ets_eur_per_t: 80.0,
            ets_source: "ets".to_owned(),
            cny_per_eur: 8.0,
            exchange_source: "fx".to_owned(),
            origin_cny_per_t: 80.0,
            origin_source: "origin".to_owned(),
        };
        // 2 t × (80 − 80 / 8) EUR/t = 140 EUR = 1120 CNY.
        let c = certificate_cost(2_000_000, &inputs).unwrap();
        assert_eq!((c.cost_eur, c.cost_cny), (140.0, 1_120.0));
        // With 1.5 t free: max(0, 0.5 t × 80 − 2 t × 10) = 20 EUR.
        let c = certificate_cost_adjusted(2_000_000, Some(1_500_000), &inputs).unwrap();
        assert_eq!(c.cost_eur, 20.0);
        let c = certificate_cost_adjusted(2_000_000, Some(2_000_000), &inputs).unwrap();
        assert_eq!(c.cost_eur, 0.0);
        assert!(certificate_cost(-1, &inputs).is_err());
    }
}
