//! The in-memory view of who may upload what: registered devices and meters, and every accepted
//! upload's place in its device's hash chain. Rebuilt from the log on open; updated as entries
//! are appended. Implements [`ValidationContext`] so the same validation runs at ingest and in
//! the audit.

use std::collections::{BTreeMap, HashMap};

use ed25519_dalek::VerifyingKey;
use tanji_readings::{DeviceRegistration, Hash, MeterInfo, ValidationContext};

/// One accepted upload, as the chain checks need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Accepted {
    pub record_hash: Hash,
    pub prev: Hash,
    pub index: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct DeviceState {
    pub key: VerifyingKey,
    pub enterprise: String,
    pub meters: HashMap<String, MeterInfo>,
    pub uploads: BTreeMap<u64, Accepted>,
}

/// Registered devices and their accepted uploads.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    pub devices: HashMap<String, DeviceState>,
    /// meter id -> device id, for "already bound elsewhere" checks.
    pub meter_owner: HashMap<String, String>,
}

/// Why a registration cannot be logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// The registration itself is malformed (bad id, unknown carrier or unit, bad key, …).
    #[error("registration of device {device}, meter {meter}: {message}")]
    Invalid {
        /// Device id.
        device: String,
        /// Meter id.
        meter: String,
        /// What is wrong.
        message: String,
    },
    /// The device is registered with another key.
    #[error("device {device} is already registered with another key ({existing}); a device keeps one key — register the new key under a new device id")]
    KeyConflict {
        /// Device id.
        device: String,
        /// Hex of the key already registered.
        existing: String,
    },
    /// The device is registered to another enterprise.
    #[error("device {device} belongs to enterprise {existing}, not {requested}")]
    EnterpriseConflict {
        /// Device id.
        device: String,
        /// Its enterprise.
        existing: String,
        /// The enterprise asked for.
        requested: String,
    },
    /// The meter is already bound.
    #[error("meter {meter} is already bound to device {device}")]
    MeterTaken {
        /// Meter id.
        meter: String,
        /// The device it is bound to.
        device: String,
    },
}

impl State {
    /// Checks that `reg` may be logged now; returns the meter facts it adds.
    pub fn check_registration(
        &self,
        reg: &DeviceRegistration,
    ) -> Result<(VerifyingKey, MeterInfo), RegistrationError> {
        let invalid = |message: String| RegistrationError::Invalid {
            device: reg.device.clone(),
            meter: reg.meter.clone(),
            message,
        };
        reg.check().map_err(|e| invalid(e.to_string()))?;
        let key = reg.verifying_key().map_err(|e| invalid(e.to_string()))?;
        let info = reg.meter_info().map_err(|e| invalid(e.to_string()))?;
        if let Some(owner) = self.meter_owner.get(&reg.meter) {
            return Err(RegistrationError::MeterTaken {
                meter: reg.meter.clone(),
                device: owner.clone(),
            });
        }
        if let Some(d) = self.devices.get(&reg.device) {
            if d.key != key {
                return Err(RegistrationError::KeyConflict {
                    device: reg.device.clone(),
                    existing: hex::encode(d.key.as_bytes()),
                });
            }
            if d.enterprise != reg.enterprise {
                return Err(RegistrationError::EnterpriseConflict {
                    device: reg.device.clone(),
                    existing: d.enterprise.clone(),
                    requested: reg.enterprise.clone(),
                });
            }
        }
        Ok((key, info))
    }

    /// Records a logged registration (already checked).
    pub fn add_registration(
        &mut self,
        reg: &DeviceRegistration,
        key: VerifyingKey,
        info: MeterInfo,
    ) {
        let d = self
            .devices
            .entry(reg.device.clone())
            .or_insert_with(|| DeviceState {
                key,
                enterprise: reg.enterprise.clone(),
                meters: HashMap::new(),
                uploads: BTreeMap::new(),
            });
        d.meters.insert(reg.meter.clone(), info);
        self.meter_owner
            .insert(reg.meter.clone(), reg.device.clone());
    }

    /// Records a logged upload.
    pub fn add_upload(&mut self, device: &str, seq: u64, a: Accepted) {
        if let Some(d) = self.devices.get_mut(device) {
            d.uploads.insert(seq, a);
        }
    }

    /// The accepted upload of `device` at `seq`.
    pub fn upload(&self, device: &str, seq: u64) -> Option<Accepted> {
        self.devices.get(device)?.uploads.get(&seq).copied()
    }
}

impl ValidationContext for State {
    fn device_key(&self, device: &str) -> Option<VerifyingKey> {
        self.devices.get(device).map(|d| d.key)
    }

    fn meter(&self, device: &str, meter: &str) -> Option<MeterInfo> {
        self.devices.get(device)?.meters.get(meter).cloned()
    }

    fn accepted(&self, device: &str, seq: u64) -> Option<(Hash, Hash)> {
        self.upload(device, seq).map(|a| (a.record_hash, a.prev))
    }

    fn last_seq(&self, device: &str) -> Option<u64> {
        self.devices
            .get(device)?
            .uploads
            .last_key_value()
            .map(|(s, _)| *s)
    }
}
