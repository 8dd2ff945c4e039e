//! The public surface of each library crate, one item per line, compared with
//! `traceability/public_api/<package>.txt`.
//!
//! The surface is read from source with `syn`: starting at `lib.rs`, `mod`
//! declarations are followed into their files, and an item counts when it is
//! reachable from the crate root through `pub` modules or `pub use`
//! re-exports (so `mod x; pub use x::Y;` lists `Y` at the root, and a `pub`
//! item in a private module that is never re-exported does not count).
//! `#[cfg(test)]` code is left out; other `#[cfg(…)]` attributes (features,
//! platforms) are kept as a prefix of the line.
//!
//! Line shapes (`<cfg prefixes><kind> <path><details>`):
//!
//! ```text
//! mod batpak::store
//! struct batpak::Store
//! field batpak::Coordinate::entity: Arc<str>
//! #[non_exhaustive] enum batpak::StoreError
//! variant batpak::StoreError::Locked { path: PathBuf }
//! fn batpak::Store::append(&self, coordinate: &Coordinate, payload: &[u8]) -> Result<AppendReceipt, StoreError>
//! const fn batpak::EventKind::custom(category: u8, type_id: u16) -> EventKind
//! trait batpak::EventPayload: Serialize
//! impl Clone for batpak::Coordinate
//! const batpak::FORMAT_VERSION: u16
//! type batpak::Result<T> = std::result::Result<T, StoreError>
//! use batpak::Hash = blake3::Hash
//! macro batpak::region!
//! #[cfg(feature = "tls")] fn batpak::tls::config() -> Config
//! ```

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use syn::punctuated::Punctuated;

use crate::rustsrc::{self, one_line};
use crate::ToolFailed;

/// A library crate whose surface is tracked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateSource {
    /// Package name (names the baseline file).
    pub package: String,
    /// Crate name as used in paths (`batpak`, `batpak_macros`).
    pub crate_name: String,
    /// The library root file.
    pub lib_rs: PathBuf,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
}

#[derive(Deserialize)]
struct MetaPackage {
    name: String,
    manifest_path: PathBuf,
    targets: Vec<MetaTarget>,
}

#[derive(Deserialize)]
struct MetaTarget {
    name: String,
    kind: Vec<String>,
    src_path: PathBuf,
}

/// The workspace's library crates, from `cargo metadata --no-deps`, without
/// xtask and fixtures.
pub fn workspace_crates(root: &Path) -> Result<Vec<CrateSource>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .stdin(Stdio::null())
        .output()
        .map_err(|err| anyhow!(ToolFailed(format!("cannot run cargo metadata: {err}"))))?;
    if !output.status.success() {
        bail!(ToolFailed(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    let meta: Metadata =
        serde_json::from_slice(&output.stdout).context("cannot read cargo metadata output")?;
    let mut crates = Vec::new();
    for package in meta.packages {
        let in_fixtures = package
            .manifest_path
            .components()
            .any(|c| c.as_os_str() == "fixtures");
        if package.name == "xtask" || in_fixtures {
            continue;
        }
        let lib = package.targets.into_iter().find(|t| {
            t.kind
                .iter()
                .any(|k| matches!(k.as_str(), "lib" | "rlib" | "dylib" | "proc-macro"))
        });
        if let Some(lib) = lib {
            crates.push(CrateSource {
                package: package.name,
                crate_name: lib.name.replace('-', "_"),
                lib_rs: lib.src_path,
            });
        }
    }
    crates.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(crates)
}

/// Differences between a baseline and the current surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Package name.
    pub package: String,
    /// The baseline file.
    pub baseline: PathBuf,
    /// No baseline file exists.
    pub missing_baseline: bool,
    /// Lines in the baseline but no longer in the source.
    pub removed: Vec<String>,
    /// Lines in the source but not in the baseline.
    pub added: Vec<String>,
}

impl Drift {
    /// Whether the surface matches its baseline.
    pub fn is_clean(&self) -> bool {
        !self.missing_baseline && self.removed.is_empty() && self.added.is_empty()
    }
}

/// Baseline path of a package.
pub fn baseline_path(baseline_dir: &Path, package: &str) -> PathBuf {
    baseline_dir.join(format!("{package}.txt"))
}

/// Compares each crate with its baseline.
pub fn check(crates: &[CrateSource], baseline_dir: &Path) -> Result<Vec<Drift>> {
    let mut drifts = Vec::new();
    for krate in crates {
        let current = extract(krate)?;
        let baseline = baseline_path(baseline_dir, &krate.package);
        let drift = match std::fs::read_to_string(&baseline) {
            Ok(text) => {
                let old: Vec<String> = text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_owned)
                    .collect();
                let (removed, added) = diff(&old, &current);
                Drift {
                    package: krate.package.clone(),
                    baseline,
                    missing_baseline: false,
                    removed,
                    added,
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Drift {
                package: krate.package.clone(),
                baseline,
                missing_baseline: true,
                removed: Vec::new(),
                added: current,
            },
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read {}", baseline.display()))
            }
        };
        drifts.push(drift);
    }
    Ok(drifts)
}

/// Baseline files in `baseline_dir` that belong to no crate in `crates`.
pub fn orphan_baselines(crates: &[CrateSource], baseline_dir: &Path) -> Result<Vec<PathBuf>> {
    let known: BTreeSet<PathBuf> = crates
        .iter()
        .map(|k| baseline_path(baseline_dir, &k.package))
        .collect();
    let mut orphans = Vec::new();
    let Ok(entries) = std::fs::read_dir(baseline_dir) else {
        return Ok(orphans);
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "txt") && !known.contains(&path) {
            orphans.push(path);
        }
    }
    orphans.sort();
    Ok(orphans)
}

