//! The modules of one crate and the crate-local paths each of them names.
//!
//! The module tree is read from the crate root (`lib.rs`, else `main.rs`) by
//! following `mod` declarations, inline or out of line (`#[path]` is
//! honoured). A `.rs` file under the source directory that no declaration
//! reaches is still read, as the module its path names (`src/a/b.rs` and
//! `src/a/b/mod.rs` are `a::b`); `src/bin/` and a `main.rs` beside `lib.rs`
//! are other crates and are left out.
//!
//! Every path that names something of this crate is collected with its line:
//! paths starting with `crate::` (or `$crate::` in macro bodies), `self::`,
//! `super::`, or the name of a child module of the current module, in `use`
//! trees (nested groups included), expressions, types, patterns, trait bounds
//! and the tokens of macro invocations and attribute arguments (searched for
//! such paths, `use`-like groups `crate::a::{b, c}` included). Items under `#[cfg(test)]`, and test
//! modules with everything they declare, are skipped. Comments and string
//! literals never count.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};

use crate::rustsrc;

/// A module path inside the crate, without `crate::`; the root is empty.
pub type ModPath = Vec<String>;

/// `a::b`, or `crate` for the root.
pub fn show(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_string()
    } else {
        path.join("::")
    }
}

/// Where a module is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Its file, relative to the workspace root.
    pub file: String,
    /// 1 for a module that is a whole file, else the line of its `mod`.
    pub line: usize,
    /// The crate root, or an inline module written inside the root file.
    pub in_root_file: bool,
}

/// One crate-local path named by a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The module whose code names the path.
    pub module: ModPath,
    /// The path, made absolute (`self::`, `super::` and child names resolved,
    /// `crate::` removed); it may continue past the module into item names.
    pub target: Vec<String>,
    /// File of the path, relative to the workspace root.
    pub file: String,
    /// 1-based line of the path.
    pub line: usize,
    /// From a `use` item that is visible outside its module (`pub`,
    /// `pub(crate)`, …), i.e. a re-export.
    pub reexport: bool,
    /// For a `use` leaf, the name it brings into scope (`b` for `use a::b`,
    /// `c` for `use a::b as c`); `None` for globs and non-`use` paths.
    pub binds: Option<String>,
}

/// The modules of a crate and the crate-local paths their code names.
#[derive(Debug, Clone, Default)]
pub struct CrateImports {
    /// Every non-test module, the root included (as the empty path).
    pub modules: BTreeMap<ModPath, Module>,
    /// Every crate-local path, in scan order.
    pub imports: Vec<Import>,
}

impl CrateImports {
    /// The module `path` refers to: its longest prefix that is a module.
    pub fn longest_module<'p>(&self, path: &'p [String]) -> &'p [String] {
        (0..=path.len())
            .rev()
            .map(|k| &path[..k])
            .find(|prefix| self.modules.contains_key(*prefix))
            .unwrap_or(&[])
    }
}

/// Reads the crate whose sources are in `src_dir`; file names in the result
/// are relative to `root`.
pub fn scan(root: &Path, src_dir: &Path) -> Result<CrateImports> {
    let shown = crate::rel_display(root, src_dir);
    if !src_dir.is_dir() {
        bail!("{shown}: no such directory");
    }
    let crate_root = ["lib.rs", "main.rs"]
        .iter()
        .map(|name| src_dir.join(name))
        .find(|file| file.is_file())
        .with_context(|| format!("{shown}: neither lib.rs nor main.rs is there"))?;
    let mut scan = Scan {
        root: root.to_path_buf(),
        out: CrateImports::default(),
        test_modules: BTreeSet::new(),
        queue: VecDeque::new(),
        seen: BTreeSet::new(),
    };
    scan.queue.push_back(Pending {
        file: crate_root.clone(),
        module: Vec::new(),
        test: false,
    });
    scan.drain()?;
    let mut files = Vec::new();
    rust_files(src_dir, &mut files)?;
    files.sort();
    for file in files {
        if scan.seen.contains(&canonical(&file)) {
            continue;
        }
        let Some(module) = module_of_path(src_dir, &file) else {
            continue;
        };
        let under_test = (1..=module.len()).any(|k| scan.test_modules.contains(&module[..k]));
        if under_test || scan.out.modules.contains_key(&module) {
            continue;
        }
        scan.queue.push_back(Pending {
            file,
            module,
            test: false,
        });
        scan.drain()?;
    }
    Ok(scan.out)
}

