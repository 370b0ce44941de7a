//! Time-of-use tariffs: prices by local-time period (valley, flat, peak, critical peak),
//! optionally by month, turned into one price per interval through `tanji_units::time`.

use serde::{Deserialize, Serialize};

use tanji_units::time::{self as local, TimeError, Zone};

/// A tariff period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// 低谷: the cheapest hours.
    Valley,
    /// 平段: the shoulder.
    Flat,
    /// 高峰: the expensive hours.
    Peak,
    /// 尖峰: critical peak, on top of peak in some months.
    CriticalPeak,
}

impl PeriodKind {
    /// `valley`, `flat`, `peak`, `critical_peak`.
    pub const fn code(self) -> &'static str {
        match self {
            PeriodKind::Valley => "valley",
            PeriodKind::Flat => "flat",
            PeriodKind::Peak => "peak",
            PeriodKind::CriticalPeak => "critical_peak",
        }
    }
}

/// Energy prices per period, currency per kWh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    /// Valley price.
    pub valley: f64,
    /// Flat price.
    pub flat: f64,
    /// Peak price.
    pub peak: f64,
    /// Critical-peak price (needed only if a period uses it).
    #[serde(default)]
    pub critical_peak: Option<f64>,
}

/// One rule: `kind` applies from `from` to `to` local time (`"22:00"`–`"08:00"` wraps past
/// midnight), in the listed months (all months if empty). Later rules override earlier ones,
/// so a critical-peak rule is listed after the peak it sits on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeriodRule {
    /// The period.
    pub kind: PeriodKind,
    /// Start, `HH:MM` local.
    pub from: String,
    /// End (exclusive), `HH:MM` local.
    pub to: String,
    /// Months 1–12 it applies in; empty = every month.
    #[serde(default)]
    pub months: Vec<u8>,
}

/// A time-of-use tariff for grid imports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tariff {
    /// What it is called.
    pub name: String,
    /// Where its numbers come from.
    #[serde(default)]
    pub source: String,
    /// IANA zone its clock times are in.
    #[serde(default = "default_zone")]
    pub zone: String,
    /// Currency of the prices (display only).
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Prices per period.
    pub prices: Prices,
    /// The period rules.
    pub periods: Vec<PeriodRule>,
}

fn default_zone() -> String {
    local::DEFAULT_ZONE.to_string()
}

fn default_currency() -> String {
    "CNY".to_string()
}

/// Why a tariff cannot price an interval.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TariffError {
    /// A clock time or the zone is malformed.
    #[error("tariff {tariff:?}: {source}")]
    Time {
        /// The tariff.
        tariff: String,
        /// The time error.
        #[source]
        source: TimeError,
    },
    /// No rule covers an interval.
    #[error("tariff {tariff:?} has no period covering {clock} local time in month {month}; add a rule that covers it")]
    Uncovered {
        /// The tariff.
        tariff: String,
        /// `HH:MM`.
        clock: String,
        /// Month 1–12.
        month: u8,
    },
    /// A price is missing, negative or not finite.
    #[error("tariff {tariff:?}: the {kind} price {price:?} is missing, negative or not a number; give it in {currency}/kWh")]
    BadPrice {
        /// The tariff.
        tariff: String,
        /// The period.
        kind: &'static str,
        /// The price given.
        price: Option<f64>,
        /// The currency.
        currency: String,
    },
}

impl Tariff {
    /// One price all day, every day.
    pub fn flat(price: f64) -> Tariff {
        Tariff {
            name: format!("flat {price} CNY/kWh"),
            source: "a single price, for comparison".into(),
            zone: default_zone(),
            currency: default_currency(),
            prices: Prices {
                valley: price,
                flat: price,
                peak: price,
                critical_peak: None,
            },
            periods: vec![PeriodRule {
                kind: PeriodKind::Flat,
                from: "00:00".into(),
                to: "24:00".into(),
                months: Vec::new(),
            }],
        }
    }

