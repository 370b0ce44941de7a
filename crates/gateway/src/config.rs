//! The gateway's TOML configuration: the park, the device and its key, and the meters.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::dlt645::{Address, DataId};
use crate::modbus::{RawValue, RegisterKind, ValueType, WordOrder};

/// What is wrong with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading the gateway configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML does not parse or has unknown fields.
    #[error("gateway configuration {origin}: {source}")]
    Toml {
        /// Where the text came from.
        origin: String,
        /// The parser's message (line and column).
        source: toml::de::Error,
    },
    /// A value is not acceptable.
    #[error("gateway configuration {origin}: {what}")]
    Invalid {
        /// Where the text came from.
        origin: String,
        /// What is wrong, naming the meter and field.
        what: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The device id registered at the park (`tanji device register --device`).
    pub device: String,
    /// The device's secret key file, Ed25519, SM2 or P-256 (`tanji device keygen --key-type`;
    /// `tanji_readings::parse_device_key` reads it).
    pub key_file: PathBuf,
    /// Where the outbox lives (`outbox.sqlite`); created if missing.
    pub state_dir: PathBuf,
    /// The park's interval, seconds (default 900).
    #[serde(default = "default_interval")]
    pub interval_s: u32,
    /// How long after an interval boundary a read still counts as the boundary's read,
    /// seconds (default 60). The energy used between the boundary and the read is counted in
    /// the interval before; nothing is lost, it is shifted by at most this much.
    #[serde(default = "default_tolerance")]
    pub boundary_tolerance_s: i64,
    /// How often the meters are read, seconds (default 10); a boundary read is the first read
    /// after the boundary.
    #[serde(default = "default_poll")]
    pub poll_s: f64,
    /// The park.
    pub park: ParkConfig,
    /// A simulated clock for demonstrations and tests (default: the system clock).
    #[serde(default)]
    pub clock: Option<ClockConfig>,
    /// The meters.
    #[serde(rename = "meter")]
    pub meters: Vec<MeterConfig>,
}

fn default_interval() -> u32 {
    900
}
fn default_tolerance() -> i64 {
    60
}
fn default_poll() -> f64 {
    10.0
}

/// Where uploads go and how the park's log is checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParkConfig {
    /// The park server's base URL (`tanji serve --listen`), e.g. `http://10.0.0.2:8080`.
    pub url: String,
    /// The park log's verifier key (`tanji log key --dir PARK`, or `vkey` of `GET /api/v1/log`):
    /// every acknowledgement's checkpoint must be signed by it.
    pub log_key: String,
    /// Send uploads over MQTT through this broker (`mqtt://host[:port]`) instead of HTTP
    /// (`url` still serves the consistency proofs).
    pub mqtt: Option<String>,
    /// The `<park>` of the MQTT topics (`tanji/<park>/<device>/up`); required with `mqtt`.
    pub mqtt_park: Option<String>,
    /// Most records per request (default 100).
    #[serde(default = "default_batch")]
    pub max_records_per_request: usize,
    /// Seconds to wait for an answer (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
    /// The longest wait between two tries while the park does not answer, seconds (default
    /// 30; the wait starts at 0.1 s and doubles).
    #[serde(default = "default_timeout")]
    pub retry_max_s: f64,
}

fn default_batch() -> usize {
    100
}
fn default_timeout() -> f64 {
    30.0
}

/// A clock that runs `speed` times faster than the system's, reading `sim_start` at the system
/// instant `real_start_ms` (Unix milliseconds). For demonstrations and tests with simulated
/// meters, which use the same mapping.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClockConfig {
    /// Simulated Unix seconds at `real_start_ms`.
    pub sim_start: i64,
    /// System time, Unix milliseconds, at which the simulated clock reads `sim_start`.
    pub real_start_ms: i64,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// The simulated clock stops at this Unix second and reads it from then on (a
    /// demonstration of a finished period: no boundary after it is read). Default: it runs on.
    #[serde(default)]
    pub stop_at: Option<i64>,
}

