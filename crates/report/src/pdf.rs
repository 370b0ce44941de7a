//! A [`Tabular`] as a PDF (`krilla`), with Chinese text: the title, the summary, each table
//! (wrapped to the page, its header repeated on every page it runs onto, numbers right-aligned
//! with thousands separators), its notes, the provenance with the content hash, and page
//! numbers.
//!
//! The text is set in Noto Sans CJK SC (SIL OFL 1.1; `crates/report/fonts/`), embedded and
//! subset to the glyphs used. Glyphs are placed one per character by their advance widths (no
//! shaping: Chinese and Latin text need none), each carrying its character so that text can be
//! copied and extracted. A character the font lacks is drawn as its missing-glyph box, and the
//! provenance section lists every such character.

use std::collections::BTreeSet;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use krilla::Document;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

use crate::export::ExportError;
use crate::tabular::{Cell, Table, Tabular};

/// Noto Sans CJK SC Regular, subset (`crates/report/fonts/README.md` says to what and how).
static FONT: &[u8] = include_bytes!("../fonts/NotoSansCJKsc-Regular-subset.otf");

/// A4 landscape, in points.
const PAGE_W: f32 = 842.0;
const PAGE_H: f32 = 595.0;
const MARGIN: f32 = 36.0;
const TOP: f32 = 40.0;
/// The lowest a line of content may reach; the footer is below it.
const BOTTOM: f32 = PAGE_H - 44.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const PAD: f32 = 3.0;
const LINE: f32 = 1.3;

const BLACK: (u8, u8, u8) = (0x1D, 0x26, 0x30);
const GREY: (u8, u8, u8) = (0x60, 0x70, 0x80);
const RULE: (u8, u8, u8) = (0xC8, 0xD2, 0xDC);
const HEAD_BG: (u8, u8, u8) = (0xF3, 0xF6, 0xF9);

/// The font: its character map and advance widths, for laying text out.
struct Face {
    font: Font,
    glyphs: GlyphMetrics<'static>,
    charmap: skrifa::charmap::Charmap<'static>,
    upem: f32,
}

impl Face {
    fn load() -> Result<Face, ExportError> {
        let bad = |what: &str| ExportError::Pdf(format!("the embedded font: {what}"));
        let font = Font::new(FONT.into(), 0).ok_or_else(|| bad("krilla cannot read it"))?;
        let r = FontRef::new(FONT).map_err(|e| bad(&e.to_string()))?;
        let upem = f32::from(
            skrifa::metrics::Metrics::new(&r, Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        Ok(Face {
            font,
            glyphs: r.glyph_metrics(Size::unscaled(), LocationRef::default()),
            charmap: r.charmap(),
            upem,
        })
    }

    /// The glyph of `c` (0, the missing-glyph box, when the font has none) and its advance
    /// in ems.
    fn glyph(&self, c: char) -> (u32, f32) {
        let id = self.charmap.map(c).map_or(0, |g| g.to_u32());
        let adv = self
            .glyphs
            .advance_width(skrifa::GlyphId::new(id))
            .unwrap_or(self.upem / 2.0);
        (id, adv / self.upem)
    }

    fn width(&self, s: &str, size: f32) -> f32 {
        s.chars().map(|c| self.glyph(c).1).sum::<f32>() * size
    }
}

/// Where a line may break after `c`: after a space, a CJK character or punctuation that ends
/// a phrase.
fn breaks_after(c: char) -> bool {
    c.is_whitespace() || c >= '\u{2E80}' || matches!(c, '-' | '/' | ',' | ';' | '·' | '_')
}

/// `s` wrapped to `width` at `size`: at hard newlines, at break opportunities, and inside a
/// word only when the word alone is wider than the line.
fn wrap(face: &Face, s: &str, size: f32, width: f32) -> Vec<String> {
    let mut out = Vec::new();
    for hard in s.split('\n') {
        let mut line = String::new();
        let mut w = 0.0;
        // Byte offset in `line` just after the last break opportunity, and the width there.
        let mut last_break: Option<(usize, f32)> = None;
        for c in hard.chars() {
            let cw = face.glyph(c).1 * size;
            // (A little slack: a column made exactly as wide as a word must hold it.)
            if w + cw > width + 0.01 && !line.is_empty() {
                if c.is_whitespace() {
                    // Break at this space; it is not drawn.
                    out.push(std::mem::take(&mut line).trim_end().to_string());
                    w = 0.0;
                    last_break = None;
                    continue;
                }
                match last_break {
                    Some((at, bw)) if at < line.len() => {
                        let rest = line.split_off(at);
                        out.push(line.trim_end().to_string());
                        line = rest;
                        w -= bw;
                    }
                    _ => {
                        out.push(std::mem::take(&mut line).trim_end().to_string());
                        w = 0.0;
                    }
                }
                last_break = None;
            }
            line.push(c);
            w += cw;
            if breaks_after(c) {
                last_break = Some((line.len(), w));
            }
        }
        out.push(line.trim_end().to_string());
    }
    out
}

/// `n` with a comma every three digits.
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A cell as the PDF shows it: numbers with thousands separators and the report's decimals.
fn show(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Int(i) => {
            let sign = if *i < 0 { "-" } else { "" };
            format!("{sign}{}", group(i.unsigned_abs()))
        }
        Cell::Number { value, decimals } => {
            if !value.is_finite() {
                return value.to_string();
            }
            let s = format!("{:.*}", usize::from(*decimals), value.abs());
            let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(a, b)| (a, b));
            let sign = if *value < 0.0 && s.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
                "-"
            } else {
                ""
            };
            let int = int.parse::<u64>().map_or_else(|_| int.to_string(), group);
            if frac.is_empty() {
                format!("{sign}{int}")
            } else {
                format!("{sign}{int}.{frac}")
            }
        }
        Cell::Empty => String::new(),
    }
}

