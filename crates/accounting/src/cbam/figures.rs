//! Per product: the electricity figures (precise, country default, actual under a link or
//! PPA), the CBAM figures (what counts, SEE, free allocation, de minimis, cost) and the
//! product carbon footprint beside them.

use super::allocate::Product;
use super::annex::CnClass;
use super::cost::{certificate_cost_adjusted, de_minimis, free_allocation};
use super::{
    round, ActualElectricity, AllocationParts, Category, CbamError, CbamFigures, Electricity,
    FactorBasis, Footprint, HourlyEffect, ProductInputs, ProductResult, SupplyLink,
};
use crate::METHOD;

/// What the per-product figures share.
pub(super) struct Context<'a> {
    pub(super) pi: &'a ProductInputs,
    /// Share of the grid import a declared link/PPA covers.
    pub(super) coverage: Option<f64>,
    /// The factor series of the precise figure.
    pub(super) factor_series: &'a str,
    /// Whether sources were allocated by line.
    pub(super) by_line: bool,
}

/// The electricity a declared link/PPA covers in a product's share, and its CBAM figure.
#[derive(Clone, Copy)]
struct Actual<'a> {
    /// g: covered Wh at the actual factor, the rest at the country default.
    g: i64,
    covered_wh: i64,
    link: &'a ActualElectricity,
    coverage: f64,
}

/// The result of product `p` (made in the period).
pub(super) fn result(p: &Product, ctx: &Context<'_>) -> Result<ProductResult, CbamError> {
    let t = p.kg / 1000.0;
    let cls = p.class.clone();
    let direct_g = round(p.amount.direct);
    let (electricity, precise_text) = electricity(p, ctx);
    let cbam = cbam_figures(p, direct_g, &electricity, ctx)?;
    let footprint = footprint(direct_g, &electricity, cbam.as_ref(), &precise_text, t, ctx);
    Ok(ProductResult {
        product: p.name.clone(),
        cn: cls,
        kg: round(p.kg),
        lines: p.lines.iter().cloned().collect(),
        direct_g,
        electricity,
        allocation: AllocationParts {
            line_g: round(p.parts.line),
            line_idle_g: round(p.parts.idle),
            shared_g: round(p.parts.shared),
        },
        cbam,
        footprint,
    })
}

/// A product's electricity at the precise, default and (with a link/PPA) actual factors,
/// which one CBAM uses and why; and the precise factor in words.
fn electricity(p: &Product, ctx: &Context<'_>) -> (Electricity, String) {
    let pi = ctx.pi;
    let default = pi.country_default.value;
    let wh = p.amount.wh;
    let precise_g = round(p.amount.elec_g);
    let default_g = round(wh * default / 1000.0);
    let precise_factor = (wh > 0.0).then(|| p.amount.elec_g / wh * 1000.0);
    let actual = pi
        .actual_electricity
        .as_ref()
        .zip(ctx.coverage)
        .map(|(a, c)| {
            let covered = wh * c;
            Actual {
                g: round(covered * a.factor.value / 1000.0 + (wh - covered) * default / 1000.0),
                covered_wh: round(covered),
                link: a,
                coverage: c,
            }
        });
    let (cbam_basis, cbam_g) = match actual {
        Some(a) => (FactorBasis::Actual, a.g),
        None => (FactorBasis::CountryDefault, default_g),
    };
    let precise_text = match precise_factor {
        Some(f) => format!("{f:.1} g/kWh on this product's electricity"),
        None => "no electricity".to_owned(),
    };
    let mut why = why(actual.as_ref(), &precise_text, pi);
    let cls = &p.class;
    if cls.cbam_good && !cls.indirect_emissions_count {
        why.push_str(&format!(
            " For {} goods indirect emissions do not count (Annex II): the figure is shown for \
             information only.",
            cls.category.map_or("these", Category::name)
        ));
    }
    let electricity = Electricity {
        wh: round(wh),
        precise_g,
        precise_g_per_kwh: precise_factor,
        default_g,
        default_factor: pi.country_default.clone(),
        actual_g: actual.map(|a| a.g),
        actual_covered_wh: actual.map(|a| a.covered_wh),
        cbam_basis,
        cbam_g,
        why,
    };
    (electricity, precise_text)
}

/// Why CBAM uses the factor it uses for a product's electricity.
fn why(actual: Option<&Actual<'_>>, precise_text: &str, pi: &ProductInputs) -> String {
    let default = pi.country_default.value;
    match actual {
        Some(Actual {
            covered_wh,
            link: a,
            coverage: c,
            ..
        }) => format!(
            "A {} ({}, generator {}) is declared: Annex IV of Regulation (EU) 2023/956 allows \
             the actual factor {} g/kWh ({}) for the electricity it covers, {:.1}% of the \
             enterprise's grid import ({:.3} MWh of this product's); the rest stays at the \
             country default {} g/kWh ({}). tanji's precise interval factor ({precise_text}) \
             is not a CBAM factor: it is used for the product footprint.",
            match a.link {
                SupplyLink::DirectTechnicalLink => "direct technical link",
                SupplyLink::PowerPurchaseAgreement => "power purchase agreement",
            },
            a.id,
            a.generator,
            a.factor.value,
            a.factor.source,
            c * 100.0,
            *covered_wh as f64 / 1e6,
            default,
            pi.country_default.source
        ),
        None => format!(
            "No direct technical link or power purchase agreement is declared, so CBAM uses the \
             country-of-origin default factor {} g/kWh ({}) (Annex IV of Regulation (EU) \
             2023/956). tanji's precise interval factor ({precise_text}) may not replace it \
             for CBAM; it is used for the product footprint.",
            default, pi.country_default.source
        ),
    }
}

