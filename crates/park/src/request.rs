//! A meter registration as an operator asks for it — what `tanji device register` takes as
//! flags and `POST /api/v1/devices` as a JSON body — turned into the [`DeviceRegistration`]
//! the log holds: the carrier's default unit, a rated power in kW converted to the meter's
//! unit per hour, the key from hex. One place for both, so that the CLI and the API register
//! exactly the same entry for the same request.

use serde::Deserialize;
use tanji_readings::{DeviceRegistration, KeyType, PublicKey};
use tanji_units::{Carrier, Dimension, Unit};

/// One meter's registration request. Field names are the JSON body's; the CLI's flags are
/// the same words with `-` (`--public-key`, `--rated-kw`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// Device id.
    pub device: String,
    /// The device's public key in hex: Ed25519 32 bytes; SM2 and P-256 a SEC1 point,
    /// compressed (33 bytes) or uncompressed (65; logged compressed).
    pub public_key: String,
    /// The key type: `ed25519` (the default), `sm2` (SM2 with SM3) or `p256` (ECDSA P-256).
    #[serde(default)]
    pub key_type: Option<String>,
    /// The enterprise the meter belongs to.
    pub enterprise: String,
    /// Meter id.
    pub meter: String,
    /// Energy carrier code (default `electricity_import`).
    #[serde(default)]
    pub carrier: Option<String>,
    /// Unit code the meter reports in (default: the carrier's, see [`default_unit`]).
    #[serde(default)]
    pub unit: Option<String>,
    /// Rated power of an electricity meter, kW.
    #[serde(default)]
    pub rated_kw: Option<f64>,
    /// Or: rated capacity per hour in the meter's unit (e.g. 120 for a 120 m3/h gas meter).
    #[serde(default)]
    pub rated_per_hour: Option<f64>,
}

/// A registration request that cannot be registered: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    /// The field (JSON name) at fault.
    pub field: &'static str,
    /// What is wrong with it and what to give instead.
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> RequestError {
    RequestError {
        field,
        message: message.into(),
    }
}

/// The unit a meter of `carrier` reports in unless told otherwise: kWh for electricity, m3
/// for gas, L for liquid fuels, t for coal, LPG and steam, GJ for heat.
pub fn default_unit(carrier: Carrier) -> Unit {
    match carrier {
        Carrier::NaturalGas => Unit::M3,
        Carrier::Diesel | Carrier::Gasoline | Carrier::FuelOil => Unit::L,
        Carrier::Coal | Carrier::Lpg | Carrier::Steam => Unit::T,
        Carrier::Heat => Unit::GJ,
        _ => Unit::KWh,
    }
}

fn key_hint(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::Ed25519 => "64 hex characters, as `tanji device keygen` prints",
        _ => "a SEC1 point, 66 hex characters compressed or 130 uncompressed",
    }
}

