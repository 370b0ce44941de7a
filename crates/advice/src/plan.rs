//! Plans of one day and of several: what a day is planned on, the plan or why there is none,
//! and the totals of a period.

use serde::Serialize;
use tanji_ledger::NoteVerifier;
use tanji_optimizer::spec::FlexSpec;
use tanji_optimizer::{optimize, rescore, Objective, Outcome, Plan, Tariff};
use tanji_store::Store;
use tanji_units::time::{LocalDate, Zone};

use crate::day::{advice_err, forecast_factors, published_factors, site_day};
use crate::AdviceError;

/// What a day is planned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planning {
    /// The published factors of the day itself (hindsight: what the best plan was).
    Published,
    /// A forecast from the previous days ([`forecast_factors`]), as a plan made the day before;
    /// the plan is then scored on the published factors too.
    Forecast,
}

impl Planning {
    /// `published` or `forecast`.
    pub fn code(self) -> &'static str {
        match self {
            Planning::Published => "published",
            Planning::Forecast => "forecast",
        }
    }
}

/// How days are planned: what can move, at which prices, towards what, on which factors.
#[derive(Debug, Clone)]
pub struct Setup {
    /// What can move.
    pub flex: FlexSpec,
    /// The time-of-use tariff.
    pub tariff: Tariff,
    /// What to minimise.
    pub objective: Objective,
    /// The factor publication (id or name; `None`: the latest).
    pub publication: Option<String>,
    /// Published factors or their forecast.
    pub planning: Planning,
}

impl Setup {
    /// The documented default flexible-load description ([`FlexSpec::default_for_site`]), the
    /// illustrative tariff ([`Tariff::illustrative`]) and the latest publication — what
    /// `tanji optimize` does without `--flex`/`--tariff`/`--publication`, and the server's
    /// advice route always.
    pub fn default_for(objective: Objective, planning: Planning) -> Setup {
        Setup {
            flex: FlexSpec::default_for_site(),
            tariff: Tariff::illustrative(),
            objective,
            publication: None,
            planning,
        }
    }
}

/// A planned day: the factor publication used and the plan, or why there is none.
#[derive(Debug, Clone)]
pub struct DayAdvice {
    /// The local day.
    pub date: LocalDate,
    /// The factor publication id (`name@vN`); empty if the day was refused before one was read.
    pub publication: String,
    /// The plan, or why there is none (the optimiser's reason, or missing data or factors).
    pub plan: Result<Plan, String>,
    /// Planned on a forecast: what it was fitted on.
    pub forecast: Option<String>,
    /// Planned on a forecast: the day's outcomes before and after on the published factors.
    pub realised: Option<(Outcome, Outcome)>,
}

impl DayAdvice {
    /// The day's headline outcomes before and after: on the published factors — the plan's
    /// own when planned on them, the same plan scored on them when planned on a forecast.
    pub fn headline(&self) -> Option<(Outcome, Outcome)> {
        let plan = self.plan.as_ref().ok()?;
        Some(self.realised.unwrap_or((plan.before, plan.after)))
    }
}

/// Plans local day `date` of `enterprise` as `setup` says. Missing data or factors are an
/// error; a day the optimiser finds no plan for is a [`DayAdvice`] without one.
pub fn advise_day<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    enterprise: &str,
    zone: &Zone,
    date: LocalDate,
    setup: &Setup,
) -> Result<DayAdvice, AdviceError> {
    let day = site_day(store, enterprise, zone, date)?;
    let (publication, factors) =
        published_factors(store, verifier, setup.publication.as_deref(), &day, zone)?;
    let actual = setup
        .flex
        .problem(&day, factors, &setup.tariff, setup.objective, zone)?;
    if setup.planning == Planning::Published {
        return Ok(DayAdvice {
            date,
            publication,
            plan: optimize(&actual).map_err(|e| e.to_string()),
            forecast: None,
            realised: None,
        });
    }
    let (_, values, note) = forecast_factors(store, verifier, Some(&publication), zone, date)?;
    let mut planned_on = actual.clone();
    planned_on.factors = values;
    let (plan, realised) = match optimize(&planned_on) {
        Ok(p) => {
            let realised = rescore(&p, &actual).map_err(AdviceError::Rescore)?;
            (Ok(p), Some(realised))
        }
        Err(e) => (Err(e.to_string()), None),
    };
    Ok(DayAdvice {
        date,
        publication,
        plan,
        forecast: Some(note),
        realised,
    })
}

