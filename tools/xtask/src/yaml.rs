//! Loading the traceability YAML files with errors that name file, field and line.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use serde::de::DeserializeOwned;

/// A parsed YAML document together with its source text, kept so that checks
/// made after parsing can still point at a line.
pub(crate) struct Loaded<T> {
    pub(crate) value: T,
    pub(crate) text: String,
}

/// Reads and deserializes `path`. Errors carry `display` (the path as the
/// user should see it), the field path inside the document and the line.
pub(crate) fn load<T: DeserializeOwned>(path: &Path, display: &str) -> Result<Loaded<T>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {display}"))?;
    let value = parse(&text, display)?;
    Ok(Loaded { value, text })
}

/// Deserializes `text`; `display` names the source in errors.
pub(crate) fn parse<T: DeserializeOwned>(text: &str, display: &str) -> Result<T> {
    if text.trim().is_empty() || only_comments(text) {
        return Err(anyhow!(
            "{display}: the file is empty; expected a top-level mapping"
        ));
    }
    serde_norway::from_str(text).map_err(|err| anyhow!("{display}: {}", describe(&err)))
}

fn only_comments(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|line| line.is_empty() || line.starts_with('#') || line == "---")
}

/// The parser's message, with the location spelled out even when the parser
/// put it elsewhere in the message.
fn describe(err: &serde_norway::Error) -> String {
    let message = err.to_string();
    match err.location() {
        Some(loc) if !message.contains("line ") => {
            format!("{message} (line {}, column {})", loc.line(), loc.column())
        }
        _ => message,
    }
}

/// 1-based line of the first line of `text` on which `key: value` appears
/// (ignoring quotes around the value), for checks made after parsing.
pub(crate) fn line_of_entry(text: &str, key: &str, value: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let line = line.trim_start().trim_start_matches("- ").trim_start();
            let Some(rest) = line.strip_prefix(key) else {
                return false;
            };
            let Some(rest) = rest.trim_start().strip_prefix(':') else {
                return false;
            };
            let rest = rest.split(" #").next().unwrap_or(rest).trim();
            rest.trim_matches(|c| c == '"' || c == '\'') == value
        })
        .map(|index| index + 1)
}

/// 1-based line of the first line containing `needle`.
pub(crate) fn line_containing(text: &str, needle: &str) -> Option<usize> {
    text.lines()
        .position(|line| line.contains(needle))
        .map(|index| index + 1)
}

/// 1-based line of the first line after line `after` (1-based) containing
/// `needle`.
pub(crate) fn line_containing_after(text: &str, after: usize, needle: &str) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(after)
        .find(|(_, line)| line.contains(needle))
        .map(|(index, _)| index + 1)
}

/// ` (line N)` when a line is known, else nothing.
pub(crate) fn at_line(line: Option<usize>) -> String {
    line.map(|n| format!(" (line {n})")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn entry_lines_are_found_with_or_without_quotes() {
        let text = "lanes:\n  - name: chain\n    files: []\n  - name: 'format'\n";
        assert_eq!(line_of_entry(text, "name", "chain"), Some(2));
        assert_eq!(line_of_entry(text, "name", "format"), Some(4));
        assert_eq!(line_of_entry(text, "name", "missing"), None);
    }

    #[test]
    fn empty_documents_are_rejected_by_name() {
        let err = parse::<serde_json::Value>("# only a comment\n", "x.yaml").unwrap_err();
        assert!(
            err.to_string().contains("x.yaml: the file is empty"),
            "{err}"
        );
    }
}
