//! ARCHITECTURE.md checks itself: the fenced ```` ```architecture ```` block of the document is
//! the rule set, and this test holds the workspace to it.
//!
//! - Every dependency edge between workspace crates (normal and build dependencies; dev-
//!   dependencies are free) must be listed in the block, and every listed edge must exist: the
//!   document and `cargo metadata` agree exactly, so neither can drift from the other.
//! - The no-IO crates may depend only on no-IO crates and never, directly or through another
//!   crate (`cargo tree`), on the external crates the block forbids them (tokio, rusqlite,
//!   axum, …); `only … depend on:` lines name the only crates allowed a given external crate
//!   (anyhow, tokio, axum). Every crate has a section headed ``## `crates/<name>` ``.
//! - The no-IO crates' `src/` is scanned (comments and string literals blanked out, grouped
//!   `use` trees expanded) for the forbidden paths (`std::fs`, `std::net`, the clocks); an
//!   exception is allowed only where the block names the file and the path.
//! - No function in `crates/*/src` outside `#[cfg(test)]` modules spans more than
//!   [`MAX_FN_LINES`] lines; only generated tables may be exempted ([`GENERATED_TABLES`]).
//!
//! The checking functions take the document's text and the metadata JSON, so the tests at the
//! bottom feed them fixtures with a deliberate violation and assert the error names it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The rules written in ARCHITECTURE.md's ```` ```architecture ```` block.
#[derive(Debug, Default)]
struct Rules {
    /// Crate (directory name under `crates/`) → the workspace crates it may and does depend on.
    edges: BTreeMap<String, BTreeSet<String>>,
    /// The bottom crates, which do no IO.
    no_io: BTreeSet<String>,
    /// External crates a no-IO crate must not depend on.
    no_io_forbidden_deps: BTreeSet<String>,
    /// Paths a no-IO crate's source must not name (`std::fs`, `Instant::now`, …).
    no_io_forbidden_paths: Vec<String>,
    /// (file relative to `crates/`, path) pairs allowed despite the above.
    exceptions: BTreeSet<(String, String)>,
    /// External crate → the only workspace crates that may depend on it.
    only: BTreeMap<String, BTreeSet<String>>,
}

/// One workspace crate as `cargo metadata` describes it.
#[derive(Debug, Default)]
struct Crate {
    /// Workspace crates it depends on (normal and build dependencies), by directory name.
    internal: BTreeSet<String>,
    /// External crates it depends on (normal and build dependencies), by package name.
    external: BTreeSet<String>,
    /// Its `src/` directory.
    src: PathBuf,
    /// Its package name (`tanji-units`).
    package: String,
}

const FENCE: &str = "```architecture";

fn list(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
}

/// Parses the ```` ```architecture ```` block of `markdown`.
fn parse_rules(markdown: &str) -> Result<Rules, String> {
    let mut lines = markdown.lines().skip_while(|l| l.trim_end() != FENCE);
    if lines.next().is_none() {
        return Err(format!(
            "ARCHITECTURE.md has no line {FENCE:?}; add that block listing the allowed dependency edges"
        ));
    }
    let mut block = Vec::new();
    loop {
        match lines.next() {
            None => {
                return Err(format!(
                    "ARCHITECTURE.md: the {FENCE} block is not closed with ```"
                ))
            }
            Some(l) if l.trim_start().starts_with("```") => break,
            Some(l) => block.push(l),
        }
    }
    let mut rules = Rules::default();
    for (n, raw) in block.into_iter().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let bad = || {
            format!("ARCHITECTURE.md {FENCE} block, line {}: {raw:?} is not `crate -> dep, dep`, `no-io crates: …`, `no-io forbids dependency: …`, `no-io forbids in src: …`, `exception <file>: <path>` or `only <crates> depend on: <crates>`", n + 1)
        };
        if let Some((krate, deps)) = line.split_once("->") {
            let krate = krate.trim().to_string();
            if rules.edges.contains_key(&krate) {
                return Err(format!("ARCHITECTURE.md {FENCE} block, line {}: crate {krate:?} is listed twice; give each crate one line", n + 1));
            }
            rules.edges.insert(krate, list(deps).collect());
        } else if let Some(v) = line.strip_prefix("no-io crates:") {
            rules.no_io.extend(list(v));
        } else if let Some(v) = line.strip_prefix("no-io forbids dependency:") {
            rules.no_io_forbidden_deps.extend(list(v));
        } else if let Some(v) = line.strip_prefix("no-io forbids in src:") {
            rules.no_io_forbidden_paths.extend(list(v));
        } else if let Some(v) = line.strip_prefix("exception ") {
            let (file, path) = v.split_once(':').ok_or_else(bad)?;
            rules
                .exceptions
                .insert((file.trim().to_string(), path.trim().to_string()));
        } else if let Some(v) = line.strip_prefix("only ") {
            let (who, what) = v.split_once("depend on:").ok_or_else(bad)?;
            let who: BTreeSet<String> = list(who).collect();
            for dep in list(what) {
                rules
                    .only
                    .entry(dep)
                    .or_default()
                    .extend(who.iter().cloned());
            }
        } else {
            return Err(bad());
        }
    }
    Ok(rules)
}