/// The module a file names by its place under `src_dir`, or `None` for files
/// of other crates (`src/bin/`, `main.rs` next to `lib.rs`) and the root.
fn module_of_path(src_dir: &Path, file: &Path) -> Option<ModPath> {
    let rel = file.strip_prefix(src_dir).ok()?;
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?.to_string();
    if parts.first().is_some_and(|first| first == "bin") {
        return None;
    }
    if parts.is_empty() && matches!(stem.as_str(), "lib" | "main") {
        return None;
    }
    if stem != "mod" {
        parts.push(stem);
    }
    (!parts.is_empty()).then_some(parts)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Directory of the out-of-line children of the module in `file`.
fn child_dir(file: &Path) -> PathBuf {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    if matches!(name, "lib.rs" | "main.rs" | "mod.rs") {
        dir
    } else {
        let stem = file
            .file_stem()
            .map(|s| s.to_os_string())
            .unwrap_or_default();
        dir.join(stem)
    }
}

fn ident_name(ident: &syn::Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_string).unwrap_or(name)
}

/// Names of the modules declared among `items`.
fn module_names(items: &[syn::Item]) -> BTreeSet<String> {
    items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(m) => Some(ident_name(&m.ident)),
            _ => None,
        })
        .collect()
}

struct Pending {
    file: PathBuf,
    module: ModPath,
    test: bool,
}

struct Scan {
    root: PathBuf,
    out: CrateImports,
    test_modules: BTreeSet<ModPath>,
    queue: VecDeque<Pending>,
    seen: BTreeSet<PathBuf>,
}

impl Scan {
    fn drain(&mut self) -> Result<()> {
        while let Some(next) = self.queue.pop_front() {
            if self.seen.insert(canonical(&next.file)) {
                self.read(next)?;
            }
        }
        Ok(())
    }

    fn read(&mut self, job: Pending) -> Result<()> {
        let ast = rustsrc::parse_file(&job.file)?;
        let shown = crate::rel_display(&self.root, &job.file);
        let test = job.test || rustsrc::is_cfg_test(&ast.attrs);
        let is_root = job.module.is_empty();
        self.enter(&job.module, &shown, 1, is_root, test);
        let frame = Frame {
            module: job.module,
            child_dir: child_dir(&job.file),
            children: module_names(&ast.items),
            in_root_file: is_root,
        };
        let path_base = job.file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut visitor = FileVisitor {
            scan: self,
            shown,
            path_base,
            stack: vec![frame],
            collect: !test,
        };
        for item in &ast.items {
            visitor.visit_item(item);
        }
        Ok(())
    }

    fn enter(&mut self, module: &ModPath, file: &str, line: usize, in_root_file: bool, test: bool) {
        if test {
            self.test_modules.insert(module.clone());
        } else {
            self.out
                .modules
                .entry(module.clone())
                .or_insert_with(|| Module {
                    file: file.to_string(),
                    line,
                    in_root_file,
                });
        }
    }
}

struct Frame {
    module: ModPath,
    child_dir: PathBuf,
    children: BTreeSet<String>,
    in_root_file: bool,
}

struct FileVisitor<'s> {
    scan: &'s mut Scan,
    shown: String,
    /// Directory a `#[path]` on a file-level `mod` is relative to.
    path_base: PathBuf,
    stack: Vec<Frame>,
    /// False inside test-only code: modules are still followed (so their
    /// files are known to be test files) but nothing is recorded.
    collect: bool,
}

/// A `use` leaf: its path, the name it binds and its line.
struct Leaf {
    segments: Vec<String>,
    binds: Option<String>,
    line: usize,
}

fn line_of(span: proc_macro2::Span) -> usize {
    span.start().line
}