/// The CBAM figures of a product that is a CBAM good (other than electricity): what counts,
/// SEE, free allocation, de minimis, what the hourly factor changes, and the cost.
fn cbam_figures(
    p: &Product,
    direct_g: i64,
    e: &Electricity,
    ctx: &Context<'_>,
) -> Result<Option<CbamFigures>, CbamError> {
    let (cls, pi) = (&p.class, ctx.pi);
    if !cls.cbam_good || cls.category == Some(Category::Electricity) {
        return Ok(None);
    }
    let t = p.kg / 1000.0;
    let counts = cls.cbam_good && cls.indirect_emissions_count;
    let indirect_g = if counts { e.cbam_g } else { 0 };
    let counted_g = direct_g + indirect_g;
    let free_allocation =
        free_allocation(pi.import_year, pi.benchmarks.get(&p.name), t, counted_g)?;
    let de_minimis = de_minimis(pi.importer_annual_t.as_ref(), cls.category)?;
    let hourly_effect = hourly_effect(
        cls,
        counts,
        e.precise_g,
        e.default_g,
        e.cbam_g,
        pi.country_default.value,
    );
    let cost = match (&pi.cost, de_minimis.exempt, free_allocation.cbam_factor) {
        (None, ..) | (_, Some(true), _) => None,
        // Before 2026 (transitional period) no certificates are surrendered.
        (Some(_), _, None) if free_allocation.import_year.is_some() => None,
        (Some(c), ..) => Some(certificate_cost_adjusted(
            counted_g,
            (!free_allocation.upper_bound).then_some(free_allocation.adjustment_g),
            c,
        )?),
    };
    Ok(Some(CbamFigures {
        indirect_counted: counts,
        direct_g,
        indirect_g,
        counted_g,
        see_direct_t_per_t: direct_g as f64 / 1e6 / t,
        see_indirect_t_per_t: e.cbam_g as f64 / 1e6 / t,
        see_t_per_t: counted_g as f64 / 1e6 / t,
        rule: format!(
            "SEE = attributed emissions / activity level (Annex IV point 2, simple goods); \
             {}",
            cls.category.map_or("", Category::indirect_rule)
        ),
        free_allocation,
        de_minimis,
        hourly_effect,
        cost,
    }))
}

/// The product carbon footprint at the precise factor, and how it differs from the CBAM
/// figure.
fn footprint(
    direct_g: i64,
    e: &Electricity,
    cbam: Option<&CbamFigures>,
    precise_text: &str,
    t: f64,
    ctx: &Context<'_>,
) -> Footprint {
    let (by_line, cbam_basis) = (ctx.by_line, e.cbam_basis);
    let precise_g = e.precise_g;
    let total_g = direct_g + precise_g;
    let cbam_counted_g = cbam.map(|c| c.counted_g);
    let difference_g = cbam_counted_g.map(|c| total_g - c).filter(|&d| d != 0);
    let mut basis = format!(
        "precise: direct emissions (fuels by GB/T 32150-2015, purchased heat and steam, process \
         emissions given) + grid electricity at each interval's own factor from series {} \
         ({precise_text}), allocated {}; method {METHOD}",
        ctx.factor_series,
        if by_line {
            "by production line and interval, by mass"
        } else {
            "by mass share over the period"
        },
    );
    match (cbam, difference_g) {
        (Some(c), Some(d)) => basis.push_str(&format!(
            ". Not the CBAM figure ({:.3} t counted, {} electricity factor{}): they differ by \
             {:.3} t",
            c.counted_g as f64 / 1e6,
            match cbam_basis {
                FactorBasis::CountryDefault => "country default",
                FactorBasis::Actual => "actual (link/PPA)",
            },
            if c.indirect_counted {
                ""
            } else {
                ", indirect not counted"
            },
            d as f64 / 1e6
        )),
        (Some(_), None) => basis.push_str(". Equal to the CBAM figure"),
        (None, _) => {}
    }
    Footprint {
        direct_g,
        indirect_g: precise_g,
        total_g,
        t_per_t: total_g as f64 / 1e6 / t,
        basis,
        cbam_counted_g,
        difference_g,
    }
}