/// The workspace crates of `cargo metadata --no-deps` output, keyed by directory name.
fn parse_metadata(metadata: &Value) -> Result<BTreeMap<String, Crate>, String> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata: no `packages` array")?;
    // Package name → directory name under crates/ (the name the document uses).
    let mut dir_of = BTreeMap::new();
    for p in packages {
        let name = p["name"]
            .as_str()
            .ok_or("cargo metadata: a package without a name")?;
        let manifest = Path::new(
            p["manifest_path"]
                .as_str()
                .ok_or_else(|| format!("cargo metadata: package {name} has no manifest_path"))?,
        );
        let dir = manifest
            .parent()
            .and_then(Path::file_name)
            .and_then(|d| d.to_str())
            .ok_or_else(|| {
                format!(
                    "cargo metadata: package {name}: cannot tell its directory from {manifest:?}"
                )
            })?;
        dir_of.insert(
            name.to_string(),
            (dir.to_string(), manifest.with_file_name("src")),
        );
    }
    let mut crates = BTreeMap::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or_default();
        let (dir, src) = dir_of[name].clone();
        let mut c = Crate {
            src,
            package: name.to_string(),
            ..Crate::default()
        };
        for d in p["dependencies"].as_array().into_iter().flatten() {
            if d["kind"].as_str() == Some("dev") {
                continue;
            }
            let dep = d["name"].as_str().ok_or_else(|| {
                format!("cargo metadata: package {name} has a dependency without a name")
            })?;
            match dir_of.get(dep) {
                Some((dep_dir, _)) => c.internal.insert(dep_dir.clone()),
                None => c.external.insert(dep.to_string()),
            };
        }
        crates.insert(dir, c);
    }
    Ok(crates)
}

