//! The readable forms of a report laid out as a [`Tabular`]: plain text and a self-contained
//! HTML page. The inventory and the footprint declaration are rendered through these, so what
//! a reader sees is exactly what a spreadsheet of the same report holds.

use std::fmt::Write as _;

use crate::render::esc;
use crate::tabular::{Cell, Tabular};

/// A cell as shown: numbers with the report's decimals, empty cells as `–`.
fn shown(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Int(i) => i.to_string(),
        Cell::Number { value, decimals } => format!("{value:.*}", usize::from(*decimals)),
        Cell::Empty => "–".to_owned(),
    }
}

/// The report as plain text: summary, each table with its header and notes, provenance.
pub fn tabular_text(t: &Tabular) -> String {
    let mut out = format!("{}\n{}\n\n", t.title, "=".repeat(t.title.chars().count()));
    for (k, v) in &t.summary {
        let _ = writeln!(out, "{k}: {v}");
    }
    for table in &t.tables {
        let _ = write!(
            out,
            "\n{}\n{}\n",
            table.title,
            "-".repeat(table.title.chars().count())
        );
        let header: Vec<String> = table.columns.iter().map(|c| c.header()).collect();
        let _ = writeln!(out, "{}", header.join(" | "));
        for row in &table.rows {
            let cells: Vec<String> = row.iter().map(shown).collect();
            let _ = writeln!(out, "{}", cells.join(" | "));
        }
        for n in &table.notes {
            let _ = writeln!(out, "  note: {n}");
        }
    }
    out.push_str("\nProvenance\n----------\n");
    for (k, v) in &t.provenance {
        let _ = writeln!(out, "{k}: {v}");
    }
    out
}

/// The report as a self-contained HTML page (no scripts, no external resources).
pub fn tabular_html(t: &Tabular) -> String {
    let mut out = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title>\
         <style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}\
         table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;\
         padding:.2em .5em;text-align:left}}.n{{text-align:right}}.note{{color:#555}}</style>\
         </head><body>\n<h1>{0}</h1>\n<dl>\n",
        esc(&t.title)
    );
    for (k, v) in &t.summary {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    out.push_str("</dl>\n");
    for table in &t.tables {
        let _ = write!(out, "<h2>{}</h2>\n<table><tr>", esc(&table.title));
        for c in &table.columns {
            let _ = write!(out, "<th>{}</th>", esc(&c.header()));
        }
        out.push_str("</tr>\n");
        for row in &table.rows {
            out.push_str("<tr>");
            for c in row {
                let class = match c {
                    Cell::Int(_) | Cell::Number { .. } => " class=\"n\"",
                    _ => "",
                };
                let _ = write!(out, "<td{class}>{}</td>", esc(&shown(c)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        for n in &table.notes {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(n));
        }
    }
    out.push_str("<h2>Provenance</h2>\n<dl>\n");
    for (k, v) in &t.provenance {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    out.push_str("</dl>\n</body></html>\n");
    out
}
