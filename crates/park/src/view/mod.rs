//! The read layer: the one place that turns a store and the log key into typed things — the
//! log's entries up to a size ([`LogView`]), the registration directory ([`Registrations`]:
//! enterprises, meters, carriers, devices), publications by kind ([`PublicationLog`],
//! [`FactorSeries`] with its [`weighted_mean`], a day of one as a table: [`FactorDay`]) and logged channels as values per interval
//! ([`logged_channels`], [`interval_series`], [`ToMilli`]).
//!
//! Reports, the dashboard and the CLI read the log only through it, so they agree on what a
//! record means: an entry that does not decode is an [`EntryProblem`] every reader sees (never
//! silently skipped), and a publication of one kind is never read as the other.
//!
//! What it is not: it writes nothing and does no accounting; the figures are
//! `tanji-accounting`'s.

mod entries;
mod factor_day;
mod publications;
mod registrations;
mod series;

pub use entries::{EntryProblem, LogView};
pub use factor_day::{DayError, FactorDay};
pub use publications::{
    calibration_target, weighted_mean, CalibrationTarget, FactorSeries, PublicationLog,
};
pub use registrations::{
    Enterprises, Meter, MeterDirectory, Registered, RegistrationCache, Registrations,
};
pub use series::{
    add_channel, carrier_totals, even_part, interval_series, logged_channels, to_milli,
    LoggedChannels, SeriesError, ToMilli, MAX_PERIOD_DAYS,
};
