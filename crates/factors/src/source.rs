//! Generation sources, the one alias table that maps data-provider names onto them, and the
//! per-source emission factors with their provenance.

use std::fmt;
use std::str::FromStr;

use crate::input::{parse_non_negative, read_csv, InputError};

/// A generation source (production type). Codes are stable snake_case strings used in CSV
/// files; never rename them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// Hard coal, lignite, peat, oil shale (`coal`).
    Coal,
    /// Natural gas and coal-derived gas (`gas`).
    Gas,
    /// Oil (`oil`).
    Oil,
    /// Nuclear (`nuclear`).
    Nuclear,
    /// Hydro, run-of-river and reservoir; not pumped storage (`hydro`).
    Hydro,
    /// Wind, onshore and offshore (`wind`).
    Wind,
    /// Solar (`solar`).
    Solar,
    /// Biomass and waste (`biomass`); its direct CO2 is biogenic and reported separately.
    Biomass,
    /// Geothermal (`geothermal`).
    Geothermal,
    /// Discharge of storage: pumped hydro, batteries (`storage_discharge`). Counted at the mix it
    /// charged from, see [`crate::STORAGE_METHOD`].
    StorageDischarge,
    /// Other or unknown generation (`unknown`).
    Unknown,
}

impl Source {
    /// Every source, in code-table order (the order of the columns of an internal mix).
    pub const ALL: [Source; 11] = [
        Source::Coal,
        Source::Gas,
        Source::Oil,
        Source::Nuclear,
        Source::Hydro,
        Source::Wind,
        Source::Solar,
        Source::Biomass,
        Source::Geothermal,
        Source::StorageDischarge,
        Source::Unknown,
    ];

    /// The stable code, e.g. `storage_discharge`.
    pub fn code(self) -> &'static str {
        match self {
            Source::Coal => "coal",
            Source::Gas => "gas",
            Source::Oil => "oil",
            Source::Nuclear => "nuclear",
            Source::Hydro => "hydro",
            Source::Wind => "wind",
            Source::Solar => "solar",
            Source::Biomass => "biomass",
            Source::Geothermal => "geothermal",
            Source::StorageDischarge => "storage_discharge",
            Source::Unknown => "unknown",
        }
    }

    /// Position in [`Source::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Every name accepted for a source, matched case-insensitively after trimming. This is the one