/// What a day without whole-day data or factors becomes in a plan of several days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gaps {
    /// The whole plan fails with the day's error.
    Fail,
    /// The day is refused with the reason ([`AdviceError::refusal`]); the others are planned.
    Refuse,
}

/// Consecutive local days of one enterprise, each planned alone.
#[derive(Debug, Clone)]
pub struct AdvicePlan {
    /// The enterprise.
    pub enterprise: String,
    /// The time zone's name.
    pub zone: String,
    /// The first local day.
    pub first: LocalDate,
    /// What was minimised.
    pub objective: Objective,
    /// Published factors or their forecast.
    pub planning: Planning,
    /// Each day, in order.
    pub days: Vec<DayAdvice>,
}

/// Outcomes summed over days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Sum {
    /// Site consumption, Wh.
    pub consumption_wh: i64,
    /// Grid import, Wh.
    pub import_wh: i64,
    /// PV exported, Wh.
    pub export_wh: i64,
    /// Modelled emissions, g CO2.
    pub emissions_g: i64,
    /// Modelled cost, currency.
    pub cost: f64,
}

impl Sum {
    fn add(&mut self, o: &Outcome) {
        self.consumption_wh += o.consumption_wh;
        self.import_wh += o.import_wh;
        self.export_wh += o.export_wh;
        self.emissions_g += o.emissions_g;
        self.cost += o.cost;
    }
}

/// The totals of a plan of several days, over its planned days.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Days planned.
    pub planned: u32,
    /// Days refused (no plan).
    pub refused: u32,
    /// Energy moved, Wh.
    pub moved_wh: i64,
    /// The plans' own outcomes before and after, on the factors they were made on (the
    /// forecast's own figures when planned on a forecast).
    pub own: (Sum, Sum),
    /// Planned on a forecast: the same plans scored on the published factors.
    pub realised: Option<(Sum, Sum)>,
}

impl Totals {
    /// The headline before and after: on the published factors (realised when planned on a
    /// forecast).
    pub fn headline(&self) -> (Sum, Sum) {
        self.realised.unwrap_or(self.own)
    }
}

impl AdvicePlan {
    /// Plans `days` local days of `enterprise` from `first`, each as `setup` says; a day
    /// without whole-day data or factors fails the plan or is refused, as `gaps` says.
    #[allow(clippy::too_many_arguments)]
    pub fn plan<S: Store>(
        store: &S,
        verifier: &NoteVerifier,
        enterprise: &str,
        zone: &Zone,
        first: LocalDate,
        days: u32,
        setup: &Setup,
        gaps: Gaps,
    ) -> Result<AdvicePlan, AdviceError> {
        let days = (first, days);
        Self::plan_each(
            store,
            verifier,
            enterprise,
            zone,
            days,
            setup,
            gaps,
            &mut |_| {},
        )
    }

    /// [`AdvicePlan::plan`], handing each day to `each` as soon as it is planned (so a long
    /// period shows its days as they come, and those before a failing day are shown).
    #[allow(clippy::too_many_arguments)]
    pub fn plan_each<S: Store>(
        store: &S,
        verifier: &NoteVerifier,
        enterprise: &str,
        zone: &Zone,
        (first, days): (LocalDate, u32),
        setup: &Setup,
        gaps: Gaps,
        each: &mut dyn FnMut(&DayAdvice),
    ) -> Result<AdvicePlan, AdviceError> {
        let mut planned = Vec::new();
        for i in 0..days {
            let date = first
                .add_days(i32::try_from(i).map_err(advice_err)?)
                .map_err(advice_err)?;
            planned.push(
                match advise_day(store, verifier, enterprise, zone, date, setup) {
                    Ok(a) => a,
                    Err(e) => match (gaps, e.refusal()) {
                        (Gaps::Refuse, Some(reason)) => DayAdvice {
                            date,
                            publication: String::new(),
                            plan: Err(reason),
                            forecast: None,
                            realised: None,
                        },
                        _ => return Err(e),
                    },
                },
            );
            if let Some(d) = planned.last() {
                each(d);
            }
        }
        Ok(AdvicePlan {
            enterprise: enterprise.to_string(),
            zone: zone.name().to_string(),
            first,
            objective: setup.objective,
            planning: setup.planning,
            days: planned,
        })
    }

