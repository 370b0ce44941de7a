//! The registration directory: which device reads which meter for which enterprise, in what
//! carrier and unit, from the registrations logged up to a size.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tanji_readings::{DeviceRegistration, LogEntry, KIND_REGISTRATION};
use tanji_store::{Store, StoreError};

use super::EntryProblem;

/// A registration with the leaf index of its entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    /// Leaf index of the registration's entry.
    pub index: u64,
    /// The registration.
    pub reg: DeviceRegistration,
}

/// Every logged registration by meter, in log order, and the registration entries that did
/// not decode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Registrations {
    by_meter: BTreeMap<String, Vec<Registered>>,
    problems: Vec<EntryProblem>,
}

impl Registrations {
    /// The registrations logged below `size`, from the store's index of registration entries,
    /// each decoded from its logged bytes; an entry that does not decode as a registration is
    /// a problem (see [`Registrations::problems`]).
    pub fn read<S: Store>(store: &S, size: u64) -> Result<Registrations, StoreError> {
        let indices: Vec<u64> = store
            .entries_of_kind(KIND_REGISTRATION)?
            .into_iter()
            .filter(|&i| i < size)
            .collect();
        Registrations::read_at(store, &indices)
    }

    /// The registrations logged at `indices` (in log order).
    fn read_at<S: Store>(store: &S, indices: &[u64]) -> Result<Registrations, StoreError> {
        let mut out = Registrations::default();
        for &index in indices {
            match LogEntry::from_logged_bytes(&store.entry(index)?) {
                Ok(LogEntry::Registration(r)) => out.push(index, r),
                Ok(_) => out.problems.push(EntryProblem::NotOfKind {
                    index,
                    kind: "registration",
                }),
                Err(error) => out
                    .problems
                    .push(EntryProblem::Undecodable { index, error }),
            }
        }
        Ok(out)
    }

    /// Adds the registration logged at `index` (after every one added before it).
    pub fn push(&mut self, index: u64, reg: DeviceRegistration) {
        self.by_meter
            .entry(reg.meter.clone())
            .or_default()
            .push(Registered { index, reg });
    }

    /// Every registration by meter, each meter's in log order.
    pub fn by_meter(&self) -> &BTreeMap<String, Vec<Registered>> {
        &self.by_meter
    }

    /// A meter's registrations, in log order (empty if it has none).
    pub fn history(&self, meter: &str) -> &[Registered] {
        self.by_meter.get(meter).map_or(&[][..], Vec::as_slice)
    }

    /// The registration in force for a meter (the latest logged).
    pub fn in_force(&self, meter: &str) -> Option<&Registered> {
        self.by_meter.get(meter).and_then(|v| v.last())
    }

    /// Every registration in force (one per meter), by meter id.
    pub fn in_force_all(&self) -> impl Iterator<Item = &Registered> {
        self.by_meter.values().filter_map(|v| v.last())
    }

    /// Every registration, by meter, then in log order.
    pub fn all(&self) -> impl Iterator<Item = &Registered> {
        self.by_meter.values().flatten()
    }

    /// The registration entries that did not decode.
    pub fn problems(&self) -> &[EntryProblem] {
        &self.problems
    }

    /// The registrations, or the first entry that did not decode: for readers that cannot go
    /// on with a log that contradicts its own index (the park when it opens).
    pub fn checked(self) -> Result<Registrations, EntryProblem> {
        match self.problems.first() {
            Some(p) => Err(p.clone()),
            None => Ok(self),
        }
    }

    /// Every meter's registration in force, by enterprise.
    pub fn directory(&self) -> MeterDirectory {
        let mut enterprises: Enterprises = BTreeMap::new();
        for Registered { index, reg } in self.in_force_all() {
            enterprises
                .entry(reg.enterprise.clone())
                .or_default()
                .push(Meter {
                    meter: reg.meter.clone(),
                    device: reg.device.clone(),
                    carrier: reg.carrier.clone(),
                    unit: reg.unit.clone(),
                    registration: *index,
                    rated_per_hour_milli: reg.rated_per_hour_milli,
                });
        }
        MeterDirectory {
            enterprises,
            problems: self.problems.clone(),
        }
    }
}

/// A registered meter: its registration in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meter {
    /// Meter id.
    pub meter: String,
    /// Its device.
    pub device: String,
    /// Carrier code.
    pub carrier: String,
    /// Unit code.
    pub unit: String,
    /// The registration's log entry.
    pub registration: u64,
    /// Registered rated capacity per hour, thousandths of the unit (0: not given).
    #[serde(skip)]
    pub rated_per_hour_milli: i64,
}

/// Registered meters by enterprise, each enterprise's by meter id.
pub type Enterprises = BTreeMap<String, Vec<Meter>>;

/// Every meter's registration in force, by enterprise, and the registration entries that did
/// not decode (their meters are missing from `enterprises`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeterDirectory {
    /// Registered meters by enterprise.
    pub enterprises: Enterprises,
    /// Registration entries that did not decode.
    pub problems: Vec<EntryProblem>,
}

impl MeterDirectory {
    /// The meters of `enterprise`, if it has any.
    pub fn meters_of(&self, enterprise: &str) -> Option<&[Meter]> {
        self.enterprises.get(enterprise).map(Vec::as_slice)
    }

    /// Every registered meter, by enterprise, then meter id.
    pub fn meters(&self) -> impl Iterator<Item = &Meter> {
        self.enterprises.values().flatten()
    }

    /// The number of distinct devices reading the meters.
    pub fn devices(&self) -> usize {
        self.meters()
            .map(|m| m.device.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// [`Registrations::directory`], read once per set of registrations: a server asks for it at
/// every refresh, a park may register tens of thousands of meters, and registrations change
/// rarely. Each call lists the registration entries below the size (an index walk) and reuses
/// the last answer if they are the same.
#[derive(Debug, Default)]
pub struct RegistrationCache {
    last: Mutex<Option<(Vec<u64>, Arc<MeterDirectory>)>>,
}

impl RegistrationCache {
    /// Every meter's registration in force below `size`, by enterprise.
    pub fn get<S: Store>(&self, store: &S, size: u64) -> Result<Arc<MeterDirectory>, StoreError> {
        let indices: Vec<u64> = store
            .entries_of_kind(KIND_REGISTRATION)?
            .into_iter()
            .filter(|&i| i < size)
            .collect();
        if let Ok(last) = self.last.lock() {
            if let Some((seen, all)) = last.as_ref() {
                if *seen == indices {
                    return Ok(Arc::clone(all));
                }
            }
        }
        let all = Arc::new(Registrations::read_at(store, &indices)?.directory());
        if let Ok(mut last) = self.last.lock() {
            *last = Some((indices, Arc::clone(&all)));
        }
        Ok(all)
    }
}