    /// An ILLUSTRATIVE industrial time-of-use tariff shaped like Chinese provincial schedules
    /// (valley 23:00–07:00; peak 10:00–12:00 and 15:00–20:00; flat otherwise; critical peak
    /// 11:00–12:00 and 16:00–17:00 in July–September). Its prices keep the ratios of the
    /// NDRC's 2021 notice on time-of-use pricing (发改价格〔2021〕1093号: peak-to-valley at
    /// least 3:1, critical peak at least 20% above peak) around a 0.62 CNY/kWh flat price.
    /// It is not any utility's published tariff: pass your own with `--tariff`.
    pub fn illustrative() -> Tariff {
        let rule = |kind, from: &str, to: &str, months: &[u8]| PeriodRule {
            kind,
            from: from.into(),
            to: to.into(),
            months: months.to_vec(),
        };
        Tariff {
            name: "illustrative industrial TOU (not a published tariff)".into(),
            source: "illustrative; ratios after NDRC 发改价格〔2021〕1093号 (peak:valley >= 3:1, critical peak >= peak + 20%)".into(),
            zone: default_zone(),
            currency: default_currency(),
            prices: Prices {
                valley: 0.30,
                flat: 0.62,
                peak: 0.99,
                critical_peak: Some(1.19),
            },
            periods: vec![
                rule(PeriodKind::Flat, "00:00", "24:00", &[]),
                rule(PeriodKind::Valley, "23:00", "07:00", &[]),
                rule(PeriodKind::Peak, "10:00", "12:00", &[]),
                rule(PeriodKind::Peak, "15:00", "20:00", &[]),
                rule(PeriodKind::CriticalPeak, "11:00", "12:00", &[7, 8, 9]),
                rule(PeriodKind::CriticalPeak, "16:00", "17:00", &[7, 8, 9]),
            ],
        }
    }

    fn price(&self, kind: PeriodKind) -> Result<f64, TariffError> {
        let p = match kind {
            PeriodKind::Valley => Some(self.prices.valley),
            PeriodKind::Flat => Some(self.prices.flat),
            PeriodKind::Peak => Some(self.prices.peak),
            PeriodKind::CriticalPeak => self.prices.critical_peak,
        };
        match p {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
            _ => Err(TariffError::BadPrice {
                tariff: self.name.clone(),
                kind: kind.code(),
                price: p,
                currency: self.currency.clone(),
            }),
        }
    }

    /// The period and price (currency/kWh) of each of `n` intervals of `interval_s` seconds
    /// from `start` (Unix seconds), taken at each interval's start on the tariff's local clock.
    pub fn prices(
        &self,
        start: i64,
        interval_s: u32,
        n: usize,
    ) -> Result<Vec<(PeriodKind, f64)>, TariffError> {
        let time = |source| TariffError::Time {
            tariff: self.name.clone(),
            source,
        };
        let zone = Zone::named(&self.zone).map_err(time)?;
        let rules = self
            .periods
            .iter()
            .map(|r| {
                Ok((
                    r,
                    local::parse_clock(&r.from).map_err(time)?,
                    local::parse_clock(&r.to).map_err(time)?,
                ))
            })
            .collect::<Result<Vec<_>, TariffError>>()?;
        (0..n)
            .map(|i| {
                let t = start + i as i64 * i64::from(interval_s);
                let c = zone.clock(t).map_err(time)?;
                let kind = rules
                    .iter()
                    .rev()
                    .find(|(r, from, to)| {
                        (r.months.is_empty() || r.months.contains(&c.month))
                            && local::in_range(c.minute, (*from, *to))
                    })
                    .map(|(r, _, _)| r.kind)
                    .ok_or_else(|| TariffError::Uncovered {
                        tariff: self.name.clone(),
                        clock: zone.hhmm(t),
                        month: c.month,
                    })?;
                Ok((kind, self.price(kind)?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn illustrative_tariff_periods() {
        let z = Zone::shanghai();
        let t = Tariff::illustrative();
        // A July day: critical peak at 11:00 and 16:00.
        let (s, _) = z
            .day_bounds(local::LocalDate::parse("2026-07-15").unwrap())
            .unwrap();
        let p = t.prices(s, 900, 96).unwrap();
        let at = |h: usize, m: usize| p[h * 4 + m / 15].0;
        assert_eq!(at(3, 0), PeriodKind::Valley);
        assert_eq!(at(7, 0), PeriodKind::Flat);
        assert_eq!(at(10, 45), PeriodKind::Peak);
        assert_eq!(at(11, 0), PeriodKind::CriticalPeak);
        assert_eq!(at(16, 30), PeriodKind::CriticalPeak);
        assert_eq!(at(19, 45), PeriodKind::Peak);
        assert_eq!(at(22, 45), PeriodKind::Flat);
        assert_eq!(at(23, 0), PeriodKind::Valley);
        assert!((p[44].1 - 1.19).abs() < 1e-12);
        // March: no critical peak.
        let (s, _) = z
            .day_bounds(local::LocalDate::parse("2026-03-15").unwrap())
            .unwrap();
        let p = t.prices(s, 900, 96).unwrap();
        assert_eq!(p[44].0, PeriodKind::Peak);
    }

    #[test]
    fn uncovered_hours_are_named() {
        let mut t = Tariff::illustrative();
        t.periods.remove(0);
        let e = t.prices(1_773_417_600, 900, 96).unwrap_err();
        assert!(e.to_string().contains("07:00"), "{e}");
    }
}