/// What a page holds, laid out before anything is drawn (so the page count is known).
enum Op {
    Text {
        x: f32,
        /// Baseline.
        y: f32,
        size: f32,
        text: String,
        color: (u8, u8, u8),
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: (u8, u8, u8),
    },
    Rule {
        x: f32,
        y: f32,
        w: f32,
    },
}

struct Layout<'a> {
    face: &'a Face,
    pages: Vec<Vec<Op>>,
    y: f32,
    missing: BTreeSet<char>,
}

impl<'a> Layout<'a> {
    fn new(face: &'a Face) -> Self {
        Layout {
            face,
            pages: vec![Vec::new()],
            y: TOP,
            missing: BTreeSet::new(),
        }
    }

    fn page(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    /// Starts a new page unless `h` more points fit on this one.
    fn ensure(&mut self, h: f32) {
        if self.y + h > BOTTOM && self.y > TOP {
            self.new_page();
        }
    }

    fn text(&mut self, x: f32, baseline: f32, size: f32, text: &str, color: (u8, u8, u8)) {
        for c in text.chars() {
            if !c.is_control() && self.face.glyph(c).0 == 0 {
                self.missing.insert(c);
            }
        }
        self.page().push(Op::Text {
            x,
            y: baseline,
            size,
            text: text.to_string(),
            color,
        });
    }

    /// A paragraph across the content width.
    fn paragraph(&mut self, s: &str, size: f32, color: (u8, u8, u8), gap_after: f32) {
        for line in wrap(self.face, s, size, CONTENT_W) {
            self.ensure(size * LINE);
            self.y += size * LINE;
            self.text(MARGIN, self.y - size * 0.25, size, &line, color);
        }
        self.y += gap_after;
    }

    /// Label and value pairs in two columns (summary, provenance).
    fn pairs(&mut self, rows: &[(String, String)], size: f32) {
        let label_w = 190.0;
        let value_w = CONTENT_W - label_w;
        for (label, value) in rows {
            let l = wrap(self.face, label, size, label_w - 2.0 * PAD);
            let v = wrap(self.face, value, size, value_w - 2.0 * PAD);
            let n = l.len().max(v.len());
            for i in 0..n {
                self.ensure(size * LINE + PAD);
                self.y += size * LINE;
                let base = self.y - size * 0.25;
                if let Some(s) = l.get(i) {
                    self.text(MARGIN, base, size, s, GREY);
                }
                if let Some(s) = v.get(i) {
                    self.text(MARGIN + label_w, base, size, s, BLACK);
                }
            }
            self.y += PAD;
            let y = self.y;
            self.page().push(Op::Rule {
                x: MARGIN,
                y,
                w: CONTENT_W,
            });
            self.y += PAD;
        }
    }

    fn heading(&mut self, s: &str, size: f32) {
        self.ensure(size * LINE * 3.0);
        self.y += size * 0.6;
        self.paragraph(s, size, BLACK, size * 0.3);
    }

    /// The column widths of `t` at `size`, fitting the content width where they can.
    fn widths(&self, t: &Table, size: f32) -> (Vec<f32>, f32) {
        let f = self.face;
        let n = t.columns.len();
        let mut natural = vec![0.0f32; n];
        let mut min = vec![24.0f32; n];
        let mut header_full = vec![0.0f32; n];
        for (i, c) in t.columns.iter().enumerate() {
            let h = c.header();
            header_full[i] = f.width(&h, size) + 2.0 * PAD;
            let longest_word = h
                .split(|c: char| c.is_whitespace() || c >= '\u{2E80}')
                .map(|w| f.width(w, size))
                .fold(0.0, f32::max);
            min[i] = min[i].max(longest_word + 2.0 * PAD);
            natural[i] = natural[i].max(longest_word + 2.0 * PAD);
        }
        for row in &t.rows {
            for (i, cell) in row.iter().enumerate().take(n) {
                let w = f.width(&show(cell), size) + 2.0 * PAD;
                natural[i] = natural[i].max(w);
                if !matches!(cell, Cell::Text(_)) {
                    // Numbers do not wrap.
                    min[i] = min[i].max(w);
                }
            }
        }
        let total: f32 = natural.iter().sum();
        let mut widths = natural.clone();
        if total <= CONTENT_W {
            // Room to spare: headers wrap less.
            let slack = CONTENT_W - total;
            let deficit: Vec<f32> = header_full
                .iter()
                .zip(&natural)
                .map(|(h, w)| (h - w).max(0.0))
                .collect();
            let sum: f32 = deficit.iter().sum();
            if sum > 0.0 {
                for (w, d) in widths.iter_mut().zip(&deficit) {
                    *w += d * (slack / sum).min(1.0);
                }
            }
        } else {
            // Too wide: columns narrower than a fair share keep their width, the others
            // share what is left (never below their minimum).
            let mut left = CONTENT_W;
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|a, b| natural[*a].total_cmp(&natural[*b]));
            for (k, &i) in order.iter().enumerate() {
                #[allow(clippy::cast_precision_loss)]
                let share = left / (n - k) as f32;
                widths[i] = natural[i].min(share).max(min[i]);
                left -= widths[i];
            }
        }
        let needed: f32 = min.iter().sum();
        (widths, needed)
    }