/// Every way the workspace's dependencies differ from the rules, one sentence each.
fn check_dependencies(rules: &Rules, crates: &BTreeMap<String, Crate>) -> Vec<String> {
    let mut errors = Vec::new();
    for (name, c) in crates {
        let Some(allowed) = rules.edges.get(name) else {
            errors.push(format!("crate {name} is not in ARCHITECTURE.md's dependency block; add a line `{name} -> {}`", c.internal.iter().cloned().collect::<Vec<_>>().join(", ")));
            continue;
        };
        for dep in c.internal.difference(allowed) {
            errors.push(format!("edge {name} -> {dep} exists in Cargo.toml but is not allowed by ARCHITECTURE.md; remove the dependency or add the edge to the document (and say why)"));
        }
        for dep in allowed.difference(&c.internal) {
            errors.push(format!("edge {name} -> {dep} is listed in ARCHITECTURE.md but {name} does not depend on {dep}; remove it from the document"));
        }
        if rules.no_io.contains(name) {
            for dep in c.internal.iter().filter(|d| !rules.no_io.contains(*d)) {
                errors.push(format!("no-IO crate {name} depends on {dep}, which is not a no-IO crate; the bottom crates depend only on each other"));
            }
            for dep in c.external.intersection(&rules.no_io_forbidden_deps) {
                errors.push(format!("no-IO crate {name} depends on {dep}, which ARCHITECTURE.md forbids below store"));
            }
        }
        for (dep, who) in &rules.only {
            if c.external.contains(dep) && !who.contains(name) {
                errors.push(format!(
                    "crate {name} depends on {dep}, which ARCHITECTURE.md allows only in {}",
                    who.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    for name in rules.edges.keys().filter(|n| !crates.contains_key(*n)) {
        errors.push(format!(
            "ARCHITECTURE.md lists crate {name}, which is not in the workspace; remove its line"
        ));
    }
    for name in rules.no_io.iter().filter(|n| !crates.contains_key(*n)) {
        errors.push(format!(
            "ARCHITECTURE.md names {name} a no-IO crate, but it is not in the workspace"
        ));
    }
    errors
}

/// Root package → every package in its tree, from `cargo tree --prefix depth --format {p}`
/// output (lines `0tanji-units v0.1.0 (/path)`, `1serde v1.0.0`, …).
fn parse_tree(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut trees: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut root = None;
    for line in text.lines() {
        let rest = line.trim_start_matches(|c: char| c.is_ascii_digit());
        let depth = &line[..line.len() - rest.len()];
        let Some(name) = rest.split_whitespace().next() else {
            continue;
        };
        if depth == "0" {
            root = Some(name.to_string());
            trees.entry(name.to_string()).or_default();
        } else if let Some(r) = &root {
            trees.entry(r.clone()).or_default().insert(name.to_string());
        }
    }
    trees
}

/// Every forbidden external crate a no-IO crate reaches through its normal dependencies.
fn check_transitive(
    rules: &Rules,
    crates: &BTreeMap<String, Crate>,
    trees: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut errors = Vec::new();
    for name in &rules.no_io {
        let Some(c) = crates.get(name) else { continue };
        let Some(tree) = trees.get(&c.package) else {
            errors.push(format!("cargo tree printed no tree for {}", c.package));
            continue;
        };
        for dep in tree
            .intersection(&rules.no_io_forbidden_deps)
            .filter(|d| !c.external.contains(*d))
        {
            errors.push(format!("no-IO crate {name} depends on {dep} through another crate, which ARCHITECTURE.md forbids below store; `cargo tree -e normal -p {} -i {dep}` shows how", c.package));
        }
    }
    errors
}

/// `text` with comments and the contents of string and character literals replaced by spaces
/// (newlines kept, so line numbers stay right).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && matches!(next, Some('"') | Some('#'))
            && raw_string_may_start(&chars, i)
        {
            // A raw string r"…" or r#"…"#: ends at a quote followed by as many hashes.
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            out.extend(std::iter::repeat_n(' ', j + 1 - i));
            i = j + 1;
            while i < chars.len() {
                if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                    out.extend(std::iter::repeat_n(' ', hashes + 1));
                    i += hashes + 1;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if let Some(&x) = chars.get(i) {
                    out.push(blank(x));
                }
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\u{..}'); a lifetime ('a) has no closing quote.
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Can the `r` at `chars[i]` open a raw string (`r"…"`, `br"…"`), rather than end a name?
fn raw_string_may_start(chars: &[char], i: usize) -> bool {
    let before = |k: usize| i.checked_sub(k).and_then(|j| chars.get(j)).copied();
    !ident_char(before(1)) || (before(1) == Some('b') && !ident_char(before(2)))
}

fn ident_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// The full paths of a `use` tree (`std::{fs, time::{Instant, Duration}}` →
/// `std::fs`, `std::time::Instant`, `std::time::Duration`).
fn expand_use(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let prefix = join(prefix, head);
        let inner = tree[open + 1..].trim_end().trim_end_matches('}');
        let mut depth = 0;
        let mut start = 0;
        for (k, ch) in inner.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand_use(&prefix, &inner[start..k], out);
                    start = k + 1;
                }
                _ => {}
            }
        }
        expand_use(&prefix, &inner[start..], out);
    } else if !tree.is_empty() {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        out.push(join(prefix, path));
    }
}

fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty() || path == "self") {
        (true, _) => path.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}::{path}"),
    }
}

/// Does `hay` contain `path` as a whole path (not as part of a longer identifier)?
fn names_path(hay: &str, path: &str) -> bool {
    hay.match_indices(path).any(|(at, _)| {
        !ident_char(hay[..at].chars().next_back())
            && !ident_char(hay[at + path.len()..].chars().next())
    })
}