    /// The totals over the planned days.
    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            realised: (self.planning == Planning::Forecast).then(Default::default),
            ..Totals::default()
        };
        for d in &self.days {
            let Ok(plan) = &d.plan else {
                t.refused += 1;
                continue;
            };
            t.planned += 1;
            t.moved_wh += moved_wh(plan);
            t.own.0.add(&plan.before);
            t.own.1.add(&plan.after);
            if let (Some((b, a)), Some(r)) = (&d.realised, t.realised.as_mut()) {
                r.0.add(b);
                r.1.add(a);
            }
        }
        t
    }
}

/// The energy a plan moves, Wh.
pub fn moved_wh(plan: &Plan) -> i64 {
    plan.loads.iter().map(|l| l.moved_wh).sum()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tanji_optimizer::spec::SiteDay;

    use super::*;

    /// A plan of one local day: a load that peaks in the evening, factors lowest at midday.
    fn planned(date: LocalDate) -> DayAdvice {
        let zone = Zone::shanghai();
        let (start, _) = zone.day_bounds(date).unwrap();
        let load_wh: Vec<i64> = (0..96)
            .map(|i| {
                if (68..88).contains(&i) {
                    900_000
                } else {
                    300_000
                }
            })
            .collect();
        let day = SiteDay {
            enterprise: "e-0001".into(),
            start,
            interval_s: 900,
            load_wh,
            pv_wh: vec![0; 96],
            import_limit_wh: None,
        };
        let factors = (0..96)
            .map(|i| if (40..64).contains(&i) { 300.0 } else { 700.0 })
            .collect();
        let setup = Setup::default_for(Objective::Emissions, Planning::Published);
        let p = setup
            .flex
            .problem(&day, factors, &setup.tariff, setup.objective, &zone)
            .unwrap();
        DayAdvice {
            date,
            publication: "fj@v1".into(),
            plan: Ok(optimize(&p).unwrap()),
            forecast: None,
            realised: None,
        }
    }

    fn plan_of(days: Vec<DayAdvice>, planning: Planning) -> AdvicePlan {
        AdvicePlan {
            enterprise: "e-0001".into(),
            zone: "Asia/Shanghai".into(),
            first: days[0].date,
            objective: Objective::Emissions,
            planning,
            days,
        }
    }

    #[test]
    fn totals_sum_the_planned_days_and_count_the_refused() {
        let d1 = LocalDate::parse("2026-03-02").unwrap();
        let a = planned(d1);
        let b = planned(d1.add_days(1).unwrap());
        let refused = DayAdvice {
            plan: Err("missing".into()),
            ..planned(d1.add_days(2).unwrap())
        };
        let (pa, pb) = (a.plan.clone().unwrap(), b.plan.clone().unwrap());
        assert!(
            pa.after.emissions_g < pa.before.emissions_g,
            "the plan cuts"
        );
        let t = plan_of(vec![a, b, refused], Planning::Published).totals();
        assert_eq!((t.planned, t.refused), (2, 1));
        assert_eq!(
            t.own.0.emissions_g,
            pa.before.emissions_g + pb.before.emissions_g
        );
        assert_eq!(
            t.own.1.emissions_g,
            pa.after.emissions_g + pb.after.emissions_g
        );
        assert_eq!(t.own.0.consumption_wh, t.own.1.consumption_wh);
        assert_eq!(t.moved_wh, moved_wh(&pa) + moved_wh(&pb));
        assert_eq!(t.realised, None);
        assert_eq!(t.headline(), t.own);
    }

    #[test]
    fn on_a_forecast_the_headline_is_the_realised_figure() {
        let mut a = planned(LocalDate::parse("2026-03-02").unwrap());
        let p = a.plan.clone().unwrap();
        let mut worse = p.after;
        worse.emissions_g += 1_000;
        a.realised = Some((p.before, worse));
        let t = plan_of(vec![a.clone()], Planning::Forecast).totals();
        assert_eq!(a.headline(), Some((p.before, worse)));
        let (b, f) = t.headline();
        assert_eq!(
            (b.emissions_g, f.emissions_g),
            (p.before.emissions_g, worse.emissions_g)
        );
        assert_eq!(
            t.own.1.emissions_g, p.after.emissions_g,
            "the forecast's own figure"
        );
    }

    #[test]
    fn day_errors_are_refusals_and_log_errors_are_not() {
        let data = AdviceError::Data("no factor".into());
        assert_eq!(data.refusal().as_deref(), Some("no factor"));
        let request = AdviceError::Report(tanji_report::ReportError::Request("unknown".into()));
        assert_eq!(request.refusal().as_deref(), Some("unknown"));
        let log = AdviceError::Report(tanji_report::ReportError::Log("bad root".into()));
        assert_eq!(log.refusal(), None);
    }
}
