//! The in-memory view of who may upload what: registered devices and meters, and every accepted
//! upload's place in its device's hash chain. Rebuilt from the log on open; updated as entries
//! are appended. Implements [`ValidationContext`] so the same validation runs at ingest and in
//! the audit.

use std::collections::{BTreeMap, HashMap};

use tanji_readings::VerifyingKey;
use tanji_readings::{DeviceRegistration, Hash, MeterInfo, SignedUpload, ValidationContext};
use tanji_store::Span;

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
    /// meter id -> start -> (end, seq): the disjoint spans accepted uploads cover.
    pub spans: HashMap<String, BTreeMap<i64, (i64, u64)>>,
    /// device id -> log index of its revocation.
    pub revoked: HashMap<String, u64>,
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
    /// The device was revoked: its id is not registered again.
    #[error("device {device} was revoked by log entry {index}; a revoked device id is not registered again — register the new key under a new device id")]
    Revoked {
        /// Device id.
        device: String,
        /// Leaf index of the revocation.
        index: u64,
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

/// Why a revocation cannot be logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    /// No device of that id is registered.
    #[error("device {device} is not registered; there is nothing to revoke")]
    UnknownDevice {
        /// Device id.
        device: String,
    },
    /// The revocation itself is malformed (bad id, reason too long, …).
    #[error("revocation of device {device}: {message}")]
    Invalid {
        /// Device id.
        device: String,
        /// What is wrong.
        message: String,
    },
}

/// The spans an upload's channels cover, ordered by meter and start (as the store lists them).
pub(crate) fn spans_of(u: &SignedUpload) -> Vec<Span> {
    let mut spans: Vec<Span> = u
        .body
        .channels
        .iter()
        .map(|c| Span {
            meter: c.meter.clone(),
            start: c.start,
            end: c.end().unwrap_or(i64::MAX),
        })
        .collect();
    spans.sort_by(|a, b| (&a.meter, a.start).cmp(&(&b.meter, b.start)));
    spans
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
        if let Some(&index) = self.revoked.get(&reg.device) {
            return Err(RegistrationError::Revoked {
                device: reg.device.clone(),
                index,
            });
        }
        let key = reg.verifying_key().map_err(|e| invalid(e.to_string()))?;
        let info = reg.meter_info().map_err(|e| invalid(e.to_string()))?;
        if let Some(owner) = self.meter_owner.get(&reg.meter) {
            // A meter whose history was imported passes to its real device (same enterprise,
            // carrier and unit); any other rebinding is refused.
            let handover = tanji_readings::is_import_device(owner)
                && !tanji_readings::is_import_device(&reg.device)
                && self.devices.get(owner).is_some_and(|d| {
                    d.enterprise == reg.enterprise
                        && d.meters.get(&reg.meter).is_some_and(|m| {
                            (&m.enterprise, m.carrier, m.unit)
                                == (&info.enterprise, info.carrier, info.unit)
                        })
                });
            if !handover {
                return Err(RegistrationError::MeterTaken {
                    meter: reg.meter.clone(),
                    device: owner.clone(),
                });
            }
        }
        if let Some(d) = self.devices.get(&reg.device) {
            if d.key != key {
                return Err(RegistrationError::KeyConflict {
                    device: reg.device.clone(),
                    existing: hex::encode(d.key.public_key().as_bytes()),
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
        let before = self
            .meter_owner
            .insert(reg.meter.clone(), reg.device.clone());
        // A handover (see `check_registration`): the import device no longer reports it.
        if let Some(old) = before.filter(|o| *o != reg.device) {
            if let Some(od) = self.devices.get_mut(&old) {
                od.meters.remove(&reg.meter);
            }
        }
    }

    /// Checks that `device` may be revoked now: `Ok(None)` if it may, `Ok(Some(index))` if it
    /// is revoked already (by the entry at `index`), `Err` if no device of that id is
    /// registered.
    pub fn check_revocation(&self, device: &str) -> Result<Option<u64>, RevocationError> {
        if let Some(&index) = self.revoked.get(device) {
            return Ok(Some(index));
        }
        if !self.devices.contains_key(device) {
            return Err(RevocationError::UnknownDevice {
                device: device.to_owned(),
            });
        }
        Ok(None)
    }

    /// Records a logged revocation (already checked) at leaf `index`.
    pub fn add_revocation(&mut self, device: &str, index: u64) {
        self.revoked.entry(device.to_owned()).or_insert(index);
    }

    /// Records a logged upload and the spans its channels cover.
    pub fn add_upload(&mut self, device: &str, seq: u64, a: Accepted, spans: &[Span]) {
        if let Some(d) = self.devices.get_mut(device) {
            d.uploads.insert(seq, a);
        }
        for s in spans {
            self.spans
                .entry(s.meter.clone())
                .or_default()
                .insert(s.start, (s.end, seq));
        }
    }

    /// Forgets a logged upload (used to undo a batch the store refused).
    pub fn remove_upload(&mut self, device: &str, seq: u64, spans: &[Span]) {
        if let Some(d) = self.devices.get_mut(device) {
            d.uploads.remove(&seq);
        }
        for s in spans {
            if let Some(m) = self.spans.get_mut(&s.meter) {
                m.remove(&s.start);
            }
        }
    }

    /// The accepted upload of `device` at `seq`.
    pub fn upload(&self, device: &str, seq: u64) -> Option<Accepted> {
        self.devices.get(device)?.uploads.get(&seq).copied()
    }
}

impl ValidationContext for State {
    fn device_key(&self, device: &str) -> Option<VerifyingKey> {
        self.devices.get(device).map(|d| d.key.clone())
    }

    fn meter(&self, device: &str, meter: &str) -> Option<MeterInfo> {
        self.devices.get(device)?.meters.get(meter).cloned()
    }

    fn accepted(&self, device: &str, seq: u64) -> Option<(Hash, Hash)> {
        self.upload(device, seq).map(|a| (a.record_hash, a.prev))
    }

    fn overlapping(&self, meter: &str, start: i64, end: i64) -> Option<(String, u64)> {
        // Accepted spans are disjoint, so only the last one starting before `end` can overlap.
        let (_, &(span_end, seq)) = self.spans.get(meter)?.range(..end).next_back()?;
        if span_end > start {
            let device = self.meter_owner.get(meter).cloned().unwrap_or_default();
            Some((device, seq))
        } else {
            None
        }
    }

    fn revoked(&self, device: &str) -> Option<u64> {
        self.revoked.get(device).copied()
    }

    fn last_seq(&self, device: &str) -> Option<u64> {
        self.devices
            .get(device)?
            .uploads
            .last_key_value()
            .map(|(s, _)| *s)
    }
}
