//! The park's collection gateway: reads the meters next to it (DL/T 645-2007 over RS-485 or a
//! TCP converter, Modbus TCP and RTU), turns their registers into interval values aligned to
//! the park's interval, signs them as the device's upload records, keeps every record in a
//! durable outbox until the park acknowledges it, and checks each acknowledgement's proof
//! against the park's log key, so that the device is a witness of its own data.
//!
//! The codecs ([`dlt645`], [`modbus`]) and the interval logic ([`intervals`]) are pure and
//! tested on the standards' frames; [`parkcheck`] is pure too. The IO is in [`meter`]
//! (transports), [`outbox`] (SQLite), [`uplink`] (HTTP) and [`mod@run`] (the two tasks). It is
//! not the park: it never validates uploads the way ingest does, and it reports no figures.
//! `docs/gateway.md` is its manual.

pub mod bench;
pub mod config;
pub mod demo;
pub mod dlt645;
pub mod intervals;
pub mod meter;
pub mod modbus;
pub mod outbox;
pub mod parkcheck;
pub mod run;
pub mod sim;
pub mod uplink;

pub use config::{Config, ConfigError, Meter};
pub use run::{run, GatewayError};
