//! Witness references: the test that demonstrates an invariant.
//!
//! Syntax: `<file>.rs::<module>::…::<fn>`, the file relative to the workspace
//! root, then the inline or out-of-line modules inside that file, then the
//! test function. Examples:
//!
//! - `crates/batpak/tests/chain.rs::event_hash_covers_header`
//! - `crates/batpak/src/format.rs::tests::frame_roundtrip`
//!
//! The function must carry a test attribute (`#[test]`, `#[tokio::test]`,
//! `#[rstest]`, `#[test_case(…)]`, …) or be declared inside a `proptest! { }`
//! block, whose body is scanned for `fn <name>`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};

use crate::rustsrc;

/// A parsed witness reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    /// Source file, relative to the workspace root, `/`-separated.
    pub file: String,
    /// Modules to descend into inside that file, outermost first.
    pub modules: Vec<String>,
    /// Name of the test function.
    pub function: String,
}

impl fmt::Display for Witness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        for module in &self.modules {
            write!(f, "::{module}")?;
        }
        write!(f, "::{}", self.function)
    }
}

/// Parses `<file>.rs::<module>::…::<fn>`; the error says what is wrong.
pub fn parse(text: &str) -> Result<Witness, String> {
    let expected = "expected `<file>.rs::<fn>` or `<file>.rs::<module>::<fn>`";
    let Some((file, rest)) = text.split_once(".rs::") else {
        return Err(format!("`{text}`: {expected}"));
    };
    let file = format!("{file}.rs");
    let path = Path::new(&file);
    if file.contains('\\')
        || path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(format!(
            "`{text}`: the file must be a plain relative path from the workspace root"
        ));
    }
    let mut segments: Vec<String> = rest.split("::").map(str::to_owned).collect();
    if let Some(bad) = segments.iter().find(|s| !is_identifier(s)) {
        return Err(format!(
            "`{text}`: `{bad}` is not a Rust identifier; {expected}"
        ));
    }
    let function = segments.pop().unwrap_or_default();
    Ok(Witness {
        file,
        modules: segments,
        function,
    })
}

fn is_identifier(text: &str) -> bool {
    let text = text.strip_prefix("r#").unwrap_or(text);
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && text != "_"
}

/// Finds witnesses in source files, parsing each file once.
#[derive(Default)]
pub struct Finder {
    parsed: HashMap<PathBuf, Result<syn::File, String>>,
}

impl Finder {
    /// A finder with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Ok` when the witness names an existing test function under `root`;
    /// otherwise a sentence saying what is missing.
    pub fn check(&mut self, root: &Path, witness: &Witness) -> Result<(), String> {
        let file = root.join(&witness.file);
        let mut items = self.items(&file, &witness.file)?;
        let mut child_dir = rustsrc::child_dir_of_file(&file);
        let mut path_base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut walked = witness.file.clone();
        for module in &witness.modules {
            let found = items.iter().find_map(|item| match item {
                syn::Item::Mod(m) if m.ident == module.as_str() => Some(m.clone()),
                _ => None,
            });
            let Some(decl) = found else {
                return Err(format!("`{walked}` has no module `{module}`"));
            };
            walked = format!("{walked}::{module}");
            if let Some((_, content)) = decl.content {
                items = content;
                child_dir = child_dir.join(module);
                path_base = child_dir.clone();
            } else {
                let Some(module_file) =
                    rustsrc::module_file(&child_dir, &path_base, module, &decl.attrs)
                else {
                    return Err(format!(
                        "the file of module `{walked}` was not found (looked for {module}.rs and {module}/mod.rs in {})",
                        child_dir.display()
                    ));
                };
                let display = crate::rel_display(root, &module_file);
                items = self.items(&module_file, &display)?;
                child_dir = rustsrc::child_dir_of_file(&module_file);
                path_base = module_file
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
            }
        }
        match find_fn(&items, &witness.function) {
            Lookup::Test => Ok(()),
            Lookup::NotATest => Err(format!(
                "`{walked}::{}` exists but is not a test (no #[test]-like attribute and not inside proptest!)",
                witness.function
            )),
            Lookup::Missing => {
                let mut hint = String::new();
                let elsewhere = self.elsewhere(&file, &witness.function);
                if !elsewhere.is_empty() {
                    hint = format!("; a fn of that name exists at {}", elsewhere.join(", "));
                }
                Err(format!(
                    "no test fn `{}` in `{walked}`{hint}",
                    witness.function
                ))
            }
        }
    }

    fn items(&mut self, file: &Path, display: &str) -> Result<Vec<syn::Item>, String> {
        let parsed = self.parsed.entry(file.to_path_buf()).or_insert_with(|| {
            if !file.is_file() {
                return Err(format!("witness file `{display}` does not exist"));
            }
            rustsrc::parse_file(file).map_err(|err| format!("{err:#}"))
        });
        match parsed {
            Ok(ast) => Ok(ast.items.clone()),
            Err(err) => Err(err.clone()),
        }
    }

    /// Module paths inside `file` (inline modules only) holding a fn `name`.
    fn elsewhere(&mut self, file: &Path, name: &str) -> Vec<String> {
        let Ok(items) = self.items(file, "") else {
            return Vec::new();
        };
        let mut found = Vec::new();
        collect_fn_paths(&items, &mut Vec::new(), name, &mut found);
        found
    }
}

enum Lookup {
    Test,
    NotATest,
    Missing,
}