/// Writes each crate's baseline; returns the packages whose file changed.
pub fn bless(crates: &[CrateSource], baseline_dir: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(baseline_dir)
        .with_context(|| format!("cannot create {}", baseline_dir.display()))?;
    let mut changed = Vec::new();
    for krate in crates {
        let lines = extract(krate)?;
        let mut text = lines.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        let path = baseline_path(baseline_dir, &krate.package);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            changed.push(krate.package.clone());
        }
    }
    Ok(changed)
}

/// Lines only in `old` (removed) and only in `new` (added), each in order.
pub fn diff(old: &[String], new: &[String]) -> (Vec<String>, Vec<String>) {
    let old_set: HashSet<&String> = old.iter().collect();
    let new_set: HashSet<&String> = new.iter().collect();
    let removed = old
        .iter()
        .filter(|l| !new_set.contains(l))
        .cloned()
        .collect();
    let added = new
        .iter()
        .filter(|l| !old_set.contains(l))
        .cloned()
        .collect();
    (removed, added)
}

/// The sorted public surface of one crate.
pub fn extract(krate: &CrateSource) -> Result<Vec<String>> {
    let tree = Tree::load(krate)
        .with_context(|| format!("cannot read the public API of `{}`", krate.package))?;
    Ok(tree.surface())
}

/// A name brought into a module by `use`.
#[derive(Debug, Clone)]
struct UseBinding {
    /// Bound name; `None` for a glob.
    name: Option<String>,
    target: Vec<String>,
    leading_colon: bool,
    is_pub: bool,
    cfg: Vec<String>,
    hidden: bool,
}

struct Module {
    parent: Option<usize>,
    declared_pub: bool,
    cfg: Vec<String>,
    /// `#[doc(hidden)]` on the declaration (or inside the module).
    hidden: bool,
    items: Vec<syn::Item>,
    children: Vec<(String, usize)>,
    uses: Vec<UseBinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Target {
    Module(usize),
    /// (module, index into its items)
    Item(usize, usize),
    /// Outside the crate, or not an item of it: the path as written.
    External(String),
}

#[derive(Debug, Clone)]
struct Export {
    path: Vec<String>,
    target: Target,
    cfg: Vec<String>,
    /// Reached through something `#[doc(hidden)]`.
    hidden: bool,
}

/// How a module or item is reached from the crate root.
#[derive(Clone)]
struct Reach {
    path: Vec<String>,
    cfg: Vec<String>,
    hidden: bool,
}

impl Reach {
    fn child(&self, name: &str, cfg: &[String], hidden: bool) -> Reach {
        let mut path = self.path.clone();
        path.push(name.to_owned());
        Reach {
            path,
            cfg: merge_cfg(&self.cfg, cfg),
            hidden: self.hidden || hidden,
        }
    }

    fn child_of_same_path(&self, cfg: &[String], hidden: bool) -> Reach {
        Reach {
            path: self.path.clone(),
            cfg: merge_cfg(&self.cfg, cfg),
            hidden: self.hidden || hidden,
        }
    }

    fn export(&self, target: Target) -> Export {
        Export {
            path: self.path.clone(),
            target,
            cfg: self.cfg.clone(),
            hidden: self.hidden,
        }
    }
}

/// Where an item's members and impls are listed.
#[derive(Clone)]
struct Canonical {
    path: Vec<String>,
    cfg: Vec<String>,
    hidden: bool,
}

/// What a `mod` declaration says about the module.
struct ModuleDecl {
    declared_pub: bool,
    cfg: Vec<String>,
    hidden: bool,
}

struct Tree {
    crate_name: String,
    modules: Vec<Module>,
}

/// Rank of a line among lines with the same sort key: the item first.
const RANK_ITEM: u8 = 0;
const RANK_IMPL: u8 = 1;

struct Line {
    key: String,
    rank: u8,
    text: String,
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

fn merge_cfg(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    for c in b {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// Name and visibility of items that define a name (not modules, uses, impls).
fn item_name(item: &syn::Item) -> Option<(String, bool)> {
    let (ident, vis) = match item {
        syn::Item::Const(i) => (&i.ident, &i.vis),
        syn::Item::Enum(i) => (&i.ident, &i.vis),
        syn::Item::Fn(i) => (&i.sig.ident, &i.vis),
        syn::Item::Static(i) => (&i.ident, &i.vis),
        syn::Item::Struct(i) => (&i.ident, &i.vis),
        syn::Item::Trait(i) => (&i.ident, &i.vis),
        syn::Item::TraitAlias(i) => (&i.ident, &i.vis),
        syn::Item::Type(i) => (&i.ident, &i.vis),
        syn::Item::Union(i) => (&i.ident, &i.vis),
        _ => return None,
    };
    Some((ident.to_string(), is_pub(vis)))
}

fn flatten_use(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Option<String>, Vec<String>)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            if n.ident == "self" {
                if let Some(last) = prefix.last() {
                    out.push((Some(last.clone()), prefix.clone()));
                }
            } else {
                let mut target = prefix.clone();
                target.push(n.ident.to_string());
                out.push((Some(n.ident.to_string()), target));
            }
        }
        syn::UseTree::Rename(r) => {
            if r.rename == "_" {
                return; // brings a trait into scope, binds no name
            }
            let mut target = prefix.clone();
            if r.ident != "self" {
                target.push(r.ident.to_string());
            }
            out.push((Some(r.rename.to_string()), target));
        }
        syn::UseTree::Glob(_) => out.push((None, prefix.clone())),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                flatten_use(tree, prefix, out);
            }
        }
    }
}