    fn table(&mut self, t: &Table) {
        if t.columns.is_empty() {
            self.heading(&t.title, 11.0);
            return;
        }
        // The largest of these sizes at which the columns' minimum widths fit.
        let mut size = 7.5;
        let mut widths = Vec::new();
        for s in [7.5, 6.5, 5.5] {
            let (w, needed) = self.widths(t, s);
            size = s;
            widths = w;
            if needed <= CONTENT_W {
                break;
            }
        }
        let header: Vec<Vec<String>> = t
            .columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| wrap(self.face, &c.header(), size, w - 2.0 * PAD))
            .collect();
        let lh = size * LINE;
        // The title, the header and two lines of the first row stay together.
        let header_lines = header.iter().map(Vec::len).max().unwrap_or(1);
        self.ensure(11.0 * LINE * 2.0 + lh * (header_lines + 2) as f32 + 4.0 * PAD);
        self.heading(&t.title, 11.0);
        self.header_row(&header, &widths, size);
        if t.rows.is_empty() {
            self.paragraph("(no rows 无数据)", size, GREY, 0.0);
        }
        for row in &t.rows {
            let cells: Vec<(Vec<String>, bool)> = row
                .iter()
                .zip(&widths)
                .map(|(c, w)| {
                    (
                        wrap(self.face, &show(c), size, w - 2.0 * PAD),
                        !matches!(c, Cell::Text(_)),
                    )
                })
                .collect();
            let lines = cells.iter().map(|(l, _)| l.len()).max().unwrap_or(1);
            let mut done = 0;
            while done < lines {
                let room = ((BOTTOM - self.y - 2.0 * PAD) / lh).floor();
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let room = if room < 1.0 { 0 } else { room as usize };
                // A row that fits on a fresh page is not split.
                let fits_fresh = lines - done <= ((BOTTOM - TOP - 2.0 * PAD) / lh) as usize;
                if room == 0 || (room < lines - done && fits_fresh && done == 0) {
                    self.new_page();
                    self.header_row(&header, &widths, size);
                    continue;
                }
                let take = room.min(lines - done);
                let top = self.y;
                let mut x = MARGIN;
                for ((l, right), w) in cells.iter().zip(&widths) {
                    for (k, s) in l.iter().skip(done).take(take).enumerate() {
                        let base = top + PAD + lh * (k as f32 + 1.0) - size * 0.3;
                        let tx = if *right {
                            x + w - PAD - self.face.width(s, size)
                        } else {
                            x + PAD
                        };
                        self.text(tx, base, size, s, BLACK);
                    }
                    x += w;
                }
                self.y = top + 2.0 * PAD + lh * take as f32;
                let y = self.y;
                let w = widths.iter().sum::<f32>().min(CONTENT_W);
                self.page().push(Op::Rule { x: MARGIN, y, w });
                done += take;
            }
        }
        self.y += 4.0;
        for n in &t.notes {
            self.paragraph(n, 7.0, GREY, 1.5);
        }
        self.y += 6.0;
    }

    fn header_row(&mut self, header: &[Vec<String>], widths: &[f32], size: f32) {
        let lh = size * LINE;
        let lines = header.iter().map(Vec::len).max().unwrap_or(1);
        let h = 2.0 * PAD + lh * lines as f32;
        let top = self.y;
        let w = widths.iter().sum::<f32>().min(CONTENT_W);
        self.page().push(Op::Rect {
            x: MARGIN,
            y: top,
            w,
            h,
            color: HEAD_BG,
        });
        let mut x = MARGIN;
        for (l, cw) in header.iter().zip(widths) {
            for (k, s) in l.iter().enumerate() {
                let base = top + PAD + lh * (k as f32 + 1.0) - size * 0.3;
                self.text(x + PAD, base, size, s, BLACK);
            }
            x += cw;
        }
        self.y = top + h;
        let y = self.y;
        self.page().push(Op::Rule { x: MARGIN, y, w });
    }
}