fn use_leaves(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Leaf>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(ident_name(&p.ident));
            use_leaves(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = ident_name(&n.ident);
            let mut segments = prefix.clone();
            if name != "self" {
                segments.push(name);
            }
            out.push(Leaf {
                binds: segments.last().cloned(),
                segments,
                line: line_of(n.ident.span()),
            });
        }
        syn::UseTree::Rename(r) => {
            let name = ident_name(&r.ident);
            let mut segments = prefix.clone();
            if name != "self" {
                segments.push(name);
            }
            out.push(Leaf {
                segments,
                binds: Some(ident_name(&r.rename)),
                line: line_of(r.ident.span()),
            });
        }
        syn::UseTree::Glob(g) => out.push(Leaf {
            segments: prefix.clone(),
            binds: None,
            line: line_of(g.star_token.spans[0]),
        }),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                use_leaves(tree, prefix, out);
            }
        }
    }
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item;
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

fn is_punct(tree: Option<&TokenTree>, ch: char) -> bool {
    matches!(tree, Some(TokenTree::Punct(p)) if p.as_char() == ch)
}

/// Whether `trees[at]` and `trees[at + 1]` form `::`.
fn is_path_sep(trees: &[TokenTree], at: usize) -> bool {
    matches!(trees.get(at), Some(TokenTree::Punct(p)) if p.as_char() == ':' && p.spacing() == Spacing::Joint)
        && is_punct(trees.get(at + 1), ':')
}

impl FileVisitor<'_> {
    fn frame(&self) -> Option<&Frame> {
        self.stack.last()
    }

    /// `segments` as an absolute path of this crate, or `None` when it does
    /// not start at something of this crate.
    fn absolute(&self, segments: &[String]) -> Option<Vec<String>> {
        let frame = self.frame()?;
        let (first, rest) = segments.split_first()?;
        match first.as_str() {
            "crate" | "$crate" => Some(rest.to_vec()),
            "self" => Some([frame.module.as_slice(), rest].concat()),
            "super" => {
                let mut base = frame.module.clone();
                let mut rest = segments;
                while let Some((head, tail)) = rest.split_first() {
                    if head != "super" {
                        break;
                    }
                    base.pop()?;
                    rest = tail;
                }
                Some([base.as_slice(), rest].concat())
            }
            name if frame.children.contains(name) => {
                Some([frame.module.as_slice(), segments].concat())
            }
            _ => None,
        }
    }

    fn starts_local_path(&self, first: &str) -> bool {
        matches!(first, "crate" | "self" | "super")
            || self.frame().is_some_and(|f| f.children.contains(first))
    }

    fn record(&mut self, segments: &[String], line: usize, reexport: bool, binds: Option<String>) {
        if !self.collect || segments.len() < 2 {
            return;
        }
        let Some(target) = self.absolute(segments) else {
            return;
        };
        let Some(frame) = self.frame() else {
            return;
        };
        let import = Import {
            module: frame.module.clone(),
            target,
            file: self.shown.clone(),
            line,
            reexport,
            binds,
        };
        self.scan.out.imports.push(import);
    }

    /// Records the crate-local paths written in a macro's tokens.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut at = 0;
        while at < trees.len() {
            let mut resume = at + 1;
            let mut skip_group = None;
            if let TokenTree::Ident(ident) = &trees[at] {
                let after_dollar = at > 0 && is_punct(trees.get(at - 1), '$');
                let mid_path = at >= 2 && is_path_sep(&trees, at - 2);
                let after_dot = at > 0 && is_punct(trees.get(at - 1), '.');
                let name = ident_name(ident);
                let first = if after_dollar && name == "crate" {
                    Some("crate".to_string())
                } else if !after_dollar && !mid_path && !after_dot && self.starts_local_path(&name)
                {
                    Some(name)
                } else {
                    None
                };
                if let Some(first) = first {
                    let line = line_of(ident.span());
                    let mut segments = vec![first];
                    let mut end = at + 1;
                    let mut group = None;
                    while is_path_sep(&trees, end) {
                        match trees.get(end + 2) {
                            Some(TokenTree::Ident(next)) => {
                                segments.push(ident_name(next));
                                end += 3;
                            }
                            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                                group = Some((end + 2, g.stream()));
                                end += 3;
                                break;
                            }
                            _ => break,
                        }
                    }
                    if segments.len() > 1 || group.is_some() {
                        resume = end;
                        match group {
                            Some((index, stream)) => {
                                if self.record_use_group(&segments, stream) {
                                    skip_group = Some(index);
                                }
                            }
                            None => self.record(&segments, line, false, None),
                        }
                    }
                }
            }
            for (index, tree) in trees.iter().enumerate().take(resume).skip(at) {
                if let TokenTree::Group(g) = tree {
                    if skip_group != Some(index) {
                        self.scan_tokens(g.stream());
                    }
                }
            }
            at = resume;
        }
    }

    /// `prefix::{…}` inside a macro: parsed as `use` trees when it can be.
    fn record_use_group(&mut self, prefix: &[String], stream: TokenStream) -> bool {
        use syn::parse::Parser;
        let parser = Punctuated::<syn::UseTree, syn::Token![,]>::parse_terminated;
        let Ok(trees) = parser.parse2(stream) else {
            return false;
        };
        let mut leaves = Vec::new();
        for tree in &trees {
            use_leaves(tree, &mut prefix.to_vec(), &mut leaves);
        }
        for leaf in leaves {
            self.record(&leaf.segments, leaf.line, false, None);
        }
        true
    }

    /// Visits a node unless `#[cfg(test)]` gates it.
    fn unless_test(&mut self, attrs: &[syn::Attribute], visit: impl FnOnce(&mut Self)) {
        if !rustsrc::is_cfg_test(attrs) {
            visit(self);
        }
    }
}

