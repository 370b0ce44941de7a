//! A [`Tabular`] as an Excel workbook (`rust_xlsxwriter`): a Summary sheet first, one sheet
//! per table with its units in the header row, and a Provenance sheet last (with the report's
//! content hash). Numbers are written as numbers, with a number format showing the decimals
//! the report gives them; the cell holds the exact value.

use std::collections::HashSet;

use rust_xlsxwriter::{Color, Format, FormatAlign, Workbook, Worksheet, XlsxError};

use crate::export::ExportError;
use crate::tabular::{Cell, Table, Tabular};

/// Excel's longest sheet name, in characters.
const SHEET_NAME_MAX: usize = 31;
/// The widest a column is made by autofit, in pixels.
const MAX_COLUMN_PX: u32 = 480;

fn err(e: XlsxError) -> ExportError {
    ExportError::Xlsx(e.to_string())
}

/// A sheet name for `title`: without the characters Excel forbids (`[]:*?/\`), not starting
/// or ending with an apostrophe, at most 31 characters, not "History" (reserved), and
/// different (case-insensitively) from every name in `taken`; added to `taken`.
pub fn sheet_name(title: &str, taken: &mut HashSet<String>) -> String {
    let clean: String = title
        .chars()
        .map(|c| {
            if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    let mut base = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    base = base.trim_matches('\'').trim().to_string();
    if base.is_empty() || base.eq_ignore_ascii_case("history") {
        base = format!("Sheet {}", taken.len() + 1);
    }
    let cut = |s: &str, n: usize| -> String {
        s.chars()
            .take(n)
            .collect::<String>()
            .trim_end_matches('\'')
            .trim_end()
            .to_string()
    };
    let mut name = cut(&base, SHEET_NAME_MAX);
    let mut n = 2;
    while taken.contains(&name.to_lowercase()) {
        let suffix = format!(" ({n})");
        name = format!(
            "{}{suffix}",
            cut(&base, SHEET_NAME_MAX - suffix.chars().count())
        );
        n += 1;
    }
    taken.insert(name.to_lowercase());
    name
}

fn number_format(decimals: u8) -> String {
    if decimals == 0 {
        "#,##0".into()
    } else {
        format!("#,##0.{}", "0".repeat(usize::from(decimals.min(15))))
    }
}

struct Styles {
    title: Format,
    header: Format,
    label: Format,
    wrap: Format,
    note: Format,
}

impl Styles {
    fn new() -> Styles {
        Styles {
            title: Format::new().set_bold().set_font_size(14),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_background_color(Color::RGB(0xF3_F6_F9))
                .set_border_bottom(rust_xlsxwriter::FormatBorder::Thin),
            label: Format::new().set_bold().set_align(FormatAlign::Top),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            note: Format::new()
                .set_italic()
                .set_font_color(Color::RGB(0x60_70_80)),
        }
    }
}

/// Label/value rows under a title: the Summary and Provenance sheets.
fn pairs(
    ws: &mut Worksheet,
    st: &Styles,
    title: &str,
    rows: &[(String, String)],
) -> Result<(), ExportError> {
    ws.write_string_with_format(0, 0, title, &st.title)
        .map_err(err)?;
    for (i, (label, value)) in rows.iter().enumerate() {
        let r = u32::try_from(i + 2).map_err(|_| ExportError::Xlsx("too many rows".into()))?;
        ws.write_string_with_format(r, 0, label, &st.label)
            .map_err(err)?;
        ws.write_string_with_format(r, 1, value, &st.wrap)
            .map_err(err)?;
    }
    ws.set_column_width(0, 42).map_err(err)?;
    ws.set_column_width(1, 110).map_err(err)?;
    Ok(())
}

fn table_sheet(ws: &mut Worksheet, st: &Styles, t: &Table) -> Result<(), ExportError> {
    let too_many = || ExportError::Xlsx(format!("{}: too many rows or columns", t.title));
    for (c, col) in t.columns.iter().enumerate() {
        let c = u16::try_from(c).map_err(|_| too_many())?;
        ws.write_string_with_format(0, c, col.header(), &st.header)
            .map_err(err)?;
    }
    let mut formats: Vec<(u8, Format)> = Vec::new();
    for (r, row) in t.rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| too_many())?;
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).map_err(|_| too_many())?;
            match cell {
                Cell::Text(s) => {
                    ws.write_string(r, c, s).map_err(err)?;
                }
                Cell::Int(i) => {
                    let f = format_for(&mut formats, 0);
                    // Exact up to 2^53 (9 × 10^15 g = 9 Gt, Wh likewise); beyond that the
                    // text keeps every digit.
                    if i.unsigned_abs() <= 1 << 53 {
                        #[allow(clippy::cast_precision_loss)]
                        ws.write_number_with_format(r, c, *i as f64, &f)
                            .map_err(err)?;
                    } else {
                        ws.write_string(r, c, i.to_string()).map_err(err)?;
                    }
                }
                Cell::Number { value, decimals } => {
                    let f = format_for(&mut formats, *decimals);
                    ws.write_number_with_format(r, c, *value, &f).map_err(err)?;
                }
                Cell::Empty => {}
            }
        }
    }
    ws.set_freeze_panes(1, 0).map_err(err)?;
    ws.set_autofit_max_width(MAX_COLUMN_PX);
    ws.autofit();
    let first_note = t.rows.len() + 2;
    for (i, n) in t.notes.iter().enumerate() {
        let r = u32::try_from(first_note + i).map_err(|_| too_many())?;
        ws.write_string_with_format(r, 0, n, &st.note)
            .map_err(err)?;
    }
    Ok(())
}