fn fill(color: (u8, u8, u8)) -> Fill {
    Fill {
        paint: rgb::Color::new(color.0, color.1, color.2).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

fn draw_text(s: &mut Surface<'_>, face: &Face, x: f32, y: f32, size: f32, text: &str) {
    let glyphs: Vec<KrillaGlyph> = text
        .char_indices()
        .map(|(i, c)| {
            let (id, adv) = face.glyph(c);
            KrillaGlyph::new(
                GlyphId::new(id),
                adv,
                0.0,
                0.0,
                0.0,
                i..i + c.len_utf8(),
                None,
            )
        })
        .collect();
    s.draw_glyphs(
        Point::from_xy(x, y),
        &glyphs,
        face.font.clone(),
        text,
        size,
        false,
    );
}

fn draw(s: &mut Surface<'_>, face: &Face, op: &Op) {
    match op {
        Op::Text {
            x,
            y,
            size,
            text,
            color,
        } => {
            s.set_fill(Some(fill(*color)));
            draw_text(s, face, *x, *y, *size, text);
        }
        Op::Rect { x, y, w, h, color } => {
            if let Some(r) = Rect::from_xywh(*x, *y, *w, *h) {
                let mut pb = PathBuilder::new();
                pb.push_rect(r);
                if let Some(p) = pb.finish() {
                    s.set_fill(Some(fill(*color)));
                    s.draw_path(&p);
                }
            }
        }
        Op::Rule { x, y, w } => {
            let mut pb = PathBuilder::new();
            pb.move_to(*x, *y);
            pb.line_to(x + w, *y);
            if let Some(p) = pb.finish() {
                s.set_fill(None);
                s.set_stroke(Some(Stroke {
                    paint: rgb::Color::new(RULE.0, RULE.1, RULE.2).into(),
                    width: 0.5,
                    ..Stroke::default()
                }));
                s.draw_path(&p);
                s.set_stroke(None);
            }
        }
    }
}

/// The PDF: title, summary, one section per table, provenance, page numbers.
pub fn render_pdf(t: &Tabular) -> Result<Vec<u8>, ExportError> {
    let face = Face::load()?;
    let mut l = Layout::new(&face);
    l.y += 16.0;
    let title = t.title.clone();
    l.text(MARGIN, l.y, 16.0, &title, BLACK);
    l.y += 12.0;
    l.pairs(&t.summary, 8.5);
    l.y += 6.0;
    for table in &t.tables {
        l.table(table);
    }
    l.heading("Provenance 数据溯源", 11.0);
    l.pairs(&t.provenance, 7.5);
    if !l.missing.is_empty() {
        let chars: String = l.missing.iter().collect();
        let codes: Vec<String> = l
            .missing
            .iter()
            .map(|c| format!("U+{:04X}", u32::from(*c)))
            .collect();
        l.y += 4.0;
        l.paragraph(
            &format!(
                "{} character(s) are not in the embedded font (Noto Sans CJK SC, subset) and are drawn as a box: {} ({}). The JSON report holds the text as written.",
                l.missing.len(),
                chars,
                codes.join(" ")
            ),
            7.5,
            BLACK,
            0.0,
        );
    }
    let pages = l.pages.len();
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| ExportError::Pdf("the page size".into()))?;
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(t.title.clone())
            .creator("tanji".into())
            .language("zh-CN".into()),
    );
    for (i, ops) in l.pages.iter().enumerate() {
        let mut page = doc.start_page_with(settings.clone());
        let mut s = page.surface();
        for op in ops {
            draw(&mut s, &face, op);
        }
        let footer = format!("{} — page 第 {} / {} 页", t.title, i + 1, pages);
        let w = face.width(&footer, 7.0);
        s.set_fill(Some(fill(GREY)));
        draw_text(
            &mut s,
            &face,
            (PAGE_W - w) / 2.0,
            PAGE_H - 22.0,
            7.0,
            &footer,
        );
        s.finish();
        page.finish();
    }
    doc.finish().map_err(|e| ExportError::Pdf(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_show_with_separators_and_their_decimals() {
        assert_eq!(show(&Cell::Int(-1_234_567)), "-1,234,567");
        assert_eq!(show(&Cell::Int(999)), "999");
        let n = |value, decimals| Cell::Number { value, decimals };
        assert_eq!(show(&n(15.863_433, 2)), "15.86");
        assert_eq!(show(&n(-1234.5, 1)), "-1,234.5");
        assert_eq!(show(&n(-0.0001, 2)), "0.00");
        assert_eq!(show(&n(0.227_942, 4)), "0.2279");
    }

    #[test]
    fn text_wraps_at_spaces_and_between_chinese_characters() {
        let face = Face::load().unwrap();
        // At 10 pt every CJK character is 1 em = 10 pt wide in Noto Sans CJK.
        assert_eq!(face.width("碳排放", 10.0), 30.0);
        assert_eq!(wrap(&face, "碳排放报告", 10.0, 30.0), ["碳排放", "报告"]);
        let w = face
            .width("Scope 2", 10.0)
            .max(face.width("location", 10.0));
        assert_eq!(
            wrap(&face, "Scope 2 location", 10.0, w + 1.0),
            ["Scope 2", "location"]
        );
        // A word longer than the line is cut.
        let lines = wrap(&face, "0123456789abcdef", 10.0, 30.0);
        assert!(lines.len() > 1 && lines.concat() == "0123456789abcdef");
        assert_eq!(wrap(&face, "a\nb", 10.0, 100.0), ["a", "b"]);
    }
}