/// (line, forbidden path) for every forbidden path `source` names in code, in a `use` tree or
/// inline.
fn scan_source(source: &str, forbidden: &[String]) -> Vec<(usize, String)> {
    let code = code_only(source);
    let mut found = Vec::new();
    // Inline paths, whitespace around `::` removed.
    for (n, line) in code.lines().enumerate() {
        let squeezed: String = line
            .split("::")
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("::");
        for p in forbidden.iter().filter(|p| names_path(&squeezed, p)) {
            found.push((n + 1, p.clone()));
        }
    }
    // `use` trees, which may spread a path over braces and lines.
    let mut from = 0;
    while let Some(at) = code[from..].find("use ").map(|k| k + from) {
        from = at + 4;
        if ident_char(code[..at].chars().next_back()) {
            continue;
        }
        let Some(end) = code[at..].find(';').map(|k| k + at) else {
            break;
        };
        let mut paths = Vec::new();
        expand_use("", &code[at + 4..end], &mut paths);
        let line = code[..at].matches('\n').count() + 1;
        for path in paths {
            let path: String = path.split_whitespace().collect();
            for p in forbidden.iter().filter(|p| names_path(&path, p)) {
                if !found.contains(&(line, p.clone())) {
                    found.push((line, p.clone()));
                }
            }
        }
        from = end;
    }
    found.sort();
    found.dedup();
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Every forbidden path named in a no-IO crate's `src/` that no exception allows.
fn check_sources(
    rules: &Rules,
    crates: &BTreeMap<String, Crate>,
    crates_dir: &Path,
) -> Vec<String> {
    let mut errors = Vec::new();
    let mut used_exceptions = BTreeSet::new();
    for name in &rules.no_io {
        let Some(c) = crates.get(name) else { continue };
        let mut files = Vec::new();
        if let Err(e) = rust_files(&c.src, &mut files) {
            errors.push(format!("cannot read {}: {e}", c.src.display()));
            continue;
        }
        files.sort();
        for file in files {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    errors.push(format!("cannot read {}: {e}", file.display()));
                    continue;
                }
            };
            let rel = file
                .strip_prefix(crates_dir)
                .unwrap_or(&file)
                .to_string_lossy()
                .replace('\\', "/");
            for (line, path) in scan_source(&text, &rules.no_io_forbidden_paths) {
                let key = (rel.clone(), path.clone());
                if rules.exceptions.contains(&key) {
                    used_exceptions.insert(key);
                } else {
                    errors.push(format!("crates/{rel}:{line}: no-IO crate {name} uses {path}; pass the value in from the caller (store or above), or, if this is right, add `exception {rel}: {path}` to ARCHITECTURE.md with the reason"));
                }
            }
        }
    }
    for (file, path) in rules.exceptions.difference(&used_exceptions) {
        errors.push(format!("ARCHITECTURE.md allows {path} in crates/{file}, which no longer uses it; remove the exception"));
    }
    errors
}

fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Canonical, like the manifest paths `cargo metadata` prints, so that file paths can be
    // made relative to `crates/`.
    root.canonicalize()
        .unwrap_or_else(|e| panic!("cannot resolve the workspace root {}: {e}", root.display()))
}

fn rules() -> Rules {
    let path = workspace_root().join("ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_rules(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn metadata() -> BTreeMap<String, Crate> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
            "--manifest-path",
        ])
        .arg(workspace_root().join("Cargo.toml"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo metadata: {e}"));
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("cargo metadata printed something that is not JSON: {e}"));
    parse_metadata(&json).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_dependency_graph_is_exactly_the_one_architecture_md_draws() {
    let rules = rules();
    let crates = metadata();
    // The document covers the whole workspace and the bottom crates it names.
    assert!(crates.len() >= 15, "only {} crates found", crates.len());
    assert!(rules.no_io.contains("units") && rules.no_io.contains("accounting"));
    for dep in ["tokio", "rusqlite", "axum"] {
        assert!(
            rules.no_io_forbidden_deps.contains(dep),
            "the no-IO rules must forbid {dep}"
        );
    }
    let mut errors = check_dependencies(&rules, &crates);
    // And every crate has its section, saying what it is and what it is not.
    let doc = std::fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).unwrap_or_default();
    for name in crates.keys() {
        if !doc.contains(&format!("\n## `crates/{name}`")) {
            errors.push(format!("crate {name} has no section \"## `crates/{name}`\" in ARCHITECTURE.md; add one (what it is, what it is not, its invariants)"));
        }
    }
    assert!(
        errors.is_empty(),
        "ARCHITECTURE.md and Cargo.toml disagree:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_bottom_crates_reach_no_forbidden_crate_indirectly() {
    let rules = rules();
    let crates = metadata();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "tree",
        "-e",
        "normal",
        "--prefix",
        "depth",
        "--format",
        "{p}",
        "--manifest-path",
    ])
    .arg(workspace_root().join("Cargo.toml"));
    for name in &rules.no_io {
        if let Some(c) = crates.get(name) {
            cmd.args(["-p", &c.package]);
        }
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo tree: {e}"));
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trees = parse_tree(&String::from_utf8_lossy(&out.stdout));
    // The trees were read: every bottom crate has one, and accounting's holds units.
    assert_eq!(trees.len(), rules.no_io.len(), "{:?}", trees.keys());
    assert!(trees["tanji-accounting"].contains("tanji-units"));
    let errors = check_transitive(&rules, &crates, &trees);
    assert!(
        errors.is_empty(),
        "forbidden crates below store:\n{}",
        errors.join("\n")
    );
}

#[test]
fn an_indirect_forbidden_crate_is_named() {
    let rules = parse_rules(FIXTURE_DOC).unwrap_or_else(|e| panic!("{e}"));
    let crates = fixture(&[("tanji-units", None), ("some-client", None)]);
    let tree = "0tanji-accounting v0.1.0 (/ws/crates/accounting)\n1some-client v1.0.0\n2tokio v1.0.0\n\
                1tanji-units v0.1.0 (/ws/crates/units)\n0tanji-units v0.1.0 (/ws/crates/units)\n1serde v1.0.0\n";
    let trees = parse_tree(tree);
    assert_eq!(trees["tanji-units"], BTreeSet::from(["serde".to_string()]));
    let errors = check_transitive(&rules, &crates, &trees);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("no-IO crate accounting depends on tokio through another crate"),
        "{errors:#?}"
    );
}

