//! Reading Rust sources: module files, attributes and one-line token rendering.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;

/// Reads and parses one Rust source file.
pub fn parse_file(path: &Path) -> Result<syn::File> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    syn::parse_file(&text).map_err(|err| {
        let start = err.span().start();
        anyhow!(
            "{}:{}:{}: cannot parse: {err}",
            path.display(),
            start.line,
            start.column + 1
        )
    })
}

/// Whether `file` owns its directory, i.e. its `mod x;` children live next
/// to it (`lib.rs`, `main.rs`, `mod.rs`, and crate roots under `tests/`,
/// `benches/`, `examples/` and `src/bin/`).
pub fn owns_directory(file: &Path) -> bool {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if matches!(name, "lib.rs" | "main.rs" | "mod.rs" | "build.rs") {
        return true;
    }
    let parent = file
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    matches!(parent, "tests" | "benches" | "examples" | "bin")
}

/// Directory holding the out-of-line child modules of the module in `file`.
pub fn child_dir_of_file(file: &Path) -> PathBuf {
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    if owns_directory(file) {
        dir
    } else {
        let stem = file
            .file_stem()
            .map(|s| s.to_os_string())
            .unwrap_or_default();
        dir.join(stem)
    }
}

/// Finds the file of `mod name;`.
///
/// `child_dir` is where the declaring module keeps its children;
/// `path_base` is the directory a `#[path = "…"]` attribute is relative to.
pub fn module_file(
    child_dir: &Path,
    path_base: &Path,
    name: &str,
    attrs: &[syn::Attribute],
) -> Option<PathBuf> {
    if let Some(explicit) = path_attr(attrs) {
        let candidate = path_base.join(explicit);
        return candidate.is_file().then_some(candidate);
    }
    let name = name.strip_prefix("r#").unwrap_or(name);
    [
        child_dir.join(format!("{name}.rs")),
        child_dir.join(name).join("mod.rs"),
    ]
    .into_iter()
    .find(|candidate| candidate.is_file())
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| {
        if !attr.path().is_ident("path") {
            return None;
        }
        let syn::Meta::NameValue(nv) = &attr.meta else {
            return None;
        };
        match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        }
    })
}

/// Whether the attributes include `#[cfg(test)]` (code that only exists in
/// test builds).
pub fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && matches!(&attr.meta, syn::Meta::List(list) if flat(list.tokens.clone()) == "test")
    })
}

/// Every `#[cfg(…)]` attribute, rendered on one line (`#[cfg(feature = "tls")]`).
pub fn cfg_attrs(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .map(|attr| format!("#[{}]", flat(attr.meta.to_token_stream())))
        .collect()
}

/// Whether an attribute with this single-segment name is present.
pub fn has_attr(attrs: &[syn::Attribute], name: &str) -> bool {
    attrs.iter().any(|attr| attr.path().is_ident(name))
}

/// Whether `#[doc(hidden)]` is present.
pub fn is_doc_hidden(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("doc")
            && matches!(&attr.meta, syn::Meta::List(list) if flat(list.tokens.clone()) == "hidden")
    })
}

/// Renders anything that has tokens on one line with conventional spacing.
pub fn one_line<T: ToTokens + ?Sized>(node: &T) -> String {
    flat(node.to_token_stream())
}

/// A token with the spacing-relevant facts kept.
#[derive(Debug, Clone, PartialEq)]
enum Atom {
    /// Identifier, literal or lifetime.
    Word(String),
    /// One operator, joint punctuation merged (`::`, `->`).
    Op(String),
    Open(char),
    Close(char),
}

/// Renders a token stream on one line: `fn f(&self, x: Vec<u8>) -> Option<&'a T>`.
pub fn flat(tokens: TokenStream) -> String {
    let mut atoms = Vec::new();
    push_atoms(tokens, &mut atoms);
    let mut out = String::new();
    let mut prev: Option<&Atom> = None;
    for atom in &atoms {
        if let Some(p) = prev {
            if space_between(p, atom) {
                out.push(' ');
            }
        }
        match atom {
            Atom::Word(s) | Atom::Op(s) => out.push_str(s),
            Atom::Open(c) | Atom::Close(c) => out.push(*c),
        }
        prev = Some(atom);
    }
    out
}