/// place provider vocabularies are mapped:
///
/// - our codes;
/// - ENTSO-E Transparency Platform production types (PSR types B01–B20, B25), by name and by
///   code, grouped as Electricity Maps' ENTSO-E parser groups them (`ENTSOE_PARAMETER_GROUPS`):
///   waste with biomass; lignite, peat and oil shale with coal; coal-derived gas with gas;
///   marine, "other renewable" and "other" as unknown; pumped storage and energy storage as
///   storage discharge;
/// - EIA-930 fuel-type codes (COL, NG, NUC, OIL, SUN, WAT, WND, OTH).
pub const ALIASES: &[(&str, Source)] = &[
    // our codes
    ("coal", Source::Coal),
    ("gas", Source::Gas),
    ("oil", Source::Oil),
    ("nuclear", Source::Nuclear),
    ("hydro", Source::Hydro),
    ("wind", Source::Wind),
    ("solar", Source::Solar),
    ("biomass", Source::Biomass),
    ("geothermal", Source::Geothermal),
    ("storage_discharge", Source::StorageDischarge),
    ("unknown", Source::Unknown),
    // ENTSO-E production types, by name
    ("Biomass", Source::Biomass), // B01 (same as our code)
    ("Fossil Brown coal/Lignite", Source::Coal),
    ("Fossil Coal-derived gas", Source::Gas),
    ("Fossil Gas", Source::Gas),
    ("Fossil Hard coal", Source::Coal),
    ("Fossil Oil", Source::Oil),
    ("Fossil Oil shale", Source::Coal),
    ("Fossil Peat", Source::Coal),
    ("Geothermal", Source::Geothermal),
    ("Hydro Pumped Storage", Source::StorageDischarge),
    ("Hydro Run-of-river and poundage", Source::Hydro),
    ("Hydro Water Reservoir", Source::Hydro),
    ("Marine", Source::Unknown),
    ("Nuclear", Source::Nuclear),
    ("Other renewable", Source::Unknown),
    ("Solar", Source::Solar),
    ("Waste", Source::Biomass),
    ("Wind Offshore", Source::Wind),
    ("Wind Onshore", Source::Wind),
    ("Other", Source::Unknown),
    ("Energy Storage", Source::StorageDischarge),
    // ENTSO-E production types, by PSR code
    ("B01", Source::Biomass),
    ("B02", Source::Coal),
    ("B03", Source::Gas),
    ("B04", Source::Gas),
    ("B05", Source::Coal),
    ("B06", Source::Oil),
    ("B07", Source::Coal),
    ("B08", Source::Coal),
    ("B09", Source::Geothermal),
    ("B10", Source::StorageDischarge),
    ("B11", Source::Hydro),
    ("B12", Source::Hydro),
    ("B13", Source::Unknown),
    ("B14", Source::Nuclear),
    ("B15", Source::Unknown),
    ("B16", Source::Solar),
    ("B17", Source::Biomass),
    ("B18", Source::Wind),
    ("B19", Source::Wind),
    ("B20", Source::Unknown),
    ("B25", Source::StorageDischarge),
    // EIA-930 fuel types
    ("COL", Source::Coal),
    ("NG", Source::Gas),
    ("NUC", Source::Nuclear),
    ("OIL", Source::Oil), // same as our code
    ("SUN", Source::Solar),
    ("WAT", Source::Hydro),
    ("WND", Source::Wind),
    ("OTH", Source::Unknown),
];

/// A source name that is not in [`ALIASES`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown generation source {0:?}; use one of {codes} or an ENTSO-E production type / EIA fuel code",
    codes = Source::ALL.map(Source::code).join(", ")
)]
pub struct UnknownSource(pub String);

impl FromStr for Source {
    type Err = UnknownSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
            .map(|&(_, source)| source)
            .ok_or_else(|| UnknownSource(s.to_string()))
    }
}

/// The factors of one source, gCO2(eq)/kWh, and where they come from.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFactor {
    /// Direct (combustion) CO2, gCO2/kWh.
    pub direct: f64,
    /// Lifecycle emissions, gCO2eq/kWh.
    pub lifecycle: f64,
    /// Where the figures come from.
    pub provenance: String,
}

/// Per-source emission factors (gCO2/kWh direct, gCO2eq/kWh lifecycle), one per [`Source`].
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFactors {
    entries: [SourceFactor; 11],
}

const TABLE: &str = "docs/reference/factors.md, as used by Electricity Maps' defaults";

/// The default table: `(source, direct, lifecycle, provenance)`.
const DEFAULTS: [(Source, f64, f64, &str); 11] = [
    (
        Source::Coal,
        760.0,
        820.0,
        "IPCC AR5 WG3 Annex III (2014) medians, direct and lifecycle",
    ),
    (
        Source::Gas,
        370.0,
        490.0,
        "IPCC AR5 WG3 Annex III (2014) medians, direct and lifecycle",
    ),
    (
        Source::Oil,
        406.0,
        650.0,
        "direct: EIA/BEIS; lifecycle: Electricity Maps default",
    ),
    (
        Source::Nuclear,
        0.0,
        12.0,
        "lifecycle: IPCC AR5 WG3 Annex III (2014) median",
    ),
    (
        Source::Hydro,
        0.0,
        24.0,
        "lifecycle: IPCC AR5 WG3 Annex III (2014) median",
    ),
    (
        Source::Wind,
        0.0,
        11.0,
        "lifecycle: IPCC AR5 WG3 Annex III (2014) median",
    ),
    (
        Source::Solar,
        0.0,
        45.0,
        "lifecycle: Electricity Maps default, between the IPCC AR5 WG3 Annex III (2014) \
         rooftop and utility-scale PV medians",
    ),
    (
        Source::Biomass,
        0.0,
        230.0,
        "direct 0: biogenic CO2, reported separately; lifecycle: IPCC AR5 WG3 Annex III (2014) median",
    ),
    (
        Source::Geothermal,
        0.0,
        38.0,
        "lifecycle: IPCC AR5 WG3 Annex III (2014) median",
    ),
    (
        Source::StorageDischarge,
        575.0,
        700.0,
        "fallback only (the unknown figures): storage discharge is counted at the mix it charged \
         from, see tanji_factors::STORAGE_METHOD; this entry is used only for a region with no \
         other generation in the whole input",
    ),
    (
        Source::Unknown,
        575.0,
        700.0,
        "Electricity Maps default for unknown/other generation",
    ),
];

