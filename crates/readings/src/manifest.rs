//! Publication manifests: the text of a publication's signed note (entry kind `0x03`), one
//! `key value` per line, and the one parser of it. The manifest's method decides what the
//! publication holds ([`PublicationKind`]). Signing, logging and opening a publication (its
//! signature and content) are `tanji-park`'s.

/// The first line of every manifest.
pub const MANIFEST_HEADER: &str = "tanji factor publication v1";

/// What a publication holds, decided by its manifest's method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PublicationKind {
    /// A grid-factor series (the factors CSV); method `tanji-factors/…`.
    Factors,
    /// An enterprise inputs document (JSON: certificates, purchases, output, products); method
    /// `tanji-inputs/…`.
    Inputs,
}

impl PublicationKind {
    /// The method prefix of factor series.
    pub const FACTORS_METHOD_PREFIX: &'static str = "tanji-factors/";
    /// The method prefix of enterprise inputs documents.
    pub const INPUTS_METHOD_PREFIX: &'static str = "tanji-inputs/";

    /// The kind a manifest's method names.
    pub fn of_method(method: &str) -> Result<Self, ManifestError> {
        if method.starts_with(Self::FACTORS_METHOD_PREFIX) {
            Ok(PublicationKind::Factors)
        } else if method.starts_with(Self::INPUTS_METHOD_PREFIX) {
            Ok(PublicationKind::Inputs)
        } else {
            Err(ManifestError::UnknownMethod {
                method: method.to_string(),
            })
        }
    }

    /// `factor publication` or `inputs publication`, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            PublicationKind::Factors => "factor publication",
            PublicationKind::Inputs => "inputs publication",
        }
    }

    /// What the content of this kind is: `series` or `inputs document`.
    pub fn content_noun(self) -> &'static str {
        match self {
            PublicationKind::Factors => "series",
            PublicationKind::Inputs => "inputs document",
        }
    }

    /// The command that publishes one of this kind.
    pub fn publish_command(self) -> &'static str {
        match self {
            PublicationKind::Factors => "tanji factors publish",
            PublicationKind::Inputs => "tanji inputs publish",
        }
    }
}

impl std::fmt::Display for PublicationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PublicationKind::Factors => "factors",
            PublicationKind::Inputs => "inputs",
        })
    }
}

/// A manifest that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The first line is not the manifest header.
    #[error("the manifest starts with {found:?}, not {MANIFEST_HEADER:?}")]
    Header {
        /// The first line found.
        found: String,
    },
    /// A required line is missing.
    #[error("the manifest has no `{key}` line")]
    Missing {
        /// The key of the missing line.
        key: &'static str,
    },
    /// The content line is malformed.
    #[error("content line {value:?}: expected `sha256:<64 hex digits> <length in bytes>`")]
    Content {
        /// The line's value.
        value: String,
    },
    /// The method names neither kind.
    #[error(
        "method {method:?} names neither a factor series (tanji-factors/…) nor enterprise inputs (tanji-inputs/…)"
    )]
    UnknownMethod {
        /// The method found.
        method: String,
    },
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// What the publication holds, from its method.
    pub kind: PublicationKind,
    /// `<name>@v<n>`.
    pub id: String,
    /// The method named in the manifest.
    pub method: String,
    /// SHA-256 of the content.
    pub content_hash: [u8; 32],
    /// Content length in bytes.
    pub content_len: u64,
    /// Regions (`regions` line; empty for inputs).
    pub regions: Vec<String>,
    /// `calibration` lines, verbatim.
    pub calibrations: Vec<String>,
    /// The manifest's text.
    pub text: String,
}

impl Manifest {
    /// Whether `want` names this publication: its id (`name@vN`) or its name.
    pub fn is_named(&self, want: &str) -> bool {
        is_named(&self.id, want)
    }
}

/// Whether `want` names the publication `id`: the id itself (`name@vN`) or its name.
pub fn is_named(id: &str, want: &str) -> bool {
    id == want || id.split('@').next() == Some(want)
}

fn parse_content(value: &str) -> Option<([u8; 32], u64)> {
    let (h, len) = value.split_once(' ')?;
    let hash: [u8; 32] = hex::decode(h.strip_prefix("sha256:")?)
        .ok()?
        .try_into()
        .ok()?;
    Some((hash, len.parse().ok()?))
}

/// Parses a manifest (the text of a publication's signed note) and decides its kind.
pub fn parse_manifest(text: &str) -> Result<Manifest, ManifestError> {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    if first != MANIFEST_HEADER {
        return Err(ManifestError::Header {
            found: first.to_string(),
        });
    }
    let (mut id, mut method, mut content) = (None, None, None);
    let (mut regions, mut calibrations) = (Vec::new(), Vec::new());
    for line in lines {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "id" => id = Some(value.to_string()),
            "method" => method = Some(value.to_string()),
            "regions" if !value.is_empty() => {
                regions = value.split(',').map(str::to_string).collect();
            }
            "calibration" => calibrations.push(value.to_string()),
            "content" => {
                content = Some(parse_content(value).ok_or_else(|| ManifestError::Content {
                    value: value.to_string(),
                })?);
            }
            _ => {}
        }
    }
    let id = id.ok_or(ManifestError::Missing { key: "id" })?;
    let method = method.ok_or(ManifestError::Missing { key: "method" })?;
    let (content_hash, content_len) = content.ok_or(ManifestError::Missing { key: "content" })?;
    Ok(Manifest {
        kind: PublicationKind::of_method(&method)?,
        id,
        method,
        content_hash,
        content_len,
        regions,
        calibrations,
        text: text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn the_method_decides_the_kind_and_every_required_line_is_checked() {
        let text = format!(
            "{MANIFEST_HEADER}\nid grid@v2\nmethod tanji-factors/flow-tracing-v1\ncontent {HASH} 120\nregions A,B\ncalibration A target=0.5\n"
        );
        let m = parse_manifest(&text).expect("a manifest");
        assert_eq!(
            (m.kind, m.id.as_str(), m.content_len),
            (PublicationKind::Factors, "grid@v2", 120)
        );
        assert_eq!(m.regions, ["A", "B"]);
        assert!(m.is_named("grid") && m.is_named("grid@v2") && !m.is_named("grid@v1"));
        let inputs = text.replace("tanji-factors/flow-tracing-v1", "tanji-inputs/v1");
        assert_eq!(
            parse_manifest(&inputs).map(|m| m.kind),
            Ok(PublicationKind::Inputs)
        );
        assert!(matches!(
            parse_manifest(&text.replace("tanji-factors/", "other/")),
            Err(ManifestError::UnknownMethod { .. })
        ));
        assert_eq!(
            parse_manifest(&text.replace(" 120", "")),
            Err(ManifestError::Content {
                value: HASH.to_string()
            })
        );
        assert_eq!(
            parse_manifest(&text.replace("id grid@v2\n", "")),
            Err(ManifestError::Missing { key: "id" })
        );
        assert!(matches!(
            parse_manifest("hello\n"),
            Err(ManifestError::Header { .. })
        ));
    }
}