/// Limit on resolution depth, far above any real re-export chain.
const MAX_DEPTH: usize = 32;

impl Tree {
    fn load(krate: &CrateSource) -> Result<Self> {
        let mut tree = Tree {
            crate_name: krate.crate_name.clone(),
            modules: Vec::new(),
        };
        let file = rustsrc::parse_file(&krate.lib_rs)?;
        let child_dir = rustsrc::child_dir_of_file(&krate.lib_rs);
        let path_base = krate
            .lib_rs
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let root = ModuleDecl {
            declared_pub: true,
            cfg: Vec::new(),
            hidden: rustsrc::is_doc_hidden(&file.attrs),
        };
        tree.add_module(
            file.items,
            None,
            root,
            &child_dir,
            &path_base,
            &krate.lib_rs,
        )?;
        Ok(tree)
    }

    fn add_module(
        &mut self,
        items: Vec<syn::Item>,
        parent: Option<usize>,
        decl: ModuleDecl,
        child_dir: &Path,
        path_base: &Path,
        file: &Path,
    ) -> Result<usize> {
        let id = self.modules.len();
        self.modules.push(Module {
            parent,
            declared_pub: decl.declared_pub,
            cfg: decl.cfg,
            hidden: decl.hidden,
            items: Vec::new(),
            children: Vec::new(),
            uses: Vec::new(),
        });
        for item in rustsrc::expand_local_macros(items) {
            if rustsrc::is_cfg_test(item_attrs(&item)) {
                continue;
            }
            match item {
                syn::Item::Mod(m) => {
                    let name = m.ident.to_string();
                    let decl = ModuleDecl {
                        declared_pub: is_pub(&m.vis),
                        cfg: rustsrc::cfg_attrs(&m.attrs),
                        hidden: rustsrc::is_doc_hidden(&m.attrs),
                    };
                    let child = if let Some((_, content)) = m.content {
                        let dir = child_dir.join(name.trim_start_matches("r#"));
                        self.add_module(content, Some(id), decl, &dir, &dir, file)?
                    } else {
                        let Some(path) =
                            rustsrc::module_file(child_dir, path_base, &name, &m.attrs)
                        else {
                            bail!(
                                "{}: the file of `mod {name};` was not found (looked for {name}.rs and {name}/mod.rs in {})",
                                file.display(),
                                child_dir.display()
                            );
                        };
                        let parsed = rustsrc::parse_file(&path)?;
                        let dir = rustsrc::child_dir_of_file(&path);
                        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                        let decl = ModuleDecl {
                            hidden: decl.hidden || rustsrc::is_doc_hidden(&parsed.attrs),
                            ..decl
                        };
                        self.add_module(parsed.items, Some(id), decl, &dir, &base, &path)?
                    };
                    self.modules[id].children.push((name, child));
                }
                syn::Item::Use(u) => {
                    let mut flat = Vec::new();
                    flatten_use(&u.tree, &mut Vec::new(), &mut flat);
                    let cfg = rustsrc::cfg_attrs(&u.attrs);
                    let hidden = rustsrc::is_doc_hidden(&u.attrs);
                    for (name, target) in flat {
                        self.modules[id].uses.push(UseBinding {
                            name,
                            target,
                            leading_colon: u.leading_colon.is_some(),
                            is_pub: is_pub(&u.vis),
                            cfg: cfg.clone(),
                            hidden,
                        });
                    }
                }
                other => self.modules[id].items.push(other),
            }
        }
        Ok(id)
    }