impl SourceFactors {
    /// The default table, `docs/reference/factors.md` (IPCC AR5 WG3 Annex III 2014 lifecycle
    /// medians; EIA/BEIS for oil direct; as used by Electricity Maps).
    pub fn default_table() -> SourceFactors {
        SourceFactors {
            entries: DEFAULTS.map(|(_, direct, lifecycle, why)| SourceFactor {
                direct,
                lifecycle,
                provenance: format!("{why} ({TABLE})"),
            }),
        }
    }

    /// `(direct, lifecycle)` in g/kWh.
    pub fn get(&self, source: Source) -> (f64, f64) {
        let e = &self.entries[source.index()];
        (e.direct, e.lifecycle)
    }

    /// The full entry of one source, with its provenance.
    pub fn entry(&self, source: Source) -> &SourceFactor {
        &self.entries[source.index()]
    }

    /// Replace one source's factors.
    pub fn set(&mut self, source: Source, direct: f64, lifecycle: f64, provenance: &str) {
        self.entries[source.index()] = SourceFactor {
            direct,
            lifecycle,
            provenance: provenance.to_string(),
        };
    }

    /// Parse `source,direct_g_per_kwh,lifecycle_g_per_kwh` CSV text (header row; sources by any
    /// alias). Sources listed override the default table; sources not listed keep their
    /// defaults. A source listed twice, a negative or non-finite factor is an error.
    pub fn parse_csv(text: &str) -> Result<SourceFactors, InputError> {
        const WHAT: &str = "factor CSV";
        let mut table = SourceFactors::default_table();
        let mut seen: [Option<u64>; 11] = [None; 11];
        let cols = ["source", "direct_g_per_kwh", "lifecycle_g_per_kwh"];
        read_csv(WHAT, text, &cols, |line, fields| {
            let name = fields[0];
            let source: Source = name.parse().map_err(|e: UnknownSource| InputError::Value {
                what: WHAT,
                line,
                column: cols[0],
                value: name.to_string(),
                reason: e.to_string(),
            })?;
            if let Some(first) = seen[source.index()] {
                return Err(InputError::Line {
                    what: WHAT,
                    line,
                    message: format!(
                        "source {source} (given as {name:?}) already listed on line {first}"
                    ),
                });
            }
            seen[source.index()] = Some(line);
            let direct = parse_factor(WHAT, line, cols[1], fields[1])?;
            let lifecycle = parse_factor(WHAT, line, cols[2], fields[2])?;
            table.set(
                source,
                direct,
                lifecycle,
                &format!("factor CSV line {line}"),
            );
            Ok(())
        })?;
        Ok(table)
    }
}

fn parse_factor(
    what: &'static str,
    line: u64,
    column: &'static str,
    value: &str,
) -> Result<f64, InputError> {
    parse_non_negative(
        what,
        line,
        column,
        value,
        "an emission factor is at least 0 g/kWh",
    )
}
