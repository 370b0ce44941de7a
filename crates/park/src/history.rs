//! History imported for meters without a device yet (`tanji import`): the rows of an import
//! file, read by `tanji_readings::parse_import_csv`, turned into records signed by an import
//! device, ready for the ingest path every device's uploads take.

use std::collections::BTreeMap;

use tanji_readings::{
    import_channels, upload_to_json, Channel, ImportError, ImportRow, UploadBody, MAX_CHANNELS,
    ZERO_HASH,
};
use tanji_store::Store;
use tanji_units::time;

use crate::{Incoming, Park, ParkError};

impl<S: Store> Park<S> {
    /// The signed records that import `rows` (meter → its rows) for the import device
    /// `device`, signed with its `key`: one record per UTC day and at most [`MAX_CHANNELS`]
    /// meters, chained after the device's last accepted record, each channel with the carrier
    /// and unit of its meter's registration. `file` names the source in messages. Refused when
    /// a meter is not registered, or is bound to another device.
    pub fn history_records(
        &self,
        device: &str,
        key: &tanji_readings::SigningKey,
        rows: &BTreeMap<String, Vec<ImportRow>>,
        interval: u32,
        file: &str,
    ) -> Result<Vec<Incoming>, ParkError> {
        // The meters' registrations give each channel its carrier and unit, and must name the
        // import device.
        let mut registered: BTreeMap<String, (String, String, String)> = BTreeMap::new();
        for (_, r) in self.registrations()? {
            registered.insert(r.meter.clone(), (r.device, r.carrier, r.unit));
        }
        for meter in rows.keys() {
            match registered.get(meter) {
                None => return Err(ParkError::History(format!(
                    "meter {meter} is not registered; register it to {device} first (`tanji device register --device {device} --key-file <the import key> --meter {meter} …`)"
                ))),
                Some((d, _, _)) if d != device => return Err(ParkError::History(format!(
                    "meter {meter} is bound to device {d}, not to {device}: history can only be imported before a meter's own device takes it over"
                ))),
                Some(_) => {}
            }
        }
        // One record per UTC day, its channels the meters' runs of that day.
        let mut by_day: BTreeMap<i64, Vec<Channel>> = BTreeMap::new();
        for (meter, rs) in rows {
            let (_, carrier, unit) = &registered[meter];
            let channels = import_channels(meter, rs, interval).map_err(|e| located(file, e))?;
            for (day, mut c) in channels {
                c.carrier.clone_from(carrier);
                c.unit.clone_from(unit);
                by_day.entry(day).or_default().push(c);
            }
        }
        let (mut seq, mut prev) = self.device_head(device).unwrap_or((0, ZERO_HASH));
        let mut incoming = Vec::new();
        for (day, channels) in by_day {
            for chunk in channels.chunks(MAX_CHANNELS) {
                seq += 1;
                let upload = UploadBody {
                    device: device.to_string(),
                    seq,
                    prev,
                    channels: chunk.to_vec(),
                }
                .try_sign(key)
                .map_err(|e| ParkError::History(format!("signing the import record {seq}: {e}")))?;
                prev = upload.record_hash();
                incoming.push(Incoming {
                    source: format!("{file}:{}#{seq}", time::rfc3339(day * time::DAY_S)),
                    raw: upload_to_json(&upload).into_bytes(),
                    parsed: Ok(upload),
                    checked: None,
                });
            }
        }
        Ok(incoming)
    }
}

/// An import file's error with the file (and line) it is at.
pub fn located(file: &str, e: ImportError) -> ParkError {
    ParkError::History(match e.line {
        Some(line) => format!("{file}:{line}: {}", e.message),
        None => format!("{file}: {}", e.message),
    })
}