    /// Everything `name` can mean inside `module`.
    fn lookup(&self, module: usize, name: &str, stack: &mut Vec<(usize, String)>) -> Vec<Target> {
        let key = (module, name.to_owned());
        if stack.len() > MAX_DEPTH || stack.contains(&key) {
            return Vec::new();
        }
        stack.push(key);
        let m = &self.modules[module];
        let mut found: Vec<Target> = m
            .children
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, c)| Target::Module(*c))
            .collect();
        found.extend(m.items.iter().enumerate().filter_map(|(i, item)| {
            item_name(item)
                .filter(|(n, _)| n == name)
                .map(|_| Target::Item(module, i))
        }));
        if found.is_empty() {
            for binding in m.uses.iter().filter(|b| b.name.as_deref() == Some(name)) {
                found.extend(self.resolve(module, &binding.target, binding.leading_colon, stack));
            }
        }
        if found.is_empty() {
            for binding in m.uses.iter().filter(|b| b.name.is_none()) {
                for target in self.resolve(module, &binding.target, binding.leading_colon, stack) {
                    if let Target::Module(inner) = target {
                        found.extend(self.lookup(inner, name, stack));
                    }
                }
            }
        }
        stack.pop();
        found.sort();
        found.dedup();
        found
    }

    /// What a path written in `module` refers to.
    fn resolve(
        &self,
        module: usize,
        path: &[String],
        leading_colon: bool,
        stack: &mut Vec<(usize, String)>,
    ) -> Vec<Target> {
        let written = path.join("::");
        let Some((first, rest)) = path.split_first() else {
            return Vec::new();
        };
        if leading_colon {
            return vec![Target::External(written)];
        }
        let mut current = match first.as_str() {
            "crate" => vec![Target::Module(0)],
            "self" => vec![Target::Module(module)],
            "super" => match self.modules[module].parent {
                Some(parent) => vec![Target::Module(parent)],
                None => return Vec::new(),
            },
            name => {
                let found = self.lookup(module, name, stack);
                if found.is_empty() {
                    return vec![Target::External(written)];
                }
                found
            }
        };
        for segment in rest {
            let mut next = Vec::new();
            for target in current {
                match target {
                    Target::Module(m) if segment == "super" => {
                        if let Some(parent) = self.modules[m].parent {
                            next.push(Target::Module(parent));
                        }
                    }
                    Target::Module(m) if segment == "self" => next.push(Target::Module(m)),
                    Target::Module(m) => next.extend(self.lookup(m, segment, stack)),
                    Target::External(p) => next.push(Target::External(format!("{p}::{segment}"))),
                    // An enum variant or associated item: not an item of its own.
                    Target::Item(..) => next.push(Target::External(written.clone())),
                }
            }
            current = next;
        }
        current.sort();
        current.dedup();
        current
    }

    fn module_chain_cfg(&self, module: usize) -> Vec<String> {
        let mut chain = Vec::new();
        let mut at = Some(module);
        while let Some(m) = at {
            chain.push(m);
            at = self.modules[m].parent;
        }
        chain
            .iter()
            .rev()
            .fold(Vec::new(), |acc, m| merge_cfg(&acc, &self.modules[*m].cfg))
    }

    fn definition_cfg(&self, target: &Target) -> Vec<String> {
        match target {
            Target::Module(m) => self.module_chain_cfg(*m),
            Target::Item(m, i) => merge_cfg(
                &self.module_chain_cfg(*m),
                &rustsrc::cfg_attrs(item_attrs(&self.modules[*m].items[*i])),
            ),
            Target::External(_) => Vec::new(),
        }
    }

    /// Every path from the crate root at which something public is reachable.
    fn exports(&self) -> Vec<Export> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let root = Reach {
            path: vec![self.crate_name.clone()],
            cfg: Vec::new(),
            hidden: self.modules[0].hidden,
        };
        self.walk(0, root, &mut out, &mut seen);
        out
    }

    /// Exports everything public in `module`, reached as `reach`.
    fn walk(
        &self,
        module: usize,
        reach: Reach,
        out: &mut Vec<Export>,
        seen: &mut HashSet<(usize, Vec<String>)>,
    ) {
        if reach.path.len() > MAX_DEPTH || !seen.insert((module, reach.path.clone())) {
            return;
        }
        let m = &self.modules[module];
        for (name, child) in &m.children {
            let child_module = &self.modules[*child];
            if child_module.declared_pub {
                let inner = reach.child(name, &child_module.cfg, child_module.hidden);
                out.push(inner.export(Target::Module(*child)));
                self.walk(*child, inner, out, seen);
            }
        }
        for (index, item) in m.items.iter().enumerate() {
            if let Some((name, true)) = item_name(item) {
                let target = Target::Item(module, index);
                let inner = reach.child(&name, &self.definition_cfg(&target), false);
                out.push(inner.export(target));
            }
        }
        for binding in m.uses.iter().filter(|b| b.is_pub) {
            let targets = self.resolve(
                module,
                &binding.target,
                binding.leading_colon,
                &mut Vec::new(),
            );
            let written = binding.target.join("::");
            let Some(name) = &binding.name else {
                // A glob re-export: the target's public contents appear here.
                let here = Reach {
                    path: reach.path.clone(),
                    cfg: merge_cfg(&reach.cfg, &binding.cfg),
                    hidden: reach.hidden || binding.hidden,
                };
                for target in targets {
                    match target {
                        Target::Module(inner) => self.walk(inner, here.clone(), out, seen),
                        Target::External(p) => out.push(
                            here.child("*", &[], false)
                                .export(Target::External(format!("{p}::*"))),
                        ),
                        Target::Item(..) => out.push(
                            here.child("*", &[], false)
                                .export(Target::External(format!("{written}::*"))),
                        ),
                    }
                }
                continue;
            };
            let named = reach.child(name, &binding.cfg, binding.hidden);
            if targets.is_empty() {
                out.push(named.export(Target::External(written.clone())));
            }
            for target in targets {
                let (def_cfg, def_hidden) = match &target {
                    Target::Module(inner) => {
                        (self.definition_cfg(&target), self.modules[*inner].hidden)
                    }
                    _ => (self.definition_cfg(&target), false),
                };
                let inner = named.child_of_same_path(&def_cfg, def_hidden);
                if let Target::Module(m) = target {
                    self.walk(m, inner.clone(), out, seen);
                }
                out.push(inner.export(target));
            }
        }
    }

    fn item(&self, target: &Target) -> Option<&syn::Item> {
        match target {
            Target::Item(m, i) => self.modules[*m].items.get(*i),
            _ => None,
        }
    }

    /// The sorted lines of the surface.
    fn surface(&self) -> Vec<String> {
        let exports = self.exports();
        // The shortest (then alphabetically first) public path of each item
        // carries its members and impls; visible paths win over hidden ones.
        let mut canonical: BTreeMap<Target, Canonical> = BTreeMap::new();
        for export in &exports {
            let rank = |hidden: bool, path: &Vec<String>| (hidden, path.len(), path.clone());
            let better = match canonical.get(&export.target) {
                None => true,
                Some(c) => rank(export.hidden, &export.path) < rank(c.hidden, &c.path),
            };
            if better {
                let c = Canonical {
                    path: export.path.clone(),
                    cfg: export.cfg.clone(),
                    hidden: export.hidden,
                };
                canonical.insert(export.target.clone(), c);
            }
        }
        let mut lines = Vec::new();
        for export in &exports {
            self.export_lines(export, &mut lines);
        }
        for (target, c) in &canonical {
            if let Some(item) = self.item(target) {
                let scope = Scope {
                    cfg: &c.cfg,
                    hidden: c.hidden,
                };
                member_lines(item, &c.path.join("::"), scope, &mut lines);
            }
        }
        self.impl_lines(&canonical, &mut lines);
        self.macro_lines(&mut lines);
        lines.sort_by(|a, b| (&a.key, a.rank, &a.text).cmp(&(&b.key, b.rank, &b.text)));
        let mut texts: Vec<String> = lines.into_iter().map(|l| l.text).collect();
        texts.dedup();
        texts
    }

    fn export_lines(&self, export: &Export, lines: &mut Vec<Line>) {
        let path = export.path.join("::");
        let text = match &export.target {
            Target::Module(_) => format!("mod {path}"),
            Target::External(written) => format!("use {path} = {written}"),
            Target::Item(..) => {
                let Some(item) = self.item(&export.target) else {
                    return;
                };
                match item_line(item, &path, &self.crate_name) {
                    Some(text) => text,
                    None => return,
                }
            }
        };
        let attrs = self.item(&export.target).map(item_attrs).unwrap_or(&[]);
        let prefix = attr_prefix(&export.cfg, export.hidden, attrs);
        lines.push(Line {
            key: path,
            rank: RANK_ITEM,
            text: format!("{prefix}{text}"),
        });
    }

    fn impl_lines(&self, canonical: &BTreeMap<Target, Canonical>, lines: &mut Vec<Line>) {
        for (module_id, module) in self.modules.iter().enumerate() {
            for item in &module.items {
                let syn::Item::Impl(imp) = item else {
                    continue;
                };
                let impl_cfg = merge_cfg(
                    &self.module_chain_cfg(module_id),
                    &rustsrc::cfg_attrs(&imp.attrs),
                );
                let self_target = self.type_target(module_id, &imp.self_ty);
                let self_canon = self_target.as_ref().and_then(|t| canonical.get(t));
                match &imp.trait_ {
                    None => {
                        let Some(c) = self_canon else {
                            continue;
                        };
                        let cfg = merge_cfg(&c.cfg, &impl_cfg);
                        let scope = Scope {
                            cfg: &cfg,
                            hidden: c.hidden,
                        };
                        inherent_lines(imp, &c.path.join("::"), scope, lines);
                    }
                    Some((bang, trait_path, _)) => {
                        let trait_segments: Vec<String> = trait_path
                            .segments
                            .iter()
                            .map(|s| s.ident.to_string())
                            .collect();
                        let trait_targets = self.resolve(
                            module_id,
                            &trait_segments,
                            trait_path.leading_colon.is_some(),
                            &mut Vec::new(),
                        );
                        let internal_trait =
                            trait_targets.iter().find(|t| matches!(t, Target::Item(..)));
                        let trait_text = match internal_trait {
                            Some(t) => match canonical.get(t) {
                                Some(c) => with_args(&c.path.join("::"), trait_path),
                                None => continue, // a private trait
                            },
                            // External traits by their full path where the
                            // imports tell it (`fmt::Display` → `std::fmt::Display`).
                            None => match trait_targets.as_slice() {
                                [Target::External(full)] => with_args(full, trait_path),
                                _ => one_line(trait_path),
                            },
                        };
                        let (key, self_text, cfg, hidden) = match self_canon {
                            Some(c) => {
                                let joined = c.path.join("::");
                                let text = with_type_args(&joined, &imp.self_ty);
                                (joined, text, merge_cfg(&c.cfg, &impl_cfg), c.hidden)
                            }
                            None => {
                                if self_target.is_some() {
                                    continue; // a private type
                                }
                                // A blanket or foreign-type impl of a public trait.
                                let Some(t) = internal_trait.and_then(|t| canonical.get(t)) else {
                                    continue;
                                };
                                let text = one_line(&*imp.self_ty);
                                (
                                    t.path.join("::"),
                                    text,
                                    merge_cfg(&t.cfg, &impl_cfg),
                                    t.hidden,
                                )
                            }
                        };
                        let unsafety = if imp.unsafety.is_some() {
                            "unsafe "
                        } else {
                            ""
                        };
                        let generics = if imp.generics.params.is_empty() {
                            String::new()
                        } else {
                            format!("<{}>", one_line(&imp.generics.params))
                        };
                        let negative = if bang.is_some() { "!" } else { "" };
                        let where_clause = imp
                            .generics
                            .where_clause
                            .as_ref()
                            .map(|w| format!(" {}", one_line(w)))
                            .unwrap_or_default();
                        lines.push(Line {
                            key,
                            rank: RANK_IMPL,
                            text: format!(
                                "{}{unsafety}impl{generics} {negative}{trait_text} for {self_text}{where_clause}",
                                attr_prefix(&cfg, hidden, &imp.attrs)
                            ),
                        });
                    }
                }
            }
        }
    }

    /// The crate item a type written in `module` names, if any.
    fn type_target(&self, module: usize, ty: &syn::Type) -> Option<Target> {
        let syn::Type::Path(tp) = ty else {
            return None;
        };
        if tp.qself.is_some() {
            return None;
        }
        let segments: Vec<String> = tp
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        if segments.len() == 1 && segments[0] == "Self" {
            return None;
        }
        self.resolve(
            module,
            &segments,
            tp.path.leading_colon.is_some(),
            &mut Vec::new(),
        )
        .into_iter()
        .find(|t| matches!(t, Target::Item(..)))
    }

    /// `#[macro_export] macro_rules!` macros live at the crate root.
    fn macro_lines(&self, lines: &mut Vec<Line>) {
        for (module_id, module) in self.modules.iter().enumerate() {
            for item in &module.items {
                let syn::Item::Macro(m) = item else {
                    continue;
                };
                let Some(ident) = &m.ident else {
                    continue;
                };
                if !rustsrc::has_attr(&m.attrs, "macro_export") {
                    continue;
                }
                let path = format!("{}::{ident}", self.crate_name);
                let cfg = merge_cfg(
                    &self.module_chain_cfg(module_id),
                    &rustsrc::cfg_attrs(&m.attrs),
                );
                lines.push(Line {
                    text: format!("{}macro {path}!", attr_prefix(&cfg, false, &m.attrs)),
                    key: path,
                    rank: RANK_ITEM,
                });
            }
        }
    }
}