impl RegistrationRequest {
    /// The registration entry to log, made at `registered_at` (Unix seconds UTC), fully
    /// checked ([`DeviceRegistration::check`]); whether the park accepts it (key, enterprise
    /// and meter conflicts) is [`crate::Park::register`]'s to say.
    pub fn to_registration(&self, registered_at: i64) -> Result<DeviceRegistration, RequestError> {
        let carrier: Carrier = self
            .carrier
            .as_deref()
            .unwrap_or("electricity_import")
            .parse()
            .map_err(|e| bad("carrier", format!("{e}")))?;
        let unit: Unit = match &self.unit {
            Some(u) => u.parse().map_err(|e| bad("unit", format!("{e}")))?,
            None => default_unit(carrier),
        };
        if !carrier.accepts(unit) {
            return Err(bad(
                "unit",
                format!("a {carrier} meter does not report in {unit}"),
            ));
        }
        let rated = match (self.rated_kw, self.rated_per_hour) {
            (Some(kw), None) => {
                if unit.dimension() != Dimension::Energy {
                    return Err(bad(
                        "rated_kw",
                        format!(
                            "rated_kw is for electricity meters; give rated_per_hour in {unit}/h"
                        ),
                    ));
                }
                // kW → the meter's energy unit per hour.
                let wh_per_unit = match unit {
                    Unit::Wh => 1.0,
                    Unit::KWh => 1_000.0,
                    Unit::MWh => 1_000_000.0,
                    Unit::MJ => 1_000_000.0 / 3_600.0,
                    Unit::GJ => 1_000_000_000.0 / 3_600.0,
                    _ => 1_000.0,
                };
                kw * 1_000.0 / wh_per_unit
            }
            (None, Some(r)) => r,
            (Some(_), Some(_)) => {
                return Err(bad(
                    "rated_kw",
                    "give the rated capacity once: rated_kw or rated_per_hour, not both",
                ))
            }
            (None, None) => {
                return Err(bad(
                    "rated_kw",
                    "give the meter's rated capacity: rated_kw (electricity) or rated_per_hour",
                ))
            }
        };
        let field = if self.rated_kw.is_some() {
            "rated_kw"
        } else {
            "rated_per_hour"
        };
        if !(rated.is_finite() && rated > 0.0 && rated < 1e12) {
            return Err(bad(
                field,
                format!("rated capacity {rated}: must be a positive number below 10^12"),
            ));
        }
        let key_type = match self.key_type.as_deref() {
            None => KeyType::Ed25519,
            Some(name) => KeyType::from_name(name).ok_or_else(|| {
                bad(
                    "key_type",
                    format!("{name:?}: known key types are ed25519 (the default), sm2, p256"),
                )
            })?,
        };
        let public_key = hex::decode(self.public_key.trim())
            .map_err(|_| {
                bad(
                    "public_key",
                    format!(
                        "{:?}: expected hex (an {key_type} key: {})",
                        self.public_key,
                        key_hint(key_type)
                    ),
                )
            })
            .and_then(|b| {
                PublicKey::from_sec1(key_type, &b)
                    .map_err(|e| bad("public_key", format!("{:?}: {e}", self.public_key)))
            })?;
        let reg = DeviceRegistration {
            device: self.device.clone(),
            public_key,
            enterprise: self.enterprise.clone(),
            meter: self.meter.clone(),
            carrier: carrier.code().to_string(),
            unit: unit.code().to_string(),
            rated_per_hour_milli: (rated * 1000.0).round() as i64,
            registered_at,
        };
        // The checks name the field (`device: "" …`); map them to the request's field.
        reg.check().map_err(|e| {
            let text = e.to_string();
            let field = [
                "device",
                "enterprise",
                "meter",
                "public_key",
                "unit",
                "carrier",
            ]
            .into_iter()
            .find(|f| text.contains(f))
            .unwrap_or("registration");
            bad(field, text)
        })?;
        Ok(reg)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request() -> RegistrationRequest {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        RegistrationRequest {
            device: "d-1".into(),
            public_key: hex::encode(key.verifying_key().to_bytes()),
            enterprise: "e-1".into(),
            meter: "m-1".into(),
            rated_kw: Some(500.0),
            ..RegistrationRequest::default()
        }
    }

    #[test]
    fn a_request_becomes_the_entry_the_cli_logged() {
        let reg = request().to_registration(1_767_225_600).unwrap();
        assert_eq!(reg.carrier, "electricity_import");
        assert_eq!(reg.unit, "kWh");
        // 500 kW on a kWh meter: 500 kWh per hour, ×1000.
        assert_eq!(reg.rated_per_hour_milli, 500_000);
        let gas = RegistrationRequest {
            carrier: Some("natural_gas".into()),
            rated_kw: None,
            rated_per_hour: Some(120.0),
            ..request()
        }
        .to_registration(0)
        .unwrap();
        assert_eq!(
            (gas.unit.as_str(), gas.rated_per_hour_milli),
            ("m3", 120_000)
        );
    }

    #[test]
    fn every_refusal_names_its_field() {
        let cases = [
            (
                RegistrationRequest {
                    public_key: "abc".into(),
                    ..request()
                },
                "public_key",
            ),
            (
                RegistrationRequest {
                    device: String::new(),
                    ..request()
                },
                "device",
            ),
            (
                RegistrationRequest {
                    carrier: Some("plutonium".into()),
                    ..request()
                },
                "carrier",
            ),
            (
                RegistrationRequest {
                    unit: Some("m3".into()),
                    ..request()
                },
                "unit",
            ),
            (
                RegistrationRequest {
                    rated_kw: Some(-1.0),
                    ..request()
                },
                "rated_kw",
            ),
            (
                RegistrationRequest {
                    rated_kw: None,
                    ..request()
                },
                "rated_kw",
            ),
        ];
        for (req, field) in cases {
            let e = req.to_registration(0).unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
    }

    /// An SM2 or P-256 key is given as a SEC1 point, compressed or uncompressed, and logged
    /// compressed; a key type the park does not know, or a point of the wrong size, names
    /// its field.
    #[test]
    fn sm2_and_p256_keys_are_registered_compressed() {
        // The public keys of GM/T 0003.5's SM2 example and of RFC 6979 A.2.5 (P-256): both
        // y are odd, so both compress to 03 || x.
        let cases = [
            (
                "sm2",
                "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020",
                "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13",
            ),
            (
                "p256",
                "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6",
                "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299",
            ),
        ];
        for (key_type, x, y) in cases {
            let compressed = format!("03{x}");
            for hex_key in [compressed.clone(), format!("04{x}{y}")] {
                let reg = RegistrationRequest {
                    public_key: hex_key,
                    key_type: Some(key_type.into()),
                    ..request()
                }
                .to_registration(0)
                .unwrap();
                assert_eq!(reg.public_key.key_type().name(), key_type);
                assert_eq!(
                    hex::encode(reg.public_key.as_bytes()),
                    compressed.to_lowercase()
                );
            }
        }
        for (key_type, field) in [("rsa", "key_type"), ("sm2", "public_key")] {
            let e = RegistrationRequest {
                key_type: Some(key_type.into()),
                ..request()
            }
            .to_registration(0)
            .unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
    }
}
