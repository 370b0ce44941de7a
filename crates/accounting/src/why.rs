//! The "why" sentence of the fixed-vs-hourly comparison, written from the comparison's own
//! figures in English or Chinese.
//!
//! The gap between the fixed-factor figure and the hourly one has two parts
//! ([`Comparison::season_g`] + [`Comparison::timing_g`]): the **season** (this period's grid
//! against the annual factor, for a flat use) and the **timing** of use (the enterprise's
//! profile over the day against a flat one, within the period). The sentence names the part
//! that dominates, with its tonnes, and speaks of time-of-use — and of shifting load — only
//! when the timing part is **material**: at least [`MATERIAL_SHARE`] of the fixed-factor
//! figure (`docs/report.md`, "The reason sentence"). It is not written when there is nothing to
//! compare: no interval of grid import had an hourly factor.

use crate::report::{Comparison, Window};

/// A part of the gap (season or timing) is material when it is at least this share of the
/// fixed-factor figure (1%): below that, it is named only as too small to matter, and the
/// timing of use is never given as the cause nor shifting as the cure.
pub const MATERIAL_SHARE: f64 = 0.01;

/// The language a text is written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English (the report's own language).
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// `en` or `zh`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// A language tag (`zh`, `zh-CN`, `en-GB`, case-insensitive) as one of ours; `None` for
    /// any other language.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }
}

/// Which part of the gap is larger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The period's grid against the annual factor.
    Season,
    /// The use profile against a flat one.
    Timing,
}

/// Whether `part_g` is material against the fixed-factor figure `fixed_g` ([`MATERIAL_SHARE`]).
pub fn is_material(part_g: i64, fixed_g: i64) -> bool {
    part_g != 0 && part_g.unsigned_abs() as f64 >= MATERIAL_SHARE * fixed_g.unsigned_abs() as f64
}

/// The part of the gap that dominates (the larger in tonnes; the season on a tie), `None`
/// when neither is material or there is nothing to compare.
pub fn dominant(c: &Comparison) -> Option<Part> {
    c.period_mean_factor_g_per_kwh?;
    let (s, t) = (c.season_g, c.timing_g);
    if !is_material(s, c.fixed_g) && !is_material(t, c.fixed_g) {
        return None;
    }
    Some(if s.unsigned_abs() >= t.unsigned_abs() {
        Part::Season
    } else {
        Part::Timing
    })
}

fn tonnes(g: i64) -> f64 {
    g.unsigned_abs() as f64 / 1e6
}

/// The reason sentence for `c` in `lang`; `None` when there is nothing to compare (grid
/// import but no hourly factor for any of its intervals).
pub fn reason(c: &Comparison, lang: Lang) -> Option<String> {
    let w = Words::of(lang);
    if c.import_wh == 0 {
        return Some(w.no_import.to_owned());
    }
    let mean = c.period_mean_factor_g_per_kwh?;
    let f = c.fixed_factor.value;
    let season = || w.season(mean, f, c.season_g);
    let timing = || match &c.window {
        Some(win) => format!("{}{}", w.timing(win, c.timing_g), w.advice(c.timing_g)),
        None => w.profile(c.timing_g),
    };
    let mut out = String::new();
    match dominant(c) {
        None => out.push_str(&w.neither(c.season_g, c.timing_g)),
        Some(Part::Season) => {
            out.push_str(w.season_leads);
            out.push_str(&season());
            out.push_str(w.gap);
            if is_material(c.timing_g, c.fixed_g) {
                out.push_str(w.timing_adds);
                out.push_str(&timing());
            } else {
                out.push_str(&w.timing_small(c.timing_g));
            }
        }
        Some(Part::Timing) => {
            out.push_str(w.timing_leads);
            out.push_str(&timing());
            if is_material(c.season_g, c.fixed_g) {
                out.push_str(w.gap);
                out.push_str(w.season_adds);
                out.push_str(&season());
            }
        }
    }
    if c.intervals_without_factor > 0 {
        out.push_str(w.gap);
        out.push_str(&w.partial(c.intervals_without_factor));
    }
    out.push_str(w.gap);
    out.push_str(&w.verdict(c.difference_g, c.difference_pct));
    Some(out)
}