/// What the hourly grid factor, and a declared link/PPA, change in a CBAM figure.
fn hourly_effect(
    cls: &CnClass,
    counts: bool,
    precise_g: i64,
    default_g: i64,
    cbam_g: i64,
    default_factor: f64,
) -> HourlyEffect {
    let t = |g: i64| g as f64 / 1e6;
    let precise_vs_cbam_g = precise_g - cbam_g;
    let link_g = if counts { cbam_g - default_g } else { 0 };
    let name = cls.category.map_or("these", Category::name);
    let elsewhere = format!(
        "The precise figure (each interval's own grid factor) differs from the CBAM electricity \
         figure by {:+.3} t: it matters for product footprints given to customers (ISO 14067), \
         buyers' Scope 3 disclosures and hourly green-power matching, not for the CBAM \
         certificates.",
        t(precise_vs_cbam_g)
    );
    let text = if !counts {
        format!(
            "For {name} goods indirect emissions do not count under CBAM (Annex II of Regulation \
             (EU) 2023/956): neither the hourly factor nor the fixed one changes this CBAM figure \
             (0 t). {elsewhere}"
        )
    } else if link_g == 0 && cbam_g == default_g {
        format!(
            "For {name} goods indirect emissions count at the country-of-origin default factor \
             ({default_factor} g/kWh) unless a direct technical link or PPA qualifies; none is \
             declared, so the hourly factor does not change this CBAM figure (0 t). {elsewhere}"
        )
    } else {
        format!(
            "A declared direct technical link or PPA moves the counted indirect emissions from the \
             country default to the generator's actual factor on the covered share: {:+.3} t \
             against the default. tanji's hourly grid factor itself still does not enter the \
             CBAM figure (0 t). {elsewhere}",
            t(link_g)
        )
    };
    HourlyEffect {
        hourly_g: 0,
        link_g,
        precise_vs_cbam_g,
        text,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeSet;

    use super::super::allocate::{Amount, Parts};
    use super::super::annex::classify;
    use super::super::testing::product_inputs;
    use super::*;
    use crate::input::NamedFactor;

    /// 2 t of `cn` with 1 t direct and 1 MWh at a precise 400 g/kWh.
    fn product(cn: &str) -> Product {
        Product {
            name: "p".to_owned(),
            class: classify(cn).unwrap(),
            kg: 2_000.0,
            lines: BTreeSet::new(),
            amount: Amount {
                direct: 1_000_000.0,
                wh: 1_000_000.0,
                elec_g: 400_000.0,
            },
            parts: Parts::default(),
        }
    }

    fn context(pi: &ProductInputs, coverage: Option<f64>) -> Context<'_> {
        Context {
            pi,
            coverage,
            factor_series: "s",
            by_line: false,
        }
    }

    #[test]
    fn cement_counts_its_electricity_at_the_country_default() {
        let pi = product_inputs(Vec::new());
        let r = result(&product("2523 29 00"), &context(&pi, None)).unwrap();
        // 1 MWh × 500 g/kWh = 0.5 t counted; the precise 0.4 t goes to the footprint.
        let e = &r.electricity;
        assert_eq!(
            (e.precise_g, e.default_g, e.cbam_g),
            (400_000, 500_000, 500_000)
        );
        assert_eq!(e.cbam_basis, FactorBasis::CountryDefault);
        let c = r.cbam.as_ref().unwrap();
        assert_eq!(
            (c.direct_g, c.indirect_g, c.counted_g),
            (1_000_000, 500_000, 1_500_000)
        );
        assert_eq!(c.see_t_per_t, 0.75);
        assert_eq!(c.hourly_effect.precise_vs_cbam_g, -100_000);
        assert_eq!(
            (r.footprint.total_g, r.footprint.difference_g),
            (1_400_000, Some(-100_000))
        );
        assert_eq!(r.footprint.t_per_t, 0.7);
    }

    #[test]
    fn a_link_moves_its_covered_share_to_the_actual_factor() {
        let mut pi = product_inputs(Vec::new());
        pi.actual_electricity = Some(ActualElectricity {
            link: SupplyLink::PowerPurchaseAgreement,
            id: "ppa".to_owned(),
            generator: "wind".to_owned(),
            wh: 1,
            factor: NamedFactor {
                value: 0.0,
                source: "meter".to_owned(),
            },
        });
        // Half the import covered at 0 g/kWh, half at 500: 250 000 g.
        let r = result(&product("2523 29 00"), &context(&pi, Some(0.5))).unwrap();
        let e = &r.electricity;
        assert_eq!(
            (e.actual_g, e.actual_covered_wh, e.cbam_g),
            (Some(250_000), Some(500_000), 250_000)
        );
        assert_eq!(e.cbam_basis, FactorBasis::Actual);
        assert_eq!(r.cbam.unwrap().hourly_effect.link_g, -250_000);
    }

    #[test]
    fn aluminium_counts_direct_emissions_only_and_other_goods_have_no_cbam_figure() {
        let pi = product_inputs(Vec::new());
        let r = result(&product("7601 10 00"), &context(&pi, None)).unwrap();
        let c = r.cbam.unwrap();
        assert!(!c.indirect_counted);
        assert_eq!((c.indirect_g, c.counted_g), (0, 1_000_000));
        assert!(r
            .electricity
            .why
            .contains("indirect emissions do not count (Annex II)"));
        let r = result(&product("0101 21 00"), &context(&pi, None)).unwrap();
        assert!(r.cbam.is_none());
        assert_eq!(r.footprint.difference_g, None);
    }
}