#[test]
fn the_bottom_crates_do_no_io_and_read_no_clock() {
    let rules = rules();
    for path in [
        "std::fs",
        "std::net",
        "SystemTime::now",
        "Instant::now",
        "Timestamp::now",
        "Zoned::now",
    ] {
        assert!(
            rules.no_io_forbidden_paths.iter().any(|p| p == path),
            "the no-IO rules must forbid {path}"
        );
    }
    let errors = check_sources(&rules, &metadata(), &workspace_root().join("crates"));
    assert!(
        errors.is_empty(),
        "IO or a clock below store:\n{}",
        errors.join("\n")
    );
}

// The checks themselves, on fixtures with a deliberate violation.

const FIXTURE_DOC: &str = "# Architecture\n\n```architecture\n\
units ->            # no deps\n\
accounting -> units\n\
store -> units\n\
cli -> accounting, store\n\
no-io crates: units, accounting\n\
no-io forbids dependency: tokio, rusqlite\n\
no-io forbids in src: std::fs, std::net, Instant::now, SystemTime::now\n\
exception units/src/bench.rs: Instant::now\n\
only cli depend on: anyhow\n\
```\n";

fn package(name: &str, dir: &str, deps: &[(&str, Option<&str>)]) -> Value {
    let deps: Vec<Value> = deps
        .iter()
        .map(|(d, kind)| serde_json::json!({ "name": d, "kind": kind }))
        .collect();
    serde_json::json!({
        "name": name,
        "manifest_path": format!("/ws/crates/{dir}/Cargo.toml"),
        "dependencies": deps,
    })
}

fn fixture(accounting_deps: &[(&str, Option<&str>)]) -> BTreeMap<String, Crate> {
    let json = serde_json::json!({ "packages": [
        package("tanji-units", "units", &[("serde", None)]),
        package("tanji-accounting", "accounting", accounting_deps),
        package("tanji-store", "store", &[("tanji-units", None), ("rusqlite", None)]),
        package("tanji-cli", "cli", &[("tanji-accounting", None), ("tanji-store", None), ("anyhow", None)]),
    ]});
    parse_metadata(&json).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_fixture_workspace_passes() {
    let rules = parse_rules(FIXTURE_DOC).unwrap_or_else(|e| panic!("{e}"));
    // A dev-dependency on store is free.
    let crates = fixture(&[("tanji-units", None), ("tanji-store", Some("dev"))]);
    assert_eq!(check_dependencies(&rules, &crates), Vec::<String>::new());
}

#[test]
fn a_forbidden_edge_is_named() {
    let rules = parse_rules(FIXTURE_DOC).unwrap_or_else(|e| panic!("{e}"));
    let crates = fixture(&[("tanji-units", None), ("tanji-store", None)]);
    let errors = check_dependencies(&rules, &crates);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with("edge accounting -> store exists in Cargo.toml but is not allowed"),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with("no-IO crate accounting depends on store"),
        "{errors:#?}"
    );
}

#[test]
fn an_edge_the_document_lists_but_the_code_lacks_is_named() {
    let rules = parse_rules(FIXTURE_DOC).unwrap_or_else(|e| panic!("{e}"));
    let errors = check_dependencies(&rules, &fixture(&[]));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].starts_with("edge accounting -> units is listed in ARCHITECTURE.md but accounting does not depend on units"), "{errors:#?}");
}

#[test]
fn forbidden_external_crates_are_named() {
    let rules = parse_rules(FIXTURE_DOC).unwrap_or_else(|e| panic!("{e}"));
    let crates = fixture(&[
        ("tanji-units", None),
        ("tokio", None),
        ("anyhow", Some("build")),
    ]);
    let errors = check_dependencies(&rules, &crates);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].contains("no-IO crate accounting depends on tokio"),
        "{errors:#?}"
    );
    assert!(
        errors[1]
            .contains("accounting depends on anyhow, which ARCHITECTURE.md allows only in cli"),
        "{errors:#?}"
    );
}

#[test]
fn a_crate_missing_from_the_document_is_named() {
    let rules =
        parse_rules(&FIXTURE_DOC.replace("store -> units\n", "")).unwrap_or_else(|e| panic!("{e}"));
    let errors = check_dependencies(&rules, &fixture(&[("tanji-units", None)]));
    assert_eq!(
        errors,
        vec![
            "crate store is not in ARCHITECTURE.md's dependency block; add a line `store -> units`"
                .to_string()
        ]
    );
}

