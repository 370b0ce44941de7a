//! Annex I of Regulation (EU) 2023/956: which CN codes are CBAM goods, in which category,
//! and whether their indirect emissions count (Annex II).

use serde::{Deserialize, Serialize};

use super::CbamError;

/// A CBAM goods category (Annex I of Regulation (EU) 2023/956).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Cement (CN 2507 00 80, 2523 …).
    Cement,
    /// Electricity (CN 2716 00 00).
    Electricity,
    /// Fertilisers (CN 2808 00 00, 2814, 2834 21 00, 3102, 3105 …).
    Fertilisers,
    /// Iron and steel (CN 2601 12 00, 72 …, selected 73 headings).
    IronAndSteel,
    /// Aluminium (selected 76 headings).
    Aluminium,
    /// Hydrogen (CN 2804 10 00).
    Hydrogen,
}

impl Category {
    /// English name.
    pub fn name(self) -> &'static str {
        match self {
            Category::Cement => "cement",
            Category::Electricity => "electricity",
            Category::Fertilisers => "fertilisers",
            Category::IronAndSteel => "iron and steel",
            Category::Aluminium => "aluminium",
            Category::Hydrogen => "hydrogen",
        }
    }

    /// Whether indirect emissions (electricity consumed) count in the embedded emissions of
    /// this category's goods in the definitive period (from 2026). Article 7(1): for the goods
    /// listed in Annex II only direct emissions are taken into account; Annex II lists iron and
    /// steel, aluminium and hydrogen (reference/factors.md: "indirect emissions count for cement
    /// and fertilisers only … subject to review"). Electricity has its own method.
    pub fn indirect_counts(self) -> bool {
        matches!(self, Category::Cement | Category::Fertilisers)
    }

    /// The rule behind [`Category::indirect_counts`], in words.
    pub fn indirect_rule(self) -> &'static str {
        match self {
            Category::Cement | Category::Fertilisers => {
                "not in Annex II of Regulation (EU) 2023/956: direct and indirect emissions count \
                 (Article 7, Annex IV)"
            }
            Category::IronAndSteel | Category::Aluminium | Category::Hydrogen => {
                "listed in Annex II of Regulation (EU) 2023/956: only direct emissions count in the \
                 definitive period (Article 7; subject to the Commission's review)"
            }
            Category::Electricity => {
                "electricity as a good has its own method (Annex IV points 4 and 5); not modelled"
            }
        }
    }
}

/// One row of the CBAM goods table: a CN code prefix (digits only) and whether goods under it
/// are CBAM goods. The longest matching prefix decides, so exclusions (e.g. ferro-silicon
/// 7202 2) are rows with `covered: false` under a covered chapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CnRule {
    /// CN code prefix, digits only (`"72"`, `"72022"`, `"25232900"`).
    pub prefix: &'static str,
    /// Category.
    pub category: Category,
    /// Whether goods under the prefix are CBAM goods.
    pub covered: bool,
    /// The Annex I entry, in words.
    pub entry: &'static str,
}

const fn r(prefix: &'static str, category: Category, entry: &'static str) -> CnRule {
    CnRule {
        prefix,
        category,
        covered: true,
        entry,
    }
}

const fn x(prefix: &'static str, category: Category, entry: &'static str) -> CnRule {
    CnRule {
        prefix,
        category,
        covered: false,
        entry,
    }
}