/// `#[cfg(…)] #[doc(hidden)] #[non_exhaustive] ` as applicable.
fn attr_prefix(cfg: &[String], hidden: bool, attrs: &[syn::Attribute]) -> String {
    let mut prefix = String::new();
    for c in cfg {
        prefix.push_str(c);
        prefix.push(' ');
    }
    if hidden || rustsrc::is_doc_hidden(attrs) {
        prefix.push_str("#[doc(hidden)] ");
    }
    if rustsrc::has_attr(attrs, "non_exhaustive") {
        prefix.push_str("#[non_exhaustive] ");
    }
    prefix
}

fn generics_text(generics: &syn::Generics) -> (String, String) {
    let params = if generics.params.is_empty() {
        String::new()
    } else {
        format!("<{}>", one_line(&generics.params))
    };
    let where_clause = generics
        .where_clause
        .as_ref()
        .map(|w| format!(" {}", one_line(w)))
        .unwrap_or_default();
    (params, where_clause)
}

/// `path` followed by the generic arguments written on the last segment.
fn with_args(path: &str, written: &syn::Path) -> String {
    match written.segments.last() {
        Some(seg) if !seg.arguments.is_empty() => format!("{path}{}", one_line(&seg.arguments)),
        _ => path.to_owned(),
    }
}