#[test]
fn a_malformed_rule_line_is_refused() {
    let doc = FIXTURE_DOC.replace("only cli", "olny cli");
    let err = parse_rules(&doc).err().unwrap_or_default();
    assert!(err.contains("\"olny cli depend on: anyhow\""), "{err}");
    assert!(parse_rules("no block here").is_err());
}

#[test]
fn the_source_scan_finds_io_and_clocks_however_they_are_written() {
    let forbidden: Vec<String> = ["std::fs", "std::net", "Instant::now", "SystemTime::now"]
        .map(String::from)
        .to_vec();
    let src = r##"//! Reads std::fs nowhere (a comment).
use std::{
    collections::BTreeMap,
    net::TcpStream,
};
use std::time::{Duration, Instant};
/* std::fs::read in a block comment */
const S: &str = "std::fs::read in a string";
const R: &str = r#"Instant::now() in a raw string"#;
fn f<'a>(x: &'a str) -> char {
    let _ = std::fs::read_to_string(x);
    let t = Instant :: now();
    let _ = MyInstant::now();
    '"'
}
fn g() { let _ = std::time::SystemTime::now(); }
"##;
    let found = scan_source(src, &forbidden);
    let expected: Vec<(usize, String)> = vec![
        (2, "std::net".into()),
        (11, "std::fs".into()),
        (12, "Instant::now".into()),
        (16, "SystemTime::now".into()),
    ];
    assert_eq!(found, expected);
    // A grouped import of the module itself.
    assert_eq!(
        scan_source("use std::{fs, io};\n", &forbidden),
        vec![(1, "std::fs".to_string())]
    );
}

#[test]
fn exceptions_must_be_used_and_only_cover_their_file() {
    let rules = parse_rules(FIXTURE_DOC).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let units = dir.path().join("units/src");
    let accounting = dir.path().join("accounting/src");
    for d in [&units, &accounting] {
        std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{e}"));
    }
    let write = |p: PathBuf, s: &str| std::fs::write(p, s).unwrap_or_else(|e| panic!("{e}"));
    write(
        units.join("bench.rs"),
        "fn t() { let _ = std::time::Instant::now(); }\n",
    );
    write(
        accounting.join("lib.rs"),
        "//! Pure.\nfn t() {\n    let _ = std::time::Instant::now();\n}\n",
    );
    let mut crates = fixture(&[("tanji-units", None)]);
    for (name, src) in [("units", &units), ("accounting", &accounting)] {
        if let Some(c) = crates.get_mut(name) {
            c.src = src.clone();
        }
    }
    let errors = check_sources(&rules, &crates, dir.path());
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(
            "crates/accounting/src/lib.rs:3: no-IO crate accounting uses Instant::now"
        ),
        "{errors:#?}"
    );

    write(units.join("bench.rs"), "fn t() {}\n");
    let errors = check_sources(&rules, &crates, dir.path());
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[1].starts_with("ARCHITECTURE.md allows Instant::now in crates/units/src/bench.rs, which no longer uses it"), "{errors:#?}");
}

/// Every `docs/….md` path cited in `text`, with its line number.
fn cited_docs(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("docs/") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || "/_-.".contains(c)))
                .unwrap_or(tail.len());
            let path = tail[..end].trim_end_matches('.');
            if path.ends_with(".md") && !rest[..at].ends_with('/') {
                found.push((n + 1, path.to_owned()));
            }
            rest = &tail[end.max(5)..];
        }
    }
    found
}

/// Places outside the repository a reader of the code cannot open.
const OUTSIDE: &[&str] = &["shared/reference/", "/work/", "PRODUCT.md"];

/// What the code and the docs cite as a source must be in the repository: a reader checking
/// a constant against its table opens the file named beside it.
fn check_citations(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["crates", "docs", "data"] {
        let mut found = Vec::new();
        let _ = markdown_and_rust(&root.join(dir), &mut found);
        files.extend(found);
    }
    files.sort();
    let mut errors = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        // This file names the forbidden places in order to find them.
        if rel.ends_with("cli/tests/architecture.rs") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            for outside in OUTSIDE {
                if line.contains(outside) {
                    errors.push(format!("{rel}:{}: cites {outside:?}, which is not in the repository; cite the copy under docs/reference/", n + 1));
                }
            }
        }
        for (n, path) in cited_docs(&text) {
            if !root.join(&path).is_file() {
                errors.push(format!("{rel}:{n}: cites {path}, which does not exist"));
            }
        }
    }
    errors
}

fn markdown_and_rust(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            markdown_and_rust(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs" || e == "md") {
            out.push(path);
        }
    }
    Ok(())
}