/// Annex I of Regulation (EU) 2023/956: the goods CBAM covers, by CN code (with Annex I's own
/// exceptions as `covered: false` rows). See the module documentation for how it was checked.
pub const ANNEX_I: &[CnRule] = {
    use Category::*;
    &[
        // Cement.
        r("25070080", Cement, "2507 00 80 Other kaolinic clays (calcined)"),
        r("25231000", Cement, "2523 10 00 Cement clinkers"),
        r("25232100", Cement, "2523 21 00 White Portland cement"),
        r("25232900", Cement, "2523 29 00 Other Portland cement"),
        r("25233000", Cement, "2523 30 00 Aluminous cement"),
        r("25239000", Cement, "2523 90 00 Other hydraulic cements"),
        // Electricity.
        r("27160000", Electricity, "2716 00 00 Electrical energy"),
        // Fertilisers.
        r("28080000", Fertilisers, "2808 00 00 Nitric acid; sulphonitric acids"),
        r("2814", Fertilisers, "2814 Ammonia, anhydrous or in aqueous solution"),
        r("28342100", Fertilisers, "2834 21 00 Nitrates of potassium"),
        r("3102", Fertilisers, "3102 Mineral or chemical fertilisers, nitrogenous"),
        r(
            "3105",
            Fertilisers,
            "3105 Mineral or chemical fertilisers containing two or three of the fertilising \
             elements nitrogen, phosphorus and potassium; other fertilisers",
        ),
        x(
            "31056000",
            Fertilisers,
            "3105 60 00 fertilisers containing only phosphorus and potassium (excepted from 3105)",
        ),
        // Iron and steel.
        r(
            "26011200",
            IronAndSteel,
            "2601 12 00 Agglomerated iron ores and concentrates, other than roasted iron pyrites",
        ),
        r("72", IronAndSteel, "72 Iron and steel"),
        x("72022", IronAndSteel, "7202 2 Ferro-silicon (excepted from 72)"),
        x("72023000", IronAndSteel, "7202 30 00 Ferro-silico-manganese (excepted from 72)"),
        x("72025000", IronAndSteel, "7202 50 00 Ferro-silico-chromium (excepted from 72)"),
        x("72027000", IronAndSteel, "7202 70 00 Ferro-molybdenum (excepted from 72)"),
        x(
            "72028000",
            IronAndSteel,
            "7202 80 00 Ferro-tungsten and ferro-silico-tungsten (excepted from 72)",
        ),
        x(
            "72029100",
            IronAndSteel,
            "7202 91 00 Ferro-titanium and ferro-silico-titanium (excepted from 72)",
        ),
        x("72029200", IronAndSteel, "7202 92 00 Ferro-vanadium (excepted from 72)"),
        x("72029300", IronAndSteel, "7202 93 00 Ferro-niobium (excepted from 72)"),
        x(
            "720299",
            IronAndSteel,
            "7202 99 Other ferro-alloys: ferro-phosphorus, ferro-silico-magnesium, other (excepted from 72)",
        ),
        x(
            "7204",
            IronAndSteel,
            "7204 Ferrous waste and scrap; remelting scrap ingots (excepted from 72)",
        ),
        r("7301", IronAndSteel, "7301 Sheet piling of iron or steel; welded angles, shapes and sections"),
        r("7302", IronAndSteel, "7302 Railway or tramway track construction material of iron or steel"),
        r("730300", IronAndSteel, "7303 00 Tubes, pipes and hollow profiles, of cast iron"),
        r("7304", IronAndSteel, "7304 Tubes, pipes and hollow profiles, seamless, of iron or steel"),
        r("7305", IronAndSteel, "7305 Other tubes and pipes, external diameter > 406.4 mm"),
        r("7306", IronAndSteel, "7306 Other tubes, pipes and hollow profiles of iron or steel"),
        r("7307", IronAndSteel, "7307 Tube or pipe fittings of iron or steel"),
        r("7308", IronAndSteel, "7308 Structures and parts of structures of iron or steel"),
        r("730900", IronAndSteel, "7309 00 Reservoirs, tanks, vats (capacity > 300 l), of iron or steel"),
        r("7310", IronAndSteel, "7310 Tanks, casks, drums, cans, boxes (capacity <= 300 l), of iron or steel"),
        r("731100", IronAndSteel, "7311 00 Containers for compressed or liquefied gas, of iron or steel"),
        r("7318", IronAndSteel, "7318 Screws, bolts, nuts, rivets, washers and similar, of iron or steel"),
        r("7326", IronAndSteel, "7326 Other articles of iron or steel"),
        // Aluminium.
        r("7601", Aluminium, "7601 Unwrought aluminium"),
        r("7603", Aluminium, "7603 Aluminium powders and flakes"),
        r("7604", Aluminium, "7604 Aluminium bars, rods and profiles"),
        r("7605", Aluminium, "7605 Aluminium wire"),
        r("7606", Aluminium, "7606 Aluminium plates, sheets and strip, thickness > 0.2 mm"),
        r("7607", Aluminium, "7607 Aluminium foil, thickness <= 0.2 mm"),
        r("7608", Aluminium, "7608 Aluminium tubes and pipes"),
        r("76090000", Aluminium, "7609 00 00 Aluminium tube or pipe fittings"),
        r("7610", Aluminium, "7610 Aluminium structures and parts of structures"),
        r("76110000", Aluminium, "7611 00 00 Aluminium reservoirs, tanks, vats (capacity > 300 l)"),
        r("7612", Aluminium, "7612 Aluminium casks, drums, cans, boxes (capacity <= 300 l)"),
        r("76130000", Aluminium, "7613 00 00 Aluminium containers for compressed or liquefied gas"),
        r("7614", Aluminium, "7614 Stranded wire, cables, plaited bands of aluminium, not insulated"),
        r("7616", Aluminium, "7616 Other articles of aluminium"),
        // Hydrogen.
        r("28041000", Hydrogen, "2804 10 00 Hydrogen"),
    ]
};