fn with_type_args(path: &str, ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(tp) => with_args(path, &tp.path),
        _ => path.to_owned(),
    }
}

fn fn_arg(arg: &syn::FnArg) -> String {
    match arg {
        syn::FnArg::Receiver(r) => {
            if r.colon_token.is_some() {
                format!("self: {}", one_line(&*r.ty))
            } else if let Some((_, lifetime)) = &r.reference {
                let lifetime = lifetime
                    .as_ref()
                    .map(|l| format!("{l} "))
                    .unwrap_or_default();
                let mutability = if r.mutability.is_some() { "mut " } else { "" };
                format!("&{lifetime}{mutability}self")
            } else {
                "self".to_owned()
            }
        }
        syn::FnArg::Typed(pt) => {
            let pattern = match &*pt.pat {
                syn::Pat::Ident(pi) => pi.ident.to_string(),
                other => one_line(other),
            };
            format!("{pattern}: {}", one_line(&*pt.ty))
        }
    }
}

/// `const unsafe fn path<T>(args) -> Ret where …`
fn fn_line(sig: &syn::Signature, path: &str) -> String {
    let mut quals = String::new();
    if sig.constness.is_some() {
        quals.push_str("const ");
    }
    if sig.asyncness.is_some() {
        quals.push_str("async ");
    }
    if sig.unsafety.is_some() {
        quals.push_str("unsafe ");
    }
    if let Some(abi) = &sig.abi {
        quals.push_str(&one_line(abi));
        quals.push(' ');
    }
    let (params, where_clause) = generics_text(&sig.generics);
    let mut args: Vec<String> = sig.inputs.iter().map(fn_arg).collect();
    if sig.variadic.is_some() {
        args.push("...".to_owned());
    }
    let output = match &sig.output {
        syn::ReturnType::Default => String::new(),
        syn::ReturnType::Type(_, ty) => format!(" -> {}", one_line(&**ty)),
    };
    format!(
        "{quals}fn {path}{params}({}){output}{where_clause}",
        args.join(", ")
    )
}