/// Whether a register counts up for ever or holds the last interval's amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A cumulative energy register (the usual case): intervals are differences of the
    /// boundary reads.
    #[default]
    Cumulative,
    /// The register holds the amount of the interval that just ended; the read after a
    /// boundary is that interval's value.
    Interval,
}

/// One meter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterConfig {
    /// The meter id registered at the park.
    pub meter: String,
    /// Carrier code, e.g. `electricity_import`, `pv_generation`.
    pub carrier: String,
    /// Unit code of the uploads, e.g. `kWh`.
    pub unit: String,
    /// Decimals of the uploaded values (default 3: Wh on a kWh meter).
    #[serde(default = "default_decimals")]
    pub decimals: u8,
    /// Cumulative (default) or interval register.
    #[serde(default)]
    pub mode: Mode,
    /// The unit of one register count, in `unit` (a decimal, default `0.01` for DL/T 645,
    /// whose energies are XXXXXX.XX kWh, and `1` for Modbus).
    pub scale: Option<String>,
    /// Current transformer ratio (`200/5`, `40`; default 1): register × scale × ct × pt.
    pub ct: Option<String>,
    /// Voltage (potential) transformer ratio (`10000/100`; default 1).
    pub pt: Option<String>,
    /// The register count at which the register rolls over to zero (default 10⁸ for DL/T
    /// 645's 8 digits, 2^bits for unsigned Modbus integers).
    pub rollover: Option<u64>,
    /// A TCP transport: `host:port` (Modbus TCP, or a serial-to-TCP converter for DL/T 645).
    pub tcp: Option<String>,
    /// A serial transport (RS-485).
    pub serial: Option<SerialConfig>,
    /// DL/T 645-2007 addressing.
    pub dlt645: Option<Dlt645Config>,
    /// Modbus addressing.
    pub modbus: Option<ModbusConfig>,
}

fn default_decimals() -> u8 {
    3
}

/// A serial port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialConfig {
    /// The device, e.g. `/dev/ttyUSB0`.
    pub path: String,
    /// Baud rate (DL/T 645 meters: 2400 by default; Modbus RTU: often 9600).
    pub baud: u32,
    /// `even` (DL/T 645's), `odd` or `none`.
    #[serde(default = "default_parity")]
    pub parity: String,
}

fn default_parity() -> String {
    "even".into()
}

/// DL/T 645 addressing of a meter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dlt645Config {
    /// 12 digits as on the meter's plate, or `AAAAAAAAAAAA` for the one meter on a line.
    pub address: String,
    /// Data identifier, 8 hex digits, `DI3` first (default `00010000`, forward active
    /// energy total; `00020000` reverse; `00010100`..`00010400` by tariff).
    #[serde(default = "default_di")]
    pub data_id: String,
}

fn default_di() -> String {
    "00010000".into()
}

/// Modbus addressing of a value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusConfig {
    /// Unit (slave) id, default 1.
    #[serde(default = "default_unit_id")]
    pub unit_id: u8,
    /// The first register's address as sent on the wire (0-based).
    pub register: u16,
    /// `holding` (default) or `input`.
    #[serde(default)]
    pub kind: RegisterKind,
    /// The value's type: `u16`, `i16`, `u32`, `i32`, `u64`, `i64`, `f32`, `f64`.
    #[serde(rename = "type")]
    pub value_type: ValueType,
    /// `big` (high word first, default) or `little`.
    #[serde(default)]
    pub word_order: WordOrder,
}

fn default_unit_id() -> u8 {
    1
}

/// How a meter is reached and read, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    /// A TCP connection to `host:port`.
    Tcp(String),
    /// A serial port: path, baud, parity (`even`, `odd`, `none`).
    Serial(String, u32, String),
}

/// The protocol of a meter, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Protocol {
    /// DL/T 645-2007.
    Dlt645 {
        /// The meter's address.
        address: Address,
        /// The data identifier read.
        di: DataId,
    },
    /// Modbus (TCP on a TCP transport, RTU on a serial one).
    Modbus {
        /// Unit id.
        unit_id: u8,
        /// First register.
        register: u16,
        /// Holding or input.
        kind: RegisterKind,
        /// Value type.
        value_type: ValueType,
        /// Word order.
        word_order: WordOrder,
    },
}