#[test]
fn every_cited_source_is_in_the_repository() {
    let errors = check_citations(&workspace_root());
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn a_citation_outside_the_repository_or_of_a_missing_doc_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("crates/x/src")).unwrap();
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/here.md"), "# here\n").unwrap();
    std::fs::write(
        dir.path().join("crates/x/src/lib.rs"),
        "//! See docs/here.md and docs/gone.md.\n//! From /work/shared/reference/factors.md.\n",
    )
    .unwrap();
    let errors = check_citations(dir.path());
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors.iter().any(|e| e.contains("docs/gone.md")));
    assert!(!errors.iter().any(|e| e.contains("docs/here.md")));
    assert!(errors.iter().any(|e| e.contains("/work/")));
}

// ---- Function length -------------------------------------------------------------------------

/// The most lines a non-test function in `crates/*/src` may span, from its `fn` line to its
/// closing brace. A longer one wants named stages: functions, or a struct with a method per
/// stage.
const MAX_FN_LINES: usize = 150;

/// `(file under crates/, function)` pairs allowed over [`MAX_FN_LINES`]: only generated tables
/// may be listed here, each with a comment saying what generates it. None exist today.
const GENERATED_TABLES: &[(&str, &str)] = &[];

/// One function found by [`long_functions`].
#[derive(Debug, PartialEq, Eq)]
struct LongFn {
    /// 1-based line of its `fn`.
    line: usize,
    name: String,
    /// Lines from the `fn` line to the closing brace, both included.
    lines: usize,
}

/// The name of the function declared on `line`, if it declares one (`pub(crate) async fn x`).
fn declared_fn(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("pub(") {
            rest = r.split_once(')')?.1.trim_start();
        } else if let Some(r) = ["pub ", "async ", "const ", "unsafe ", "default "]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
        {
            rest = r.trim_start();
        } else {
            break;
        }
    }
    let rest = rest.strip_prefix("fn ")?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// The index of the line where the brace block starting at or after line `from` closes, or
/// `None` when a `;` ends the item before any `{` (a declaration without a body) or the block
/// never closes.
fn block_end(lines: &[&str], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut opened = false;
    for (i, line) in lines.iter().enumerate().skip(from) {
        for c in line.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    if opened && depth == 0 {
                        return Some(i);
                    }
                }
                ';' if !opened => return None,
                _ => {}
            }
        }
    }
    None
}

/// Whether line `i` opens a `#[cfg(test)]` module (the attribute, then `mod name`).
fn test_module_at(lines: &[&str], i: usize) -> bool {
    lines[i].trim() == "#[cfg(test)]"
        && lines[i + 1..]
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty() && !l.starts_with("#["))
            .is_some_and(|l| l.starts_with("mod ") || l.starts_with("pub mod "))
}

/// The functions of `source` over `max` lines, outside `#[cfg(test)]` modules. Comments and
/// literals are blanked first, so braces in them do not count; a function nested in another
/// counts as part of it.
fn long_functions(source: &str, max: usize) -> Vec<LongFn> {
    let code = code_only(source);
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if test_module_at(&lines, i) {
            // `mod tests;` ends at its `;` (the file is skipped by the caller); `mod tests {`
            // at its closing brace.
            i = block_end(&lines, i + 1).unwrap_or(i) + 1;
            continue;
        }
        if let Some(name) = declared_fn(lines[i]) {
            if let Some(end) = block_end(&lines, i) {
                let n = end - i + 1;
                if n > max {
                    found.push(LongFn {
                        line: i + 1,
                        name: name.to_string(),
                        lines: n,
                    });
                }
                i = end;
            }
        }
        i += 1;
    }
    found
}

/// The files of the `#[cfg(test)] mod name;` declarations in `file` (`name.rs` or
/// `name/mod.rs` beside a `lib.rs`, `main.rs` or `mod.rs`, else in the directory named after
/// `file`).
fn test_module_files(file: &Path, source: &str) -> Vec<PathBuf> {
    let code = code_only(source);
    let lines: Vec<&str> = code.lines().collect();
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let parent = file.parent().unwrap_or(Path::new(""));
    let dir = if ["lib", "main", "mod"].contains(&stem) {
        parent.to_path_buf()
    } else {
        parent.join(stem)
    };
    let mut out = Vec::new();
    for i in 0..lines.len() {
        if !test_module_at(&lines, i) {
            continue;
        }
        let decl = lines[i + 1..]
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty() && !l.starts_with("#["))
            .unwrap_or("");
        if let Some(name) = decl
            .trim_start_matches("pub ")
            .strip_prefix("mod ")
            .and_then(|r| r.strip_suffix(';'))
        {
            let name = name.trim();
            out.push(dir.join(format!("{name}.rs")));
            out.push(dir.join(name).join("mod.rs"));
        }
    }
    out
}