/// The line of an exported item, or `None` for items that are not listed.
fn item_line(item: &syn::Item, path: &str, crate_name: &str) -> Option<String> {
    Some(match item {
        syn::Item::Fn(f) => {
            if let Some(line) = proc_macro_line(&f.attrs, &f.sig.ident.to_string(), crate_name) {
                return Some(line);
            }
            fn_line(&f.sig, path)
        }
        syn::Item::Struct(s) => {
            let (params, where_clause) = generics_text(&s.generics);
            format!("struct {path}{params}{where_clause}")
        }
        syn::Item::Enum(e) => {
            let (params, where_clause) = generics_text(&e.generics);
            format!("enum {path}{params}{where_clause}")
        }
        syn::Item::Union(u) => {
            let (params, where_clause) = generics_text(&u.generics);
            format!("union {path}{params}{where_clause}")
        }
        syn::Item::Trait(t) => {
            let (params, where_clause) = generics_text(&t.generics);
            let unsafety = if t.unsafety.is_some() { "unsafe " } else { "" };
            let auto = if t.auto_token.is_some() { "auto " } else { "" };
            let supertraits = if t.supertraits.is_empty() {
                String::new()
            } else {
                format!(": {}", one_line(&t.supertraits))
            };
            format!("{unsafety}{auto}trait {path}{params}{supertraits}{where_clause}")
        }
        syn::Item::TraitAlias(t) => {
            let (params, where_clause) = generics_text(&t.generics);
            format!(
                "trait {path}{params} = {}{where_clause}",
                one_line(&t.bounds)
            )
        }
        syn::Item::Type(t) => {
            let (params, where_clause) = generics_text(&t.generics);
            format!("type {path}{params}{where_clause} = {}", one_line(&*t.ty))
        }
        syn::Item::Const(c) => format!("const {path}: {}", one_line(&*c.ty)),
        syn::Item::Static(s) => {
            let mutability = if matches!(s.mutability, syn::StaticMutability::Mut(_)) {
                "mut "
            } else {
                ""
            };
            format!("static {mutability}{path}: {}", one_line(&*s.ty))
        }
        _ => return None,
    })
}

/// Proc-macro entry points are listed as the macros they define.
fn proc_macro_line(attrs: &[syn::Attribute], fn_name: &str, crate_name: &str) -> Option<String> {
    for attr in attrs {
        if attr.path().is_ident("proc_macro_derive") {
            let args = match &attr.meta {
                syn::Meta::List(list) => rustsrc::flat(list.tokens.clone()),
                _ => String::new(),
            };
            let (name, rest) = match args.split_once(',') {
                Some((name, rest)) => (name.trim().to_owned(), format!(" ({})", rest.trim())),
                None => (args.trim().to_owned(), String::new()),
            };
            return Some(format!("derive {crate_name}::{name}{rest}"));
        }
        if attr.path().is_ident("proc_macro_attribute") {
            return Some(format!("attribute {crate_name}::{fn_name}"));
        }
        if attr.path().is_ident("proc_macro") {
            return Some(format!("macro {crate_name}::{fn_name}!"));
        }
    }
    None
}

/// The conditions a member inherits from the item it belongs to.
#[derive(Clone, Copy)]
struct Scope<'a> {
    cfg: &'a [String],
    hidden: bool,
}

fn push_line(
    lines: &mut Vec<Line>,
    key: String,
    rank: u8,
    scope: Scope<'_>,
    attrs: &[syn::Attribute],
    text: String,
) {
    let cfg = merge_cfg(scope.cfg, &rustsrc::cfg_attrs(attrs));
    lines.push(Line {
        key,
        rank,
        text: format!("{}{text}", attr_prefix(&cfg, scope.hidden, attrs)),
    });
}

fn fields_text(fields: &syn::Fields) -> String {
    match fields {
        syn::Fields::Unit => String::new(),
        syn::Fields::Unnamed(u) => {
            let types: Vec<String> = u.unnamed.iter().map(|f| one_line(&f.ty)).collect();
            format!("({})", types.join(", "))
        }
        syn::Fields::Named(n) => {
            let named: Vec<String> = n
                .named
                .iter()
                .map(|f| {
                    let name = f
                        .ident
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    format!("{name}: {}", one_line(&f.ty))
                })
                .collect();
            format!(" {{ {} }}", named.join(", "))
        }
    }
}

fn pub_field_lines(fields: &syn::Fields, path: &str, scope: Scope<'_>, lines: &mut Vec<Line>) {
    for (index, field) in fields.iter().enumerate() {
        if !is_pub(&field.vis) || rustsrc::is_cfg_test(&field.attrs) {
            continue;
        }
        let name = field
            .ident
            .as_ref()
            .map_or_else(|| index.to_string(), ToString::to_string);
        let key = format!("{path}::{name}");
        let text = format!("field {key}: {}", one_line(&field.ty));
        push_line(lines, key, RANK_ITEM, scope, &field.attrs, text);
    }
}

/// `<'a, T, N>`: the generic parameters of an item as arguments.
fn generic_args(generics: &syn::Generics) -> String {
    if generics.params.is_empty() {
        return String::new();
    }
    let args: Vec<String> = generics
        .params
        .iter()
        .map(|p| match p {
            syn::GenericParam::Lifetime(l) => l.lifetime.to_string(),
            syn::GenericParam::Type(t) => t.ident.to_string(),
            syn::GenericParam::Const(c) => c.ident.to_string(),
        })
        .collect();
    format!("<{}>", args.join(", "))
}

