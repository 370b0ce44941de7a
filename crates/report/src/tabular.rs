//! Reports as tables: the one shape every report (enterprise, park, outcomes, inventory,
//! footprint, CBAM) takes on its way to a spreadsheet or a PDF.
//!
//! A report type says what it holds by implementing [`ToTabular`]; the exporters read only
//! [`Tabular`], so a new report gains every file format at once. The figures in a [`Tabular`]
//! are the report's own figures, never recomputed: a spreadsheet cell equals the JSON value.

/// A report laid out as titled tables, with the provenance that ties it back to its JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Tabular {
    /// The report's title as a reader sees it (may be Chinese and English).
    pub title: String,
    /// What kind of report this is (`enterprise`, `park`, `outcomes`, `inventory`,
    /// `footprint`, `cbam`), for file names and the summary.
    pub kind: String,
    /// Key facts shown first: period, enterprise, method version, … as label and value.
    pub summary: Vec<(String, String)>,
    /// The report's sections, in order; each becomes one sheet or one PDF section.
    pub tables: Vec<Table>,
    /// Where every figure comes from: log checkpoint, factor series, inputs publication,
    /// method versions, … as label and value.
    pub provenance: Vec<(String, String)>,
}

/// One section of a report: a table with named columns and their units.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The section's title (a sheet name is derived from it).
    pub title: String,
    /// The columns, each with its unit when it has one (`kWh`, `t CO2e`, `tce`).
    pub columns: Vec<Column>,
    /// The rows; each has one cell per column.
    pub rows: Vec<Vec<Cell>>,
    /// Notes under the table: methods, caveats, data issues that concern it.
    pub notes: Vec<String>,
}

/// A column's header: its name and unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column's name.
    pub name: String,
    /// Its unit, shown in the header as `name (unit)`.
    pub unit: Option<String>,
}

impl Column {
    /// A column without a unit.
    pub fn text(name: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            unit: None,
        }
    }

    /// A column with a unit.
    pub fn with_unit(name: impl Into<String>, unit: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            unit: Some(unit.into()),
        }
    }

    /// The header a reader sees: `name (unit)`, or the name alone.
    pub fn header(&self) -> String {
        match &self.unit {
            Some(unit) => format!("{} ({unit})", self.name),
            None => self.name.clone(),
        }
    }
}

/// One cell. Numbers stay numbers so a spreadsheet can sum them.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// An exact integer (Wh, g, counts).
    Int(i64),
    /// A decimal figure, with the number of decimals the report shows it with.
    Number {
        /// The value as the report's JSON holds it.
        value: f64,
        /// Decimals to show.
        decimals: u8,
    },
    /// No value (not applicable, or no data: a note says which).
    Empty,
}

/// A report that can be laid out as tables.
pub trait ToTabular {
    /// The report as titled tables with provenance.
    fn to_tabular(&self) -> Tabular;
}