/// The words of one language.
struct Words {
    lang: Lang,
    no_import: &'static str,
    season_leads: &'static str,
    timing_leads: &'static str,
    season_adds: &'static str,
    timing_adds: &'static str,
    /// Between two sentences.
    gap: &'static str,
}

impl Words {
    fn of(lang: Lang) -> Words {
        match lang {
            Lang::En => Words {
                lang,
                no_import: "No grid electricity was imported in the period.",
                season_leads: "The season explains most of the difference: ",
                timing_leads: "When you use power explains most of the difference: ",
                season_adds: "The season adds to it: ",
                timing_adds: "The timing of your use adds to it: ",
                gap: " ",
            },
            Lang::Zh => Words {
                lang,
                no_import: "本期未从电网购电。",
                season_leads: "差异主要来自季节：",
                timing_leads: "差异主要来自用电时段：",
                season_adds: "季节因素另有影响：",
                timing_adds: "用电时段另有影响：",
                gap: "",
            },
        }
    }

    fn season(&self, mean: f64, f: f64, season_g: i64) -> String {
        let pct = if f != 0.0 {
            ((mean - f) / f * 100.0).abs()
        } else {
            0.0
        };
        let below = mean < f;
        let over = season_g >= 0;
        match self.lang {
            Lang::En => format!(
                "over this period the grid's factor averaged {mean:.1} g/kWh, {pct:.0}% {} the annual factor ({f} g/kWh), \
                 which makes the fixed factor {} by {:.1} t.",
                if below { "below" } else { "above" },
                if over { "over-count" } else { "under-count" },
                tonnes(season_g)
            ),
            Lang::Zh => format!(
                "本期电网因子平均为 {mean:.1} 克/千瓦时，比年均因子（{f} 克/千瓦时）{}{pct:.0}%，使固定因子{} {:.1} 吨。",
                if below { "低" } else { "高" },
                if over { "多计" } else { "少计" },
                tonnes(season_g)
            ),
        }
    }

    fn timing(&self, w: &Window, timing_g: i64) -> String {
        let above = w.factor_vs_fixed_pct >= 0.0;
        let lowers = timing_g >= 0;
        match self.lang {
            Lang::En => format!(
                "{:.0}% of your use falls in {:02}:00–{:02}:00, when the factor is {:.0}% {} the period's mean, \
                 which {} your hourly figure by {:.1} t against a flat use of the day.",
                w.share * 100.0,
                w.from_hour,
                w.to_hour,
                w.factor_vs_fixed_pct.abs(),
                if above { "above" } else { "below" },
                if lowers { "lowers" } else { "raises" },
                tonnes(timing_g)
            ),
            Lang::Zh => format!(
                "您 {:.0}% 的用电落在 {:02}:00–{:02}:00，该时段因子比本期均值{}{:.0}%，与全天均匀用电相比，使您的逐时排放{} {:.1} 吨。",
                w.share * 100.0,
                w.from_hour,
                w.to_hour,
                if above { "高" } else { "低" },
                w.factor_vs_fixed_pct.abs(),
                if lowers { "减少" } else { "增加" },
                tonnes(timing_g)
            ),
        }
    }