fn derive_lines(
    attrs: &[syn::Attribute],
    generics: &syn::Generics,
    path: &str,
    scope: Scope<'_>,
    lines: &mut Vec<Line>,
) {
    let target = format!("{path}{}", generic_args(generics));
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let Ok(derived) =
            attr.parse_args_with(Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
        else {
            continue;
        };
        for d in derived {
            let text = format!("impl {} for {target}", one_line(&d));
            push_line(lines, path.to_owned(), RANK_IMPL, scope, &[], text);
        }
    }
}

/// Fields, variants, trait items and derives, listed under the item's
/// canonical path.
fn member_lines(item: &syn::Item, path: &str, scope: Scope<'_>, lines: &mut Vec<Line>) {
    match item {
        syn::Item::Struct(s) => {
            pub_field_lines(&s.fields, path, scope, lines);
            derive_lines(&s.attrs, &s.generics, path, scope, lines);
        }
        syn::Item::Union(u) => {
            pub_field_lines(&syn::Fields::Named(u.fields.clone()), path, scope, lines);
            derive_lines(&u.attrs, &u.generics, path, scope, lines);
        }
        syn::Item::Enum(e) => {
            for variant in &e.variants {
                if rustsrc::is_cfg_test(&variant.attrs) {
                    continue;
                }
                let key = format!("{path}::{}", variant.ident);
                let discriminant = variant
                    .discriminant
                    .as_ref()
                    .map(|(_, expr)| format!(" = {}", one_line(expr)))
                    .unwrap_or_default();
                let text = format!(
                    "variant {key}{}{discriminant}",
                    fields_text(&variant.fields)
                );
                push_line(lines, key, RANK_ITEM, scope, &variant.attrs, text);
            }
            derive_lines(&e.attrs, &e.generics, path, scope, lines);
        }
        syn::Item::Trait(t) => {
            for trait_item in &t.items {
                match trait_item {
                    syn::TraitItem::Fn(f) => {
                        let key = format!("{path}::{}", f.sig.ident);
                        let provided = if f.default.is_some() {
                            " (provided)"
                        } else {
                            ""
                        };
                        let text = format!("{}{provided}", fn_line(&f.sig, &key));
                        push_line(lines, key, RANK_ITEM, scope, &f.attrs, text);
                    }
                    syn::TraitItem::Const(c) => {
                        let key = format!("{path}::{}", c.ident);
                        let provided = if c.default.is_some() {
                            " (provided)"
                        } else {
                            ""
                        };
                        let text = format!("const {key}: {}{provided}", one_line(&c.ty));
                        push_line(lines, key, RANK_ITEM, scope, &c.attrs, text);
                    }
                    syn::TraitItem::Type(ty) => {
                        let key = format!("{path}::{}", ty.ident);
                        let (params, where_clause) = generics_text(&ty.generics);
                        let bounds = if ty.bounds.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", one_line(&ty.bounds))
                        };
                        let text = format!("type {key}{params}{bounds}{where_clause}");
                        push_line(lines, key, RANK_ITEM, scope, &ty.attrs, text);
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// `pub` methods and constants of an inherent impl.
fn inherent_lines(imp: &syn::ItemImpl, path: &str, scope: Scope<'_>, lines: &mut Vec<Line>) {
    let context = if imp.generics.params.is_empty() && imp.generics.where_clause.is_none() {
        String::new()
    } else {
        let (params, where_clause) = generics_text(&imp.generics);
        format!("  [impl{params} {}{where_clause}]", one_line(&*imp.self_ty))
    };
    for impl_item in &imp.items {
        match impl_item {
            syn::ImplItem::Fn(f) if is_pub(&f.vis) && !rustsrc::is_cfg_test(&f.attrs) => {
                let key = format!("{path}::{}", f.sig.ident);
                let text = format!("{}{context}", fn_line(&f.sig, &key));
                push_line(lines, key, RANK_ITEM, scope, &f.attrs, text);
            }
            syn::ImplItem::Const(c) if is_pub(&c.vis) && !rustsrc::is_cfg_test(&c.attrs) => {
                let key = format!("{path}::{}", c.ident);
                let text = format!("const {key}: {}{context}", one_line(&c.ty));
                push_line(lines, key, RANK_ITEM, scope, &c.attrs, text);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn diff_reports_both_sides_in_order() {
        let old = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let new = vec!["a".to_owned(), "c".to_owned(), "d".to_owned()];
        assert_eq!(
            diff(&old, &new),
            (vec!["b".to_owned()], vec!["d".to_owned()])
        );
    }

    #[test]
    fn use_trees_flatten() {
        let item: syn::ItemUse = syn::parse_str("use a::{b, c::d as e, f::*, g::{self}};").unwrap();
        let mut out = Vec::new();
        flatten_use(&item.tree, &mut Vec::new(), &mut out);
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            out,
            vec![
                (Some("b".to_owned()), s(&["a", "b"])),
                (Some("e".to_owned()), s(&["a", "c", "d"])),
                (None, s(&["a", "f"])),
                (Some("g".to_owned()), s(&["a", "g"])),
            ]
        );
    }
}