/// An exact positive rational: register counts → units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    /// Numerator.
    pub num: i128,
    /// Denominator (> 0).
    pub den: i128,
}

impl Ratio {
    /// Parses `3`, `0.01` or `200/5`.
    pub fn parse(text: &str) -> Option<Ratio> {
        if let Some((a, b)) = text.split_once('/') {
            let (a, b) = (Ratio::parse(a.trim())?, Ratio::parse(b.trim())?);
            return Some(Ratio {
                num: a.num.checked_mul(b.den)?,
                den: a.den.checked_mul(b.num)?,
            });
        }
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits_ok(int) || !digits_ok(frac) || frac.len() > 12 {
            return None;
        }
        let num: i128 = format!("{int}{frac}").parse().ok()?;
        let den = 10i128.checked_pow(frac.len() as u32)?;
        (num > 0).then_some(Ratio { num, den })
    }

    fn times(self, o: Ratio) -> Option<Ratio> {
        Some(Ratio {
            num: self.num.checked_mul(o.num)?,
            den: self.den.checked_mul(o.den)?,
        })
    }
}

/// One meter's configuration, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Meter {
    /// Meter id.
    pub meter: String,
    /// Carrier code.
    pub carrier: String,
    /// Unit code.
    pub unit: String,
    /// Decimals of uploaded values.
    pub decimals: u8,
    /// Cumulative or interval.
    pub mode: Mode,
    /// Units (of `unit`) per register count, CT and PT ratios included.
    pub factor: Ratio,
    /// Register count at which the register rolls over, if it does.
    pub rollover: Option<u64>,
    /// How it is reached.
    pub transport: Transport,
    /// How it is read.
    pub protocol: Protocol,
}

impl Meter {
    /// The register value in the upload's fixed point (`decimals` decimals of `unit`), rounded
    /// down; `None` for a value that is not finite or out of range.
    pub fn to_fixed(&self, raw: RawValue) -> Option<i128> {
        let pow = 10i128.checked_pow(u32::from(self.decimals))?;
        match raw {
            RawValue::Int(i) => Some(
                i.checked_mul(self.factor.num)?
                    .checked_mul(pow)?
                    .div_euclid(self.factor.den),
            ),
            RawValue::Float(f) => {
                let v = (f * self.factor.num as f64 * pow as f64 / self.factor.den as f64).floor();
                (v.is_finite() && v.abs() < 9.0e18).then_some(v as i128)
            }
        }
    }

    /// One line saying how the meter is read, for `tanji-gateway check`.
    pub fn describe(&self) -> String {
        let how = match &self.protocol {
            Protocol::Dlt645 { address, di } => format!("DL/T 645 meter {address}, DI {di}"),
            Protocol::Modbus {
                unit_id,
                register,
                kind,
                value_type,
                word_order,
            } => format!(
                "Modbus unit {unit_id}, {kind:?} register {register}, {value_type:?}, {word_order:?} word order"
            )
            .to_lowercase(),
        };
        let at = match &self.transport {
            Transport::Tcp(a) => format!("TCP {a}"),
            Transport::Serial(p, b, parity) => {
                format!("serial {p} ({b} baud, 8 data bits, {parity} parity, 1 stop bit)")
            }
        };
        let g = gcd(self.factor.num, self.factor.den);
        let (n, d) = (self.factor.num / g, self.factor.den / g);
        let per = if d == 1 {
            n.to_string()
        } else {
            format!("{n}/{d}")
        };
        let mode = match self.mode {
            Mode::Cumulative => "cumulative",
            Mode::Interval => "interval",
        };
        format!(
            "meter {}: {how} on {at}; {} in {} ({mode}), {per} {} a count, {} decimals",
            self.meter, self.carrier, self.unit, self.unit, self.decimals
        )
    }