    /// What to do about a material timing part: move use out of dirty hours, or keep it in
    /// clean ones.
    fn advice(&self, timing_g: i64) -> &'static str {
        match (self.lang, timing_g < 0) {
            (Lang::En, true) => " Moving use out of those hours would lower your hourly figure.",
            (Lang::En, false) => " Keeping use in those hours keeps that advantage.",
            (Lang::Zh, true) => "将用电移出这些时段可降低逐时排放。",
            (Lang::Zh, false) => "保持在这些时段用电可保持这一优势。",
        }
    }

    /// A material timing part without a window of hours to name.
    fn profile(&self, timing_g: i64) -> String {
        match self.lang {
            Lang::En => format!(
                "your use over the day {} your hourly figure by {:.1} t against a flat use of the day.",
                if timing_g >= 0 { "lowers" } else { "raises" },
                tonnes(timing_g)
            ),
            Lang::Zh => format!(
                "与全天均匀用电相比，您的日内用电分布使逐时排放{} {:.1} 吨。",
                if timing_g >= 0 { "减少" } else { "增加" },
                tonnes(timing_g)
            ),
        }
    }

    fn timing_small(&self, timing_g: i64) -> String {
        let pct = MATERIAL_SHARE * 100.0;
        match self.lang {
            Lang::En => format!(
                "The timing of your use changes it by only {:.1} t (under {pct:.0}% of the fixed-factor figure), \
                 so moving load between hours would change little.",
                tonnes(timing_g)
            ),
            Lang::Zh => format!(
                "用电时段的影响仅 {:.1} 吨（不足固定因子排放的 {pct:.0}%），在时段间转移负荷作用很小。",
                tonnes(timing_g)
            ),
        }
    }

    fn neither(&self, season_g: i64, timing_g: i64) -> String {
        let pct = MATERIAL_SHARE * 100.0;
        match self.lang {
            Lang::En => format!(
                "The hourly factors give almost the fixed-factor figure: the season ({:.1} t) and the timing of your use \
                 ({:.1} t) each change it by less than {pct:.0}%.",
                tonnes(season_g),
                tonnes(timing_g)
            ),
            Lang::Zh => format!(
                "逐时因子与固定因子的结果几乎相同：季节（{:.1} 吨）与用电时段（{:.1} 吨）的影响均不足 {pct:.0}%。",
                tonnes(season_g),
                tonnes(timing_g)
            ),
        }
    }

    fn partial(&self, n: u64) -> String {
        match self.lang {
            Lang::En => format!(
                "{n} intervals of grid import have no hourly factor and are counted at the fixed factor on both sides; \
                 the comparison speaks of the rest."
            ),
            Lang::Zh => format!("有 {n} 个购电时段没有逐时因子，两边均按固定因子计入；以上比较仅反映其余时段。"),
        }
    }

    fn verdict(&self, difference_g: i64, difference_pct: f64) -> String {
        let over = difference_g >= 0;
        match self.lang {
            Lang::En => format!(
                "At the fixed annual factor your location-based electricity emissions are {} by {:.1} t ({:.1}%).",
                if over { "over-counted" } else { "under-counted" },
                tonnes(difference_g),
                difference_pct.abs()
            ),
            Lang::Zh => format!(
                "按固定年均因子计算，您基于位置的用电排放{} {:.1} 吨（{:.1}%）。",
                if over { "多计" } else { "少计" },
                tonnes(difference_g),
                difference_pct.abs()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    // The fixture of 2,000 MWh at a fixed 500 g/kWh and which part dominates: `tests/why.rs`.

    #[test]
    fn language_tags_map_to_ours() {
        assert_eq!(Lang::from_tag("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::from_tag("ZH_hans"), Some(Lang::Zh));
        assert_eq!(Lang::from_tag("en-GB"), Some(Lang::En));
        assert_eq!(Lang::from_tag("fr"), None);
        assert_eq!(Lang::from_tag(""), None);
    }

    #[test]
    fn materiality_is_one_percent_of_the_fixed_figure() {
        assert!(is_material(10_000_000, 1_000_000_000));
        assert!(!is_material(9_999_999, 1_000_000_000));
        assert!(is_material(-10_000_000, 1_000_000_000));
        assert!(!is_material(0, 0));
    }
}