fn find_fn(items: &[syn::Item], name: &str) -> Lookup {
    let mut result = Lookup::Missing;
    for item in items {
        match item {
            syn::Item::Fn(f) if f.sig.ident == name => {
                if f.attrs.iter().any(is_test_attribute) {
                    return Lookup::Test;
                }
                result = Lookup::NotATest;
            }
            syn::Item::Macro(m)
                if is_proptest(&m.mac) && declares_fn(m.mac.tokens.clone(), name) =>
            {
                return Lookup::Test;
            }
            _ => {}
        }
    }
    result
}

fn collect_fn_paths(
    items: &[syn::Item],
    path: &mut Vec<String>,
    name: &str,
    out: &mut Vec<String>,
) {
    for item in items {
        let here = |path: &Vec<String>| {
            let mut full = path.clone();
            full.push(name.to_owned());
            format!("`…::{}`", full.join("::"))
        };
        match item {
            syn::Item::Fn(f) if f.sig.ident == name => out.push(here(path)),
            syn::Item::Macro(m)
                if is_proptest(&m.mac) && declares_fn(m.mac.tokens.clone(), name) =>
            {
                out.push(here(path));
            }
            syn::Item::Mod(m) => {
                if let Some((_, content)) = &m.content {
                    path.push(m.ident.to_string());
                    collect_fn_paths(content, path, name, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

/// Attributes that make a fn a test: any path ending in `test` (`#[test]`,
/// `#[tokio::test]`), and a few well-known test macros.
fn is_test_attribute(attr: &syn::Attribute) -> bool {
    attr.path().segments.last().is_some_and(|seg| {
        matches!(
            seg.ident.to_string().as_str(),
            "test" | "rstest" | "test_case" | "quickcheck" | "proptest"
        )
    })
}

fn is_proptest(mac: &syn::Macro) -> bool {
    mac.path
        .segments
        .last()
        .is_some_and(|seg| seg.ident == "proptest")
}

/// Whether the tokens contain `fn <name>` at any depth.
fn declares_fn(tokens: TokenStream, name: &str) -> bool {
    let mut after_fn = false;
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) => {
                if after_fn && ident == name {
                    return true;
                }
                after_fn = ident == "fn";
            }
            TokenTree::Group(group) => {
                if declares_fn(group.stream(), name) {
                    return true;
                }
                after_fn = false;
            }
            _ => after_fn = false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn both_witness_shapes_parse() {
        let w = parse("crates/batpak/tests/chain.rs::event_hash_covers_header").unwrap();
        assert_eq!(w.file, "crates/batpak/tests/chain.rs");
        assert!(w.modules.is_empty());
        assert_eq!(w.function, "event_hash_covers_header");

        let w = parse("crates/batpak/src/format.rs::tests::frame_roundtrip").unwrap();
        assert_eq!(w.file, "crates/batpak/src/format.rs");
        assert_eq!(w.modules, vec!["tests".to_owned()]);
        assert_eq!(w.function, "frame_roundtrip");
        assert_eq!(
            w.to_string(),
            "crates/batpak/src/format.rs::tests::frame_roundtrip"
        );
    }

    #[test]
    fn malformed_witnesses_are_rejected() {
        for bad in [
            "crates/batpak/tests/chain.rs",
            "crates/batpak/tests/chain::x",
            "/abs/chain.rs::x",
            "../up/chain.rs::x",
            "crates/chain.rs::9lives",
            "crates/chain.rs::a::",
            "crates/chain.rs::_",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn finds_tests_in_nested_inline_out_of_line_and_proptest_modules() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "src/format.rs",
            "pub fn encode() {}\n\
             #[cfg(test)] mod tests {\n\
                 #[test] fn frame_roundtrip() {}\n\
                 fn not_a_test() {}\n\
                 mod deeper { #[tokio::test] async fn deep() {} }\n\
                 proptest::proptest! { #[test] fn prop_roundtrip(x in 0u8..) { let _ = x; } }\n\
             }\n\
             #[cfg(test)] mod outside;\n",
        );
        write(dir.path(), "src/format/outside.rs", "#[test] fn far() {}\n");
        let mut finder = Finder::new();
        let ok = |finder: &mut Finder, w: &str| finder.check(dir.path(), &parse(w).unwrap());
        assert_eq!(
            ok(&mut finder, "src/format.rs::tests::frame_roundtrip"),
            Ok(())
        );
        assert_eq!(
            ok(&mut finder, "src/format.rs::tests::deeper::deep"),
            Ok(())
        );
        assert_eq!(
            ok(&mut finder, "src/format.rs::tests::prop_roundtrip"),
            Ok(())
        );
        assert_eq!(ok(&mut finder, "src/format.rs::outside::far"), Ok(()));

        let err = ok(&mut finder, "src/format.rs::tests::not_a_test").unwrap_err();
        assert!(err.contains("is not a test"), "{err}");
        let err = ok(&mut finder, "src/format.rs::frame_roundtrip").unwrap_err();
        assert!(err.contains("no test fn `frame_roundtrip`"), "{err}");
        assert!(
            err.contains("tests::frame_roundtrip"),
            "hint expected: {err}"
        );
        let err = ok(&mut finder, "src/format.rs::nope::x").unwrap_err();
        assert!(err.contains("has no module `nope`"), "{err}");
        let err = ok(&mut finder, "src/gone.rs::x").unwrap_err();
        assert!(err.contains("does not exist"), "{err}");
    }
}