fn push_atoms(tokens: TokenStream, atoms: &mut Vec<Atom>) {
    let mut pending = String::new();
    for tree in tokens {
        match tree {
            TokenTree::Punct(p) => {
                pending.push(p.as_char());
                if p.spacing() == Spacing::Alone {
                    atoms.push(Atom::Op(std::mem::take(&mut pending)));
                }
            }
            TokenTree::Ident(ident) => {
                if pending == "'" {
                    pending.clear();
                    atoms.push(Atom::Word(format!("'{ident}")));
                } else {
                    flush(&mut pending, atoms);
                    atoms.push(Atom::Word(ident.to_string()));
                }
            }
            TokenTree::Literal(lit) => {
                flush(&mut pending, atoms);
                atoms.push(Atom::Word(lit.to_string()));
            }
            TokenTree::Group(group) => {
                flush(&mut pending, atoms);
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ('(', ')'),
                    Delimiter::Bracket => ('[', ']'),
                    Delimiter::Brace => ('{', '}'),
                    Delimiter::None => {
                        push_atoms(group.stream(), atoms);
                        continue;
                    }
                };
                atoms.push(Atom::Open(open));
                push_atoms(group.stream(), atoms);
                atoms.push(Atom::Close(close));
            }
        }
    }
    flush(&mut pending, atoms);
}

fn flush(pending: &mut String, atoms: &mut Vec<Atom>) {
    if !pending.is_empty() {
        atoms.push(Atom::Op(std::mem::take(pending)));
    }
}

/// Operators written against the token that follows them.
fn is_prefix_op(op: &str) -> bool {
    matches!(
        op,
        "&" | "*" | "!" | "?" | "#" | "$" | "::" | "<" | "." | ".." | "..=" | "'"
    )
}

fn space_between(prev: &Atom, cur: &Atom) -> bool {
    use Atom::{Close, Op, Open, Word};
    match (prev, cur) {
        (Open('{'), Close('}')) => false,
        (_, Close('}')) | (Open('{'), _) => true,
        (_, Close(_)) | (Open(_), _) => false,
        (_, Op(o)) if matches!(o.as_str(), "," | ";" | ":" | "::" | "." | ".." | "..=") => false,
        (Op(o), _) if matches!(o.as_str(), "," | ";" | ":") => true,
        (Op(o), _) if is_prefix_op(o) => false,
        (_, Op(o)) if o == "<" => !matches!(prev, Word(_) | Close(_)),
        (_, Op(o)) if o == ">" => false,
        (Op(o), Open('(')) if o == ">" => false,
        (Word(w), Open('(' | '[')) => is_keyword(w),
        (Close(_), Open('(' | '[')) => false,
        _ => true,
    }
}

/// Keywords that are followed by a space even before a bracket (`&mut [u8]`).
fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "mut"
            | "dyn"
            | "impl"
            | "const"
            | "as"
            | "in"
            | "where"
            | "unsafe"
            | "static"
            | "for"
            | "return"
    )
}

/// Expands, in place, invocations of the `macro_rules!` macros a module
/// defines itself, when they have the one simple shape a crate uses to write
/// the same methods on several types: one rule whose matcher is a
/// comma-separated list of `$name:fragment` parameters, invoked at item
/// level with as many comma-separated arguments. The expansion is the rule's
/// body with each `$name` replaced by its argument's tokens, parsed as items.
/// Any other macro, or an expansion that does not parse, is left as it is.
pub fn expand_local_macros(items: Vec<syn::Item>) -> Vec<syn::Item> {
    let rules: Vec<(String, Vec<String>, TokenStream)> = items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Macro(m) if m.mac.path.is_ident("macro_rules") => {
                let name = m.ident.as_ref()?.to_string();
                let (params, body) = simple_rule(m.mac.tokens.clone())?;
                Some((name, params, body))
            }
            _ => None,
        })
        .collect();
    if rules.is_empty() {
        return items;
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let expanded = match &item {
            syn::Item::Macro(m) if m.ident.is_none() => {
                rules.iter().find_map(|(name, params, body)| {
                    if !m.mac.path.is_ident(name) {
                        return None;
                    }
                    let args = split_commas(m.mac.tokens.clone());
                    if args.len() != params.len() {
                        return None;
                    }
                    let tokens = substitute(body.clone(), params, &args);
                    syn::parse2::<syn::File>(tokens).ok().map(|f| f.items)
                })
            }
            _ => None,
        };
        match expanded {
            Some(generated) => out.extend(generated),
            None => out.push(item),
        }
    }
    out
}