impl<'ast> Visit<'ast> for FileVisitor<'_> {
    fn visit_item(&mut self, node: &'ast syn::Item) {
        if let syn::Item::Mod(m) = node {
            self.visit_item_mod(m);
        } else {
            self.unless_test(item_attrs(node), |v| visit::visit_item(v, node));
        }
    }

    fn visit_item_mod(&mut self, node: &'ast syn::ItemMod) {
        let Some(frame) = self.frame() else {
            return;
        };
        let name = ident_name(&node.ident);
        let mut module = frame.module.clone();
        module.push(name.clone());
        let test = !self.collect || rustsrc::is_cfg_test(&node.attrs);
        let in_root_file = frame.in_root_file;
        let nested_dir = frame.child_dir.join(&name);
        match &node.content {
            Some((_, items)) => {
                let line = line_of(node.ident.span());
                let shown = self.shown.clone();
                self.scan.enter(&module, &shown, line, in_root_file, test);
                let saved = self.collect;
                self.collect = !test;
                self.stack.push(Frame {
                    module,
                    child_dir: nested_dir,
                    children: module_names(items),
                    in_root_file,
                });
                for item in items {
                    self.visit_item(item);
                }
                self.stack.pop();
                self.collect = saved;
            }
            None => {
                let base = if self.stack.len() == 1 {
                    self.path_base.clone()
                } else {
                    frame.child_dir.clone()
                };
                let file = rustsrc::module_file(&frame.child_dir, &base, &name, &node.attrs);
                if let Some(file) = file {
                    self.scan.queue.push_back(Pending { file, module, test });
                }
            }
        }
    }

    fn visit_item_use(&mut self, node: &'ast syn::ItemUse) {
        if !self.collect || node.leading_colon.is_some() || rustsrc::is_cfg_test(&node.attrs) {
            return;
        }
        let reexport = !matches!(node.vis, syn::Visibility::Inherited);
        let mut leaves = Vec::new();
        use_leaves(&node.tree, &mut Vec::new(), &mut leaves);
        for leaf in leaves {
            self.record(&leaf.segments, leaf.line, reexport, leaf.binds);
        }
    }

    fn visit_path(&mut self, node: &'ast syn::Path) {
        if self.collect && node.leading_colon.is_none() {
            let segments: Vec<String> =
                node.segments.iter().map(|s| ident_name(&s.ident)).collect();
            if let Some(first) = node.segments.first() {
                self.record(&segments, line_of(first.ident.span()), false, None);
            }
        }
        visit::visit_path(self, node);
    }

    fn visit_macro(&mut self, node: &'ast syn::Macro) {
        self.visit_path(&node.path);
        if self.collect {
            self.scan_tokens(node.tokens.clone());
        }
    }

    // Attribute arguments (`#[error("…", crate::a::f(.x))]`) are tokens too.
    fn visit_attribute(&mut self, node: &'ast syn::Attribute) {
        visit::visit_attribute(self, node);
        if let syn::Meta::List(list) = &node.meta {
            if self.collect && !list.path.is_ident("doc") {
                self.scan_tokens(list.tokens.clone());
            }
        }
    }

    // `pub(in crate::a)` says who may see an item; it imports nothing.
    fn visit_vis_restricted(&mut self, _node: &'ast syn::VisRestricted) {}

    fn visit_impl_item(&mut self, node: &'ast syn::ImplItem) {
        let attrs: &[syn::Attribute] = match node {
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            syn::ImplItem::Macro(i) => &i.attrs,
            _ => &[],
        };
        self.unless_test(attrs, |v| visit::visit_impl_item(v, node));
    }

    fn visit_trait_item(&mut self, node: &'ast syn::TraitItem) {
        let attrs: &[syn::Attribute] = match node {
            syn::TraitItem::Const(i) => &i.attrs,
            syn::TraitItem::Fn(i) => &i.attrs,
            syn::TraitItem::Type(i) => &i.attrs,
            syn::TraitItem::Macro(i) => &i.attrs,
            _ => &[],
        };
        self.unless_test(attrs, |v| visit::visit_trait_item(v, node));
    }

    fn visit_local(&mut self, node: &'ast syn::Local) {
        self.unless_test(&node.attrs, |v| visit::visit_local(v, node));
    }

    fn visit_stmt_macro(&mut self, node: &'ast syn::StmtMacro) {
        self.unless_test(&node.attrs, |v| visit::visit_stmt_macro(v, node));
    }

    fn visit_arm(&mut self, node: &'ast syn::Arm) {
        self.unless_test(&node.attrs, |v| visit::visit_arm(v, node));
    }

    fn visit_field(&mut self, node: &'ast syn::Field) {
        self.unless_test(&node.attrs, |v| visit::visit_field(v, node));
    }

    fn visit_variant(&mut self, node: &'ast syn::Variant) {
        self.unless_test(&node.attrs, |v| visit::visit_variant(v, node));
    }

    fn visit_field_value(&mut self, node: &'ast syn::FieldValue) {
        self.unless_test(&node.attrs, |v| visit::visit_field_value(v, node));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn files_map_to_modules_by_their_place() {
        let src = Path::new("/c/src");
        let of = |rel: &str| module_of_path(src, &src.join(rel));
        assert_eq!(of("foo.rs"), Some(vec!["foo".to_string()]));
        assert_eq!(of("foo/mod.rs"), Some(vec!["foo".to_string()]));
        assert_eq!(
            of("foo/bar.rs"),
            Some(vec!["foo".to_string(), "bar".to_string()])
        );
        assert_eq!(of("lib.rs"), None);
        assert_eq!(of("bin/tool.rs"), None);
        assert_eq!(of("notes.txt"), None);
    }

    #[test]
    fn the_longest_module_prefix_wins() {
        let mut imports = CrateImports::default();
        for path in [vec![], vec!["a".to_string()], vec!["a".into(), "b".into()]] {
            imports.modules.insert(
                path,
                Module {
                    file: String::new(),
                    line: 1,
                    in_root_file: false,
                },
            );
        }
        let path: Vec<String> = ["a", "b", "C", "new"].map(String::from).to_vec();
        assert_eq!(imports.longest_module(&path), ["a", "b"]);
        let path: Vec<String> = ["x", "y"].map(String::from).to_vec();
        assert!(imports.longest_module(&path).is_empty());
    }
}