    /// The rollover in the upload's fixed point, if the register rolls over.
    pub fn rollover_fixed(&self) -> Option<i128> {
        self.rollover
            .and_then(|r| self.to_fixed(RawValue::Int(i128::from(r))))
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 {
        a.abs().max(1)
    } else {
        gcd(b, a % b)
    }
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<(Config, Vec<Meter>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses and checks configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<(Config, Vec<Meter>), ConfigError> {
        let config: Config = toml::from_str(text).map_err(|source| ConfigError::Toml {
            origin: origin.into(),
            source,
        })?;
        let invalid = |what: String| ConfigError::Invalid {
            origin: origin.into(),
            what,
        };
        if !tanji_units::is_allowed_interval(config.interval_s) {
            return Err(invalid(format!(
                "interval_s = {} is not one of the park's interval lengths {:?}",
                config.interval_s,
                tanji_units::ALLOWED_INTERVALS
            )));
        }
        if let Err(e) = config.park.log_key.parse::<tanji_ledger::NoteVerifier>() {
            return Err(invalid(format!(
                "park.log_key {:?} is not a log verifier key (`/api/v1/log`'s `vkey`): {e}",
                config.park.log_key
            )));
        }
        if let Some(url) = &config.park.mqtt {
            if crate::uplink::parse_mqtt_url(url).is_none() {
                return Err(invalid(format!(
                    "park.mqtt {url:?} is not mqtt://host[:port]"
                )));
            }
            if config.park.mqtt_park.as_deref().is_none_or(str::is_empty) {
                return Err(invalid(
                    "park.mqtt_park (the <park> of the topics) is required with park.mqtt".into(),
                ));
            }
        }
        if config.meters.is_empty() {
            return Err(invalid("no [[meter]]: a gateway reads at least one".into()));
        }
        if config.meters.len() > tanji_readings::MAX_CHANNELS {
            return Err(invalid(format!(
                "{} meters; an upload holds at most {} channels",
                config.meters.len(),
                tanji_readings::MAX_CHANNELS
            )));
        }
        let meters = config
            .meters
            .iter()
            .map(|m| {
                m.check()
                    .map_err(|e| invalid(format!("meter {:?}: {e}", m.meter)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (i, m) in meters.iter().enumerate() {
            if meters[..i].iter().any(|o| o.meter == m.meter) {
                return Err(invalid(format!("meter {:?} is configured twice", m.meter)));
            }
        }
        Ok((config, meters))
    }
}

impl MeterConfig {
    fn check(&self) -> Result<Meter, String> {
        if self.carrier.parse::<tanji_units::Carrier>().is_err() {
            return Err(format!(
                "carrier {:?} is not a known carrier code",
                self.carrier
            ));
        }
        if self.unit.parse::<tanji_units::Unit>().is_err() {
            return Err(format!("unit {:?} is not a known unit code", self.unit));
        }
        if self.decimals > 6 {
            return Err(format!("decimals = {} is above 6", self.decimals));
        }
        let transport = match (&self.tcp, &self.serial) {
            (Some(addr), None) => Transport::Tcp(addr.clone()),
            (None, Some(s)) => {
                if !["even", "odd", "none"].contains(&s.parity.as_str()) {
                    return Err(format!("parity {:?} is not even, odd or none", s.parity));
                }
                Transport::Serial(s.path.clone(), s.baud, s.parity.clone())
            }
            _ => return Err("give exactly one of tcp = \"host:port\" or serial = {…}".into()),
        };
        let (protocol, default_scale, default_rollover) = match (&self.dlt645, &self.modbus) {
            (Some(d), None) => (
                Protocol::Dlt645 {
                    address: Address::parse(&d.address).map_err(|e| e.to_string())?,
                    di: DataId::parse(&d.data_id).map_err(|e| e.to_string())?,
                },
                "0.01",
                Some(100_000_000),
            ),
            (None, Some(m)) => (
                Protocol::Modbus {
                    unit_id: m.unit_id,
                    register: m.register,
                    kind: m.kind,
                    value_type: m.value_type,
                    word_order: m.word_order,
                },
                "1",
                match m.value_type {
                    ValueType::U16 => Some(1 << 16),
                    ValueType::U32 => Some(1 << 32),
                    _ => None,
                },
            ),
            _ => return Err("give exactly one of dlt645 = {…} or modbus = {…}".into()),
        };
        let ratio = |field: &str, text: Option<&str>, default: &str| {
            let text = text.unwrap_or(default);
            Ratio::parse(text).ok_or(format!(
                "{field} = {text:?} is not a positive decimal or ratio (0.01, 40, 200/5)"
            ))
        };
        let factor = ratio("scale", self.scale.as_deref(), default_scale)?
            .times(ratio("ct", self.ct.as_deref(), "1")?)
            .and_then(|f| f.times(ratio("pt", self.pt.as_deref(), "1").ok()?))
            .ok_or("scale × ct × pt overflows")?;
        Ok(Meter {
            meter: self.meter.clone(),
            carrier: self.carrier.clone(),
            unit: self.unit.clone(),
            decimals: self.decimals,
            mode: self.mode,
            factor,
            rollover: self.rollover.or(default_rollover),
            transport,
            protocol,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ratios() {
        assert_eq!(Ratio::parse("200/5"), Some(Ratio { num: 200, den: 5 }));
        assert_eq!(Ratio::parse("0.01"), Some(Ratio { num: 1, den: 100 }));
        assert_eq!(Ratio::parse("0"), None);
        assert_eq!(Ratio::parse("-1"), None);
        assert_eq!(Ratio::parse("1e3"), None);
    }

    /// The configurations of docs/gateway.md parse, and mean what the page says.
    #[test]
    fn documented_configurations_parse() {
        let doc = include_str!("../../../docs/gateway.md");
        let blocks: Vec<&str> = doc
            .split("```toml\n")
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .collect();
        assert!(!blocks.is_empty(), "docs/gateway.md has no toml block");
        for b in &blocks {
            Config::parse(b, "docs/gateway.md").unwrap();
        }
        let (config, meters) = Config::parse(blocks[0], "docs/gateway.md").unwrap();
        assert_eq!(config.interval_s, 900);
        let main = &meters[0];
        assert!(matches!(main.protocol, Protocol::Dlt645 { .. }));
        assert_eq!(
            main.transport,
            Transport::Serial("/dev/ttyUSB0".into(), 2400, "even".into())
        );
        // A count is 0.01 kWh on the secondary side; × CT 200/5 × PT 10000/100 = 40 kWh
        // primary. 1234567 counts (12345.67 kWh on the display) = 49 382 680 kWh.
        assert_eq!(
            main.to_fixed(RawValue::Int(1_234_567)),
            Some(49_382_680_000)
        );
        let pv = &meters[1];
        assert!(matches!(pv.protocol, Protocol::Modbus { .. }));
        // 123456 Wh register, scale 0.001 kWh, 3 decimals: 123.456 kWh.
        assert_eq!(pv.to_fixed(RawValue::Int(123_456)), Some(123_456));
    }

    #[test]
    fn errors_name_the_meter_and_field() {
        let text = r#"
device = "gw-01"
key_file = "k"
state_dir = "s"
[park]
url = "http://127.0.0.1:1"
log_key = "tanji/park+ad8320a7+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"
[[meter]]
meter = "m-1"
carrier = "electricity_import"
unit = "kWh"
tcp = "127.0.0.1:502"
"#;
        let err = Config::parse(text, "t.toml").unwrap_err().to_string();
        assert_eq!(
            err,
            "gateway configuration t.toml: meter \"m-1\": give exactly one of dlt645 = {…} or modbus = {…}"
        );
        let err = Config::parse(
            &text.replace("unit = \"kWh\"", "unit = \"kWh\"\nbogus = 1"),
            "t.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown field `bogus`"), "{err}");
        let err = Config::parse(&text.replace("+ad8320a7+", "+ad8320a8+"), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("park.log_key"), "{err}");
    }
}