/// `( $a:ty, $b:ident ) => { body }` → (["a", "b"], body).
fn simple_rule(tokens: TokenStream) -> Option<(Vec<String>, TokenStream)> {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let [TokenTree::Group(matcher), TokenTree::Punct(eq), TokenTree::Punct(gt), TokenTree::Group(body), rest @ ..] =
        trees.as_slice()
    else {
        return None;
    };
    let only_rule = rest.is_empty() || matches!(rest, [TokenTree::Punct(p)] if p.as_char() == ';');
    if eq.as_char() != '=' || gt.as_char() != '>' || !only_rule {
        return None;
    }
    let mut params = Vec::new();
    for part in split_commas(matcher.stream()) {
        let part: Vec<TokenTree> = part.into_iter().collect();
        match part.as_slice() {
            [TokenTree::Punct(d), TokenTree::Ident(name), TokenTree::Punct(c), TokenTree::Ident(_)]
                if d.as_char() == '$' && c.as_char() == ':' =>
            {
                params.push(name.to_string());
            }
            _ => return None,
        }
    }
    Some((params, body.stream()))
}

/// Splits a token stream at its top-level commas (a trailing comma ends nothing).
fn split_commas(tokens: TokenStream) -> Vec<TokenStream> {
    let mut parts = vec![TokenStream::new()];
    for tree in tokens {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ',' => parts.push(TokenStream::new()),
            _ => {
                if let Some(last) = parts.last_mut() {
                    last.extend(std::iter::once(tree));
                }
            }
        }
    }
    if parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// The body with every `$param` replaced by its argument, in nested groups too.
fn substitute(body: TokenStream, params: &[String], args: &[TokenStream]) -> TokenStream {
    let mut out = TokenStream::new();
    let mut trees = body.into_iter().peekable();
    while let Some(tree) = trees.next() {
        match tree {
            TokenTree::Punct(p) if p.as_char() == '$' => {
                let arg = match trees.peek() {
                    Some(TokenTree::Ident(name)) => params
                        .iter()
                        .position(|param| name == param)
                        .and_then(|i| args.get(i)),
                    _ => None,
                };
                match arg {
                    Some(arg) => {
                        trees.next();
                        out.extend(arg.clone());
                    }
                    None => out.extend(std::iter::once(TokenTree::Punct(p))),
                }
            }
            TokenTree::Group(g) => {
                let mut inner =
                    proc_macro2::Group::new(g.delimiter(), substitute(g.stream(), params, args));
                inner.set_span(g.span());
                out.extend(std::iter::once(TokenTree::Group(inner)));
            }
            other => out.extend(std::iter::once(other)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn sig(src: &str) -> String {
        let item: syn::ItemFn = syn::parse_str(src).unwrap();
        one_line(&item.sig)
    }

    #[test]
    fn signatures_render_on_one_line() {
        assert_eq!(
            sig("fn append<'a, T: Into<u8>>(&'a mut self, coord: &Coordinate, items: Vec<Vec<T>>) -> Result<(), Error> where T: Clone {}"),
            "fn append<'a, T: Into<u8>>(&'a mut self, coord: &Coordinate, items: Vec<Vec<T>>) -> Result<(), Error> where T: Clone"
        );
        assert_eq!(
            sig("pub const fn custom(x: [u8; 32], f: &dyn Fn(u8) -> u8, p: *const u8) -> Option<&'static str> {}"),
            "const fn custom(x: [u8; 32], f: &dyn Fn(u8) -> u8, p: *const u8) -> Option<&'static str>"
        );
        assert_eq!(
            sig("fn g<T: ?Sized + Send>(t: &&T, s: impl Iterator<Item = u8>) -> ! {}"),
            "fn g<T: ?Sized + Send>(t: &&T, s: impl Iterator<Item = u8>) -> !"
        );
        assert_eq!(
            sig("fn h(buf: &mut [u8], pair: &mut (u8, u8), f: fn(u8) -> u8) {}"),
            "fn h(buf: &mut [u8], pair: &mut (u8, u8), f: fn(u8) -> u8)"
        );
    }

    #[test]
    fn cfg_attributes_are_rendered() {
        let item: syn::ItemFn =
            syn::parse_str("#[cfg(feature = \"tls\")] #[cfg(test)] fn f() {}").unwrap();
        assert_eq!(
            cfg_attrs(&item.attrs),
            vec!["#[cfg(feature = \"tls\")]", "#[cfg(test)]"]
        );
        assert!(is_cfg_test(&item.attrs));
    }

    #[test]
    fn directory_owners_are_recognised() {
        assert!(owns_directory(Path::new("crates/a/src/lib.rs")));
        assert!(owns_directory(Path::new("crates/a/src/x/mod.rs")));
        assert!(owns_directory(Path::new("crates/a/tests/chain.rs")));
        assert!(!owns_directory(Path::new("crates/a/src/store.rs")));
        assert_eq!(
            child_dir_of_file(Path::new("crates/a/src/store.rs")),
            Path::new("crates/a/src/store")
        );
    }
}