/// Every non-test function in `crates/*/src` over [`MAX_FN_LINES`] that [`GENERATED_TABLES`]
/// does not list, and every listed pair that is no longer long.
fn check_function_lengths(crates_dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let Ok(entries) = std::fs::read_dir(crates_dir) else {
        return vec![format!("cannot read {}", crates_dir.display())];
    };
    for entry in entries.flatten() {
        let src = entry.path().join("src");
        if src.is_dir() {
            if let Err(e) = rust_files(&src, &mut files) {
                errors.push(format!("cannot read {}: {e}", src.display()));
            }
        }
    }
    files.sort();
    let mut sources = Vec::new();
    let mut test_files = BTreeSet::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                test_files.extend(test_module_files(&file, &text));
                sources.push((file, text));
            }
            Err(e) => errors.push(format!("cannot read {}: {e}", file.display())),
        }
    }
    let mut used = BTreeSet::new();
    for (file, text) in sources.iter().filter(|(f, _)| !test_files.contains(f)) {
        let rel = file
            .strip_prefix(crates_dir)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        for f in long_functions(text, MAX_FN_LINES) {
            if GENERATED_TABLES.contains(&(rel.as_str(), f.name.as_str())) {
                used.insert((rel.clone(), f.name));
                continue;
            }
            errors.push(format!(
                "crates/{rel}:{}: fn {} is {} lines, over {MAX_FN_LINES}; split it into named stages (functions, or a struct with a method per stage), each under ~100 lines",
                f.line, f.name, f.lines
            ));
        }
    }
    for (file, name) in GENERATED_TABLES {
        if !used.contains(&(file.to_string(), name.to_string())) {
            errors.push(format!("crates/{file}: fn {name} is listed in GENERATED_TABLES but is not over {MAX_FN_LINES} lines (or is gone); remove it from the list"));
        }
    }
    errors
}

#[test]
fn no_function_outside_tests_is_over_150_lines() {
    let errors = check_function_lengths(&workspace_root().join("crates"));
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// The most lines `crates/cli/src` may hold in all: a command parses its arguments, calls the
/// library that does the work and prints; logic grows in the library crates.
const MAX_CLI_LINES: usize = 3_000;

/// The lines of every `.rs` file under `dir`, by file, largest first.
fn rust_lines(dir: &Path) -> Vec<(usize, PathBuf)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            files.extend(rust_lines(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            files.push((text.lines().count(), path));
        }
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    files
}

#[test]
fn the_cli_stays_thin() {
    let files = rust_lines(&workspace_root().join("crates/cli/src"));
    let total: usize = files.iter().map(|(n, _)| n).sum();
    assert!(files.len() > 5, "crates/cli/src has {} files", files.len());
    let largest: Vec<String> = files
        .iter()
        .take(5)
        .map(|(n, p)| format!("{} ({n})", p.display()))
        .collect();
    assert!(
        total < MAX_CLI_LINES,
        "crates/cli/src is {total} lines, it must stay under {MAX_CLI_LINES}: move logic into the library crates; largest files: {}",
        largest.join(", ")
    );
}

/// A function of `n` lines in all, named `name`, indented by `indent`.
fn fixture_fn(name: &str, n: usize, indent: &str) -> String {
    let mut s = format!("{indent}pub(crate) fn {name}() -> u32 {{\n");
    for k in 0..n - 2 {
        s.push_str(&format!("{indent}    let _x{k} = \"}}\"; // }}\n"));
    }
    s.push_str(&format!("{indent}}}\n"));
    s
}

#[test]
fn a_long_function_is_found_and_test_modules_are_not() {
    let source = format!(
        "//! A fixture.\n\nfn short() {{}}\n\nstruct S;\n\nimpl S {{\n{}}}\n\n{}\ntrait T {{\n    fn declared(&self);\n}}\n\n#[cfg(test)]\nmod tests {{\n{}}}\n",
        fixture_fn("long_method", 151, "    "),
        fixture_fn("just_fits", 150, ""),
        fixture_fn("long_test", 200, "    "),
    );
    assert_eq!(
        long_functions(&source, MAX_FN_LINES),
        vec![LongFn {
            line: 8,
            name: "long_method".into(),
            lines: 151,
        }]
    );
    // A test module declared as a file is found, so that file is skipped.
    let files = test_module_files(
        Path::new("crates/x/src/lib.rs"),
        "#[cfg(test)]\nmod tests;\n",
    );
    assert!(
        files.contains(&PathBuf::from("crates/x/src/tests.rs")),
        "{files:?}"
    );
}
