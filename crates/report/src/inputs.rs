//! Checks of an enterprise inputs document before it is published, so that a report does not
//! fail later on a typo.

use tanji_accounting::{FuelLibrary, FuelTable};

use crate::InputsFile;

/// Why an inputs document names a fuel tanji does not know; each variant carries the names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FuelChoiceError {
    /// A meter names a fuel table that does not exist.
    #[error(
        "enterprise {enterprise}, meter {meter}: fuel table {table:?} is unknown; known: {known}"
    )]
    UnknownTable {
        /// The enterprise.
        enterprise: String,
        /// The meter.
        meter: String,
        /// The table named.
        table: String,
        /// The tables that exist, comma-separated.
        known: String,
    },
    /// A meter names a fuel that is not in its table (or in any table).
    #[error("enterprise {enterprise}, meter {meter}: fuel {fuel:?} is not in {table}; its fuels: {fuels}")]
    UnknownFuel {
        /// The enterprise.
        enterprise: String,
        /// The meter.
        meter: String,
        /// The fuel named.
        fuel: String,
        /// The table it was looked for in (`any fuel table` when none was named).
        table: String,
        /// The fuels there, comma-separated.
        fuels: String,
    },
}

impl InputsFile {
    /// Every meter's fuel table and fuel must exist in `lib`.
    pub fn check_fuels(&self, lib: &FuelLibrary) -> Result<(), FuelChoiceError> {
        for (e, inputs) in &self.enterprises {
            for (meter, choice) in &inputs.meters {
                let tables: Vec<&FuelTable> = match &choice.table {
                    Some(t) => vec![lib.table(t).ok_or_else(|| FuelChoiceError::UnknownTable {
                        enterprise: e.clone(),
                        meter: meter.clone(),
                        table: t.clone(),
                        known: lib
                            .tables
                            .iter()
                            .map(|t| t.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?],
                    None => lib.tables.iter().collect(),
                };
                let Some(f) = &choice.fuel else { continue };
                if !tables.iter().any(|t| t.fuels.iter().any(|x| &x.id == f)) {
                    return Err(FuelChoiceError::UnknownFuel {
                        enterprise: e.clone(),
                        meter: meter.clone(),
                        fuel: f.clone(),
                        table: choice
                            .table
                            .clone()
                            .unwrap_or_else(|| "any fuel table".into()),
                        fuels: tables
                            .iter()
                            .flat_map(|t| t.fuels.iter().map(|x| x.id.as_str()))
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn check(meters: serde_json::Value) -> Result<(), FuelChoiceError> {
        let doc: InputsFile = serde_json::from_value(
            serde_json::json!({"enterprises": {"e-0001": {"meters": meters}}}),
        )
        .unwrap();
        doc.check_fuels(&FuelLibrary::default())
    }

    #[test]
    fn meter_fuels_must_name_known_tables_and_fuels() {
        check(serde_json::json!({
            "m-coal": {"table": "gbt-32150-2015-b", "fuel": "anthracite"},
            "m-wood": {"fuel": "wood"},
            "m-gas": {"gas_reference": "standard_20c"}
        }))
        .unwrap();
        let e = check(serde_json::json!({"m-coal": {"table": "ndrc-2013"}}))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "enterprise e-0001, meter m-coal: fuel table \"ndrc-2013\" is unknown; known: ndrc-2015"
            ),
            "{e}"
        );
        let e = check(serde_json::json!({
            "m-coal": {"table": "ndrc-2015-other-industry-t2.1", "fuel": "wood"}
        }))
        .unwrap_err();
        assert!(
            matches!(&e, FuelChoiceError::UnknownFuel { fuel, table, .. }
                if fuel == "wood" && table == "ndrc-2015-other-industry-t2.1"),
            "{e}"
        );
    }
}

/// Why an inputs document was not published; nothing was logged.
#[derive(Debug, thiserror::Error)]
pub enum InputsRefusal {
    /// The bytes are not an inputs document.
    #[error("not a tanji inputs document: {0}")]
    NotInputs(#[from] serde_json::Error),
    /// The document names an enterprise with no registered meter in the park.
    #[error(
        "enterprise {enterprise:?} has no registered meter in this park; registered: {registered}"
    )]
    UnknownEnterprise {
        /// The enterprise named.
        enterprise: String,
        /// The park's enterprises, comma-separated.
        registered: String,
    },
    /// A meter names a fuel tanji does not know.
    #[error(transparent)]
    Fuel(#[from] FuelChoiceError),
    /// The park refused or failed to log it.
    #[error(transparent)]
    Park(#[from] tanji_park::ParkError),
}

/// Publishes the inputs document `content` in `park` as `name` (a signed, versioned
/// publication of method [`crate::INPUTS_METHOD`]) once it decodes, names only enterprises with
/// registered meters, and names only known fuels. Returns the publication and the number of
/// enterprises it covers.
pub fn publish_inputs<S: tanji_store::Store>(
    park: &mut tanji_park::Park<S>,
    name: &str,
    content: Vec<u8>,
    published_at: i64,
) -> Result<(tanji_park::Publication, usize), InputsRefusal> {
    let doc: InputsFile = serde_json::from_slice(&content)?;
    let known: std::collections::BTreeSet<String> = park
        .registrations()?
        .into_iter()
        .map(|(_, r)| r.enterprise)
        .collect();
    if let Some(e) = doc.enterprises.keys().find(|e| !known.contains(*e)) {
        return Err(InputsRefusal::UnknownEnterprise {
            enterprise: e.clone(),
            registered: known.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    doc.check_fuels(&FuelLibrary::default())?;
    let publication = park.publish(&tanji_park::PublicationRequest {
        name: name.to_string(),
        method: crate::INPUTS_METHOD.into(),
        content,
        regions: Vec::new(),
        period: (0, 0),
        intervals: 0,
        inputs: Vec::new(),
        calibrations: Vec::new(),
        published_at,
    })?;
    Ok((publication, doc.enterprises.len()))
}