fn format_for(formats: &mut Vec<(u8, Format)>, decimals: u8) -> Format {
    if let Some((_, f)) = formats.iter().find(|(d, _)| *d == decimals) {
        return f.clone();
    }
    let f = Format::new().set_num_format(number_format(decimals));
    formats.push((decimals, f.clone()));
    f
}

/// The workbook: Summary, one sheet per table, Provenance.
pub fn render_xlsx(t: &Tabular) -> Result<Vec<u8>, ExportError> {
    let st = Styles::new();
    let mut wb = Workbook::new();
    wb.set_properties(
        &rust_xlsxwriter::DocProperties::new()
            .set_title(&t.title)
            .set_subject(format!("tanji {} report", t.kind)),
    );
    let mut taken = HashSet::new();
    let summary_name = sheet_name("Summary 摘要", &mut taken);
    // The Provenance name is taken first so a table cannot claim it.
    let provenance_name = sheet_name("Provenance 数据溯源", &mut taken);
    let ws = wb.add_worksheet();
    ws.set_name(&summary_name).map_err(err)?;
    let mut summary = t.summary.clone();
    summary.push((
        "Sections 章节".into(),
        t.tables
            .iter()
            .map(|x| x.title.as_str())
            .collect::<Vec<_>>()
            .join(" · "),
    ));
    pairs(ws, &st, &t.title, &summary)?;
    for table in &t.tables {
        let name = sheet_name(&table.title, &mut taken);
        let ws = wb.add_worksheet();
        ws.set_name(&name).map_err(err)?;
        table_sheet(ws, &st, table)?;
    }
    let ws = wb.add_worksheet();
    ws.set_name(&provenance_name).map_err(err)?;
    pairs(ws, &st, "Provenance 数据溯源", &t.provenance)?;
    wb.save_to_buffer().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_short_clean_and_unique() {
        let mut taken = HashSet::new();
        assert_eq!(sheet_name("Summary 摘要", &mut taken), "Summary 摘要");
        // Forbidden characters become spaces, runs of spaces one.
        assert_eq!(sheet_name("a/b: [c]*?\\d", &mut taken), "a b c d");
        let long = "Fixed vs hourly factor 固定因子与动态因子 and more";
        let first = sheet_name(long, &mut taken);
        assert_eq!(first.chars().count(), 31);
        assert_eq!(first, "Fixed vs hourly factor 固定因子与动态因");
        // The same title again gets a number and stays within 31 characters.
        let second = sheet_name(long, &mut taken);
        assert_eq!(second, "Fixed vs hourly factor 固定因子 (2)");
        assert_eq!(second.chars().count(), 31);
        assert_eq!(sheet_name("SUMMARY 摘要", &mut taken), "SUMMARY 摘要 (2)");
        assert_eq!(sheet_name("'History'", &mut taken), "Sheet 6");
    }

    #[test]
    fn number_formats_show_the_reports_decimals() {
        assert_eq!(number_format(0), "#,##0");
        assert_eq!(number_format(4), "#,##0.0000");
    }
}