/// A CN code's CBAM status.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CnClass {
    /// The CN code, 8 digits (a 10-digit TARIC code is cut to its CN part).
    pub cn_code: String,
    /// Whether it is a CBAM good (Annex I).
    pub cbam_good: bool,
    /// Its category, if Annex I names one (also for Annex I's own exceptions).
    pub category: Option<Category>,
    /// The Annex I entry that decided, if any.
    pub annex_i_entry: Option<&'static str>,
    /// Whether indirect emissions count (CBAM goods in the definitive period only).
    pub indirect_emissions_count: bool,
    /// Why, in words.
    pub explanation: String,
}

/// Cleans a CN code: spaces and dots removed; 8 digits (10-digit TARIC codes are cut to 8).
fn normalise_cn(code: &str) -> Result<String, CbamError> {
    let digits: String = code
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '\u{a0}'))
        .collect();
    let err = |reason: &str| CbamError::CnCode {
        code: code.to_owned(),
        reason: reason.to_owned(),
    };
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_digit()) {
        return Err(err(&format!("{c:?} is not a digit")));
    }
    match digits.len() {
        8 => Ok(digits),
        10 => Ok(digits[..8].to_owned()),
        n => Err(err(&format!(
            "it has {n} digits; a heading or HS subheading is not enough because Annex I \
             excepts some 8-digit codes"
        ))),
    }
}

/// Formats 8 digits as `2523 29 00`.
pub(super) fn spaced(cn: &str) -> String {
    match (cn.get(..4), cn.get(4..6), cn.get(6..8)) {
        (Some(a), Some(b), Some(c)) => format!("{a} {b} {c}"),
        _ => cn.to_owned(),
    }
}

/// Whether a CN code is a CBAM good (Annex I of Regulation (EU) 2023/956), its category and
/// whether indirect emissions count for it, with the reason in words.
pub fn classify(cn_code: &str) -> Result<CnClass, CbamError> {
    let cn = normalise_cn(cn_code)?;
    let rule = ANNEX_I
        .iter()
        .filter(|r| cn.starts_with(r.prefix))
        .max_by_key(|r| r.prefix.len());
    let code = spaced(&cn);
    Ok(match rule {
        None => CnClass {
            explanation: format!(
                "CN {code} is not listed in Annex I of Regulation (EU) 2023/956 (cement, \
                 fertilisers, iron and steel, aluminium, hydrogen, electricity), so it is not a \
                 CBAM good: no embedded emissions are declared for it and no certificates are \
                 due. Its product carbon footprint is still computed."
            ),
            cn_code: cn,
            cbam_good: false,
            category: None,
            annex_i_entry: None,
            indirect_emissions_count: false,
        },
        Some(rule) if !rule.covered => CnClass {
            explanation: format!(
                "CN {code} falls under Annex I's {} chapter but is excepted from it ({}), so it is \
                 not a CBAM good.",
                rule.category.name(),
                rule.entry
            ),
            cn_code: cn,
            cbam_good: false,
            category: Some(rule.category),
            annex_i_entry: Some(rule.entry),
            indirect_emissions_count: false,
        },
        Some(rule) => CnClass {
            explanation: format!(
                "CN {code} is a CBAM good ({}: Annex I entry {}); {}.",
                rule.category.name(),
                rule.entry,
                rule.category.indirect_rule()
            ),
            cn_code: cn,
            cbam_good: true,
            category: Some(rule.category),
            annex_i_entry: Some(rule.entry),
            indirect_emissions_count: rule.category.indirect_counts(),
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn codes_are_cleaned_to_eight_digits() {
        assert_eq!(normalise_cn("2523.29 00").unwrap(), "25232900");
        // A 10-digit TARIC code is cut to its CN code.
        assert_eq!(normalise_cn("7601100010").unwrap(), "76011000");
        assert!(normalise_cn("25x3").is_err());
        assert_eq!(spaced("25232900"), "2523 29 00");
    }

    #[test]
    fn cement_counts_indirect_emissions_and_aluminium_does_not() {
        let cement = classify("2523 29 00").unwrap();
        assert!(cement.cbam_good);
        assert_eq!(cement.category, Some(Category::Cement));
        assert!(cement.indirect_emissions_count);
        let aluminium = classify("7601 10 00").unwrap();
        assert_eq!(aluminium.category, Some(Category::Aluminium));
        assert!(!aluminium.indirect_emissions_count);
        // Not in Annex I.
        let other = classify("0101 21 00").unwrap();
        assert!(!other.cbam_good);
        assert_eq!(other.category, None);
    }
}
