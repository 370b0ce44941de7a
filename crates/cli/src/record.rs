//! A measured table into its own section of a Markdown file (`docs/benchmarks.md`): what
//! `tanji-bench … --write FILE` and `tanji forecast backtest --write FILE` do with their
//! tables.

use std::path::Path;

use anyhow::{Context, Result};

/// Checks, before anything is measured, that `--write FILE` will succeed: FILE is a readable
/// UTF-8 file that may be written, or a new file in an existing directory that may be written
/// in. A benchmark that runs for minutes must not fail at its last step.
pub fn check_write(path: &Path) -> Result<()> {
    let fail =
        |why: String| anyhow::anyhow!("--write {}: {why}; nothing was measured", path.display());
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(fail("is not a regular file".into())),
        Ok(_) => {
            std::fs::read_to_string(path).map_err(|e| {
                fail(format!(
                    "cannot be read as text ({e}); the table replaces a section of a Markdown file"
                ))
            })?;
            std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| fail(format!("cannot be written ({e})")))?;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            if !dir.is_dir() {
                return Err(fail(format!(
                    "the directory {} does not exist (the repository's table is docs/benchmarks.md, from the repository root)",
                    dir.display()
                )));
            }
            tempfile::NamedTempFile::new_in(dir)
                .map_err(|e| fail(format!("no file can be created in {} ({e})", dir.display())))?;
            Ok(())
        }
        Err(e) => Err(fail(format!("cannot be checked ({e})"))),
    }
}

/// Replaces the text between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` in
/// `path` (appending the section if the markers are missing; creating the file if it does
/// not exist).
pub fn record(path: &Path, name: &str, body: &str) -> Result<()> {
    let start = format!("<!-- bench:{name}:start -->");
    let end = format!("<!-- bench:{name}:end -->");
    let old = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let section = format!("{start}\n{body}{end}");
    let new = match (old.find(&start), old.find(&end)) {
        (Some(a), Some(b)) if b > a => format!("{}{}{}", &old[..a], section, &old[b + end.len()..]),
        _ => format!("{old}\n{section}\n"),
    };
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}
