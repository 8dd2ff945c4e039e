//! Module layers of one crate: `traceability/layers.yaml`.
//!
//! ```yaml
//! crate: crates/batpak/src        # source directory, relative to the root
//! layers:                         # lowest first
//!   - name: types                 # [a-z0-9_-]+, unique
//!     description: ids and errors # optional
//!     modules: [id, error]        # module paths; each may be listed once
//!   - name: format
//!     modules: [format]           # covers format::frame, format::… too
//! ```
//!
//! A module belongs to the listed module that is its longest prefix, so
//! `format` covers its submodules unless one of them (`format::frame`) is
//! listed on its own. The listed modules are the nodes of the module graph;
//! an edge joins two of them when code in one names a path into the other.
//!
//! The check fails when a module of the crate belongs to no listed module,
//! a listed module does not exist, an edge goes from a lower layer to a higher
//! one, or the graph has a cycle, either between listed modules or among the
//! submodules of one listed module.
//!
//! The crate root file (`lib.rs`, with its inline modules such as a prelude)
//! is exempt: it re-exports everything. A path through a root re-export
//! (`crate::Store`) counts as a path to the module the item comes from. In
//! the same way a module's re-export of an item of its own submodule
//! (`pub use self::frame::Frame` in `format`) is not an edge of its own, and
//! paths through it lead to the submodule.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::imports::{self, CrateImports, ModPath};
use crate::yaml::{self, at_line};

/// The parsed `layers.yaml`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LayersFile {
    /// Source directory of the checked crate, relative to the workspace root.
    #[serde(rename = "crate")]
    pub crate_dir: String,
    /// The layers, lowest first.
    pub layers: Vec<Layer>,
}

/// One layer: the modules that may import from this layer and those below.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Layer name, `[a-z0-9_-]+`, unique in the file.
    pub name: String,
    /// What the layer holds, one line.
    #[serde(default)]
    pub description: Option<String>,
    /// Module paths (`store`, `format::frame`), each listed once in the file.
    pub modules: Vec<String>,
}

/// Loads and validates a layers file. `display` names it in errors.
pub fn load(path: &Path, display: &str) -> Result<LayersFile> {
    load_with_text(path, display).map(|(file, _)| file)
}

fn load_with_text(path: &Path, display: &str) -> Result<(LayersFile, String)> {
    let loaded = yaml::load::<LayersFile>(path, display)?;
    let problems = validate(&loaded.value, &loaded.text);
    if !problems.is_empty() {
        bail!("{display}: {}", problems.join(&format!("\n{display}: ")));
    }
    Ok((loaded.value, loaded.text))
}

fn validate(file: &LayersFile, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if file.crate_dir.trim().is_empty() {
        problems.push(format!(
            "`crate` is empty{}",
            at_line(yaml::line_containing(text, "crate:"))
        ));
    }
    if file.layers.is_empty() {
        problems.push(format!(
            "`layers` is empty{}",
            at_line(yaml::line_containing(text, "layers:"))
        ));
    }
    let mut names = BTreeSet::new();
    let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
    for (index, layer) in file.layers.iter().enumerate() {
        let here = format!(
            "layers[{index}] `{}`{}",
            layer.name,
            at_line(yaml::line_of_entry(text, "name", &layer.name))
        );
        if !valid_layer_name(&layer.name) {
            problems.push(format!("{here}: the name must match [a-z0-9_-]+"));
        }
        if !names.insert(layer.name.as_str()) {
            problems.push(format!("{here}: the layer name is used twice"));
        }
        for module in &layer.modules {
            let line = at_line(module_line(text, &layer.name, module));
            if !valid_module_path(module) {
                problems.push(format!(
                    "{here}: module `{module}`{line} is not a module path like `store` or `format::frame`"
                ));
            }
            if let Some(first) = owners.insert(module, &layer.name) {
                problems.push(format!(
                    "{here}: module `{module}`{line} is already listed in layer `{first}`"
                ));
            }
        }
    }
    problems
}

fn valid_layer_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn valid_module_path(path: &str) -> bool {
    path.split("::").all(|segment| {
        let mut chars = segment.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !matches!(segment, "crate" | "self" | "super")
    })
}

/// 1-based line on which `module` is listed under layer `layer`.
fn module_line(text: &str, layer: &str, module: &str) -> Option<usize> {
    let start = yaml::line_of_entry(text, "name", layer)?;
    text.lines()
        .enumerate()
        .skip(start)
        .find(|(_, line)| contains_word(line.split(" #").next().unwrap_or(line), module))
        .map(|(index, _)| index + 1)
}

fn contains_word(line: &str, word: &str) -> bool {
    let part_of_path = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        !before.is_some_and(part_of_path) && !after.is_some_and(part_of_path)
    })
}

/// A place in a file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Site {
    /// File, relative to the workspace root.
    pub file: String,
    /// 1-based line.
    pub line: usize,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The paths from one module into another.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Edge {
    /// The importing module.
    pub from: String,
    /// Layer of the importing module, if it has one.
    pub from_layer: Option<String>,
    /// The imported module.
    pub to: String,
    /// Layer of the imported module, if it has one.
    pub to_layer: Option<String>,
    /// How many paths make up the edge.
    pub sites: usize,
    /// The first of them (by file, then line).
    pub first: Site,
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: `{}` ({}) imports `{}` ({})",
            self.first,
            self.from,
            layer_label(self.from_layer.as_deref()),
            self.to,
            layer_label(self.to_layer.as_deref())
        )
    }
}

fn layer_label(layer: Option<&str>) -> String {
    match layer {
        Some(name) => format!("layer {name}"),
        None => "no layer".to_string(),
    }
}

/// Modules that import each other in a ring.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Cycle {
    /// `None` for a cycle between listed modules; the listed module for a
    /// cycle among its own submodules.
    pub within: Option<String>,
    /// The members, sorted.
    pub members: Vec<String>,
    /// For each member, one edge to another member that lies on a shortest
    /// cycle through it.
    pub closing: Vec<Edge>,
}

/// One finding of the check.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    /// A listed module that the crate does not have.
    Missing {
        /// The listed module path.
        module: String,
        /// The layer listing it.
        layer: String,
        /// The layers file.
        file: String,
        /// Line of the entry, when it could be found.
        line: Option<usize>,
        /// Why it does not count (`does not exist`, …).
        reason: String,
    },
    /// A module of the crate that no listed module covers.
    Unassigned {
        /// The module path.
        module: String,
        /// Where the module is defined.
        site: Site,
    },
    /// An edge from a lower layer to a higher one.
    Upward {
        /// The edge, with its first site.
        edge: Edge,
    },
    /// A cycle of imports.
    Cycle {
        /// The modules and the edges that close the cycle.
        cycle: Cycle,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Missing {
                module,
                layer,
                file,
                line,
                reason,
            } => {
                let at = line.map(|n| format!(":{n}")).unwrap_or_default();
                write!(
                    f,
                    "{file}{at}: layer {layer} lists module `{module}`, which {reason}"
                )
            }
            Violation::Unassigned { module, site } => {
                write!(f, "{site}: module `{module}` is not assigned to any layer")
            }
            Violation::Upward { edge } => {
                write!(f, "{edge}: goes up a layer")?;
                if edge.sites > 1 {
                    write!(f, " ({} more site(s))", edge.sites - 1)?;
                }
                Ok(())
            }
            Violation::Cycle { cycle } => {
                write!(f, "cycle of {} modules", cycle.members.len())?;
                if let Some(within) = &cycle.within {
                    write!(f, " inside `{within}`")?;
                }
                write!(f, ": {}", cycle.members.join(", "))?;
                for edge in &cycle.closing {
                    write!(f, "\n    {edge}")?;
                }
                Ok(())
            }
        }
    }
}

/// What the check found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    /// The checked source directory, relative to the root.
    pub crate_dir: String,
    /// The layers file, relative to the root.
    pub layers_file: String,
    /// Layer names, lowest first.
    pub layers: Vec<String>,
    /// Modules of the crate outside the root file (inline modules included,
    /// test modules not).
    pub modules: usize,
    /// Nodes of the module graph: the listed modules that exist, plus one per
    /// top-level module that no layer covers.
    pub nodes: usize,
    /// Edges between nodes.
    pub node_edges: usize,
    /// Crate-local paths that make up those edges and the edges inside nodes.
    pub sites: usize,
    /// Number of cycles, between nodes and inside nodes.
    pub cycles: usize,
    /// Members of the largest cycle.
    pub largest_cycle: Vec<String>,
    /// Edges between modules (at the finest grain: submodules apart).
    pub edges: Vec<Edge>,
    /// The findings; empty when the check passes.
    pub violations: Vec<Violation>,
}

impl Report {
    /// Whether there is no violation.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The cycles among the violations.
    pub fn cycle_list(&self) -> impl Iterator<Item = &Cycle> {
        self.violations.iter().filter_map(|v| match v {
            Violation::Cycle { cycle } => Some(cycle),
            _ => None,
        })
    }

    /// The summary lines, without the violations.
    pub fn summary(&self) -> String {
        let count =
            |pick: fn(&Violation) -> bool| self.violations.iter().filter(|v| pick(v)).count();
        let mut out = format!("layers: {} against {}\n", self.crate_dir, self.layers_file);
        out.push_str(&format!(
            "  modules: {} ({} graph nodes in {} layers)\n",
            self.modules,
            self.nodes,
            self.layers.len()
        ));
        out.push_str(&format!(
            "  edges: {} between nodes, from {} import sites\n",
            self.node_edges, self.sites
        ));
        out.push_str(&format!("  cycles: {}", self.cycles));
        if !self.largest_cycle.is_empty() {
            out.push_str(&format!(
                ", largest {} modules: {}",
                self.largest_cycle.len(),
                self.largest_cycle.join(", ")
            ));
        }
        out.push('\n');
        out.push_str(&format!(
            "  violations: {} ({} cycle(s), {} upward import(s), {} unassigned module(s), {} missing module(s))\n",
            self.violations.len(),
            count(|v| matches!(v, Violation::Cycle { .. })),
            count(|v| matches!(v, Violation::Upward { .. })),
            count(|v| matches!(v, Violation::Unassigned { .. })),
            count(|v| matches!(v, Violation::Missing { .. })),
        ));
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for violation in &self.violations {
            writeln!(f, "{violation}")?;
        }
        if !self.violations.is_empty() {
            writeln!(f)?;
        }
        f.write_str(&self.summary())
    }
}

/// Checks the crate named in `layers_file` against it.
pub fn check(root: &Path, layers_file: &Path) -> Result<Report> {
    let display = crate::rel_display(root, layers_file);
    let (spec, text) = load_with_text(layers_file, &display)?;
    let src_dir = root.join(&spec.crate_dir);
    let tree = imports::scan(root, &src_dir)?;
    Ok(analyse(&spec, &text, &display, &tree))
}

/// The node of a module: its longest listed prefix, or its top-level module
/// when no layer covers it.
struct Unit {
    node: ModPath,
    layer: Option<usize>,
}

struct Analysis<'a> {
    spec: &'a LayersFile,
    tree: &'a CrateImports,
    listed: BTreeMap<ModPath, usize>,
    aliases: BTreeMap<(ModPath, String), Vec<String>>,
}

fn split(path: &str) -> ModPath {
    path.split("::").map(str::to_string).collect()
}

fn is_strict_descendant(module: &[String], of: &[String]) -> bool {
    module.len() > of.len() && module.starts_with(of)
}

impl<'a> Analysis<'a> {
    fn new(spec: &'a LayersFile, tree: &'a CrateImports) -> Self {
        let mut listed = BTreeMap::new();
        for (index, layer) in spec.layers.iter().enumerate() {
            for module in &layer.modules {
                listed.insert(split(module), index);
            }
        }
        let mut aliases = BTreeMap::new();
        for import in &tree.imports {
            let Some(name) = &import.binds else {
                continue;
            };
            let in_root_file = tree
                .modules
                .get(&import.module)
                .is_some_and(|m| m.in_root_file);
            let target = tree.longest_module(&import.target);
            if in_root_file || is_strict_descendant(target, &import.module) {
                aliases
                    .entry((import.module.clone(), name.clone()))
                    .or_insert_with(|| import.target.clone());
            }
        }
        Analysis {
            spec,
            tree,
            listed,
            aliases,
        }
    }

    /// The module a path leads to, following root and submodule re-exports.
    fn resolve(&self, target: &[String]) -> ModPath {
        let mut current = target.to_vec();
        for _ in 0..32 {
            let module = self.tree.longest_module(&current).to_vec();
            let Some(next) = current.get(module.len()) else {
                return module;
            };
            match self.aliases.get(&(module.clone(), next.clone())) {
                Some(to) => {
                    let rest = current[module.len() + 1..].to_vec();
                    current = [to.as_slice(), rest.as_slice()].concat();
                }
                None => return module,
            }
        }
        self.tree.longest_module(&current).to_vec()
    }

    fn exempt(&self, module: &[String]) -> bool {
        self.tree.modules.get(module).is_none_or(|m| m.in_root_file)
    }

    fn unit(&self, module: &[String]) -> Unit {
        for k in (1..=module.len()).rev() {
            if let Some(layer) = self.listed.get(&module[..k]) {
                return Unit {
                    node: module[..k].to_vec(),
                    layer: Some(*layer),
                };
            }
        }
        Unit {
            node: module.iter().take(1).cloned().collect(),
            layer: None,
        }
    }

    fn layer_name(&self, module: &[String]) -> Option<String> {
        self.unit(module)
            .layer
            .map(|index| self.spec.layers[index].name.clone())
    }

    fn edge(&self, from: &[String], to: &[String], sites: &[Site]) -> Edge {
        Edge {
            from: imports::show(from),
            from_layer: self.layer_name(from),
            to: imports::show(to),
            to_layer: self.layer_name(to),
            sites: sites.len(),
            first: sites.iter().min().cloned().unwrap_or(Site {
                file: String::new(),
                line: 0,
            }),
        }
    }
}

fn analyse(spec: &LayersFile, text: &str, display: &str, tree: &CrateImports) -> Report {
    let an = Analysis::new(spec, tree);
    let mut violations = Vec::new();

    for layer in &spec.layers {
        for module in &layer.modules {
            let reason = match tree.modules.get(&split(module)) {
                None => format!("does not exist in {}", spec.crate_dir),
                Some(m) if m.in_root_file => {
                    "is part of the crate root file, which is exempt".to_string()
                }
                Some(_) => continue,
            };
            violations.push(Violation::Missing {
                module: module.clone(),
                layer: layer.name.clone(),
                file: display.to_string(),
                line: module_line(text, &layer.name, module),
                reason,
            });
        }
    }

    let modules: Vec<&ModPath> = tree
        .modules
        .iter()
        .filter(|(_, m)| !m.in_root_file)
        .map(|(path, _)| path)
        .collect();
    for module in &modules {
        if an.unit(module).layer.is_some() {
            continue;
        }
        let parent = &module[..module.len() - 1];
        let parent_unassigned =
            !parent.is_empty() && !an.exempt(parent) && an.unit(parent).layer.is_none();
        if parent_unassigned {
            continue;
        }
        if let Some(m) = tree.modules.get(*module) {
            violations.push(Violation::Unassigned {
                module: imports::show(module),
                site: Site {
                    file: m.file.clone(),
                    line: m.line,
                },
            });
        }
    }

    // Module-to-module edges with the sites that make them.
    let mut fine: BTreeMap<(ModPath, ModPath), Vec<Site>> = BTreeMap::new();
    for import in &tree.imports {
        if an.exempt(&import.module) {
            continue;
        }
        let to = an.resolve(&import.target);
        if to == import.module || an.exempt(&to) {
            continue;
        }
        if import.reexport && is_strict_descendant(&to, &import.module) {
            continue;
        }
        fine.entry((import.module.clone(), to))
            .or_default()
            .push(Site {
                file: import.file.clone(),
                line: import.line,
            });
    }

    let edges: Vec<Edge> = fine
        .iter()
        .map(|((from, to), sites)| an.edge(from, to, sites))
        .collect();
    let sites = fine.values().map(Vec::len).sum();

    for ((from, to), sites) in &fine {
        let (a, b) = (an.unit(from), an.unit(to));
        if let (Some(la), Some(lb)) = (a.layer, b.layer) {
            if la < lb {
                violations.push(Violation::Upward {
                    edge: an.edge(from, to, sites),
                });
            }
        }
    }

    // The graph between nodes: each node edge keeps its earliest module edge.
    let mut node_graph = Graph::default();
    for module in &modules {
        node_graph.node(&imports::show(&an.unit(module).node));
    }
    for ((from, to), sites) in &fine {
        let (a, b) = (an.unit(from).node, an.unit(to).node);
        if a != b {
            node_graph.edge(
                &imports::show(&a),
                &imports::show(&b),
                an.edge(from, to, sites),
            );
        }
    }
    let mut cycles: Vec<Cycle> = node_graph
        .cycles()
        .into_iter()
        .map(|(members, closing)| Cycle {
            within: None,
            members,
            closing,
        })
        .collect();

    // Inside each node, among its own submodules.
    let mut inner: BTreeMap<ModPath, Graph> = BTreeMap::new();
    for ((from, to), sites) in &fine {
        let node = an.unit(from).node;
        if node == an.unit(to).node {
            inner.entry(node).or_default().edge(
                &imports::show(from),
                &imports::show(to),
                an.edge(from, to, sites),
            );
        }
    }
    for (node, graph) in &inner {
        for (members, closing) in graph.cycles() {
            cycles.push(Cycle {
                within: Some(imports::show(node)),
                members,
                closing,
            });
        }
    }
    cycles.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then_with(|| a.members.cmp(&b.members))
    });

    let largest_cycle = cycles
        .first()
        .map(|c| c.members.clone())
        .unwrap_or_default();
    let cycle_count = cycles.len();
    violations.extend(cycles.into_iter().map(|cycle| Violation::Cycle { cycle }));

    Report {
        crate_dir: spec.crate_dir.clone(),
        layers_file: display.to_string(),
        layers: spec.layers.iter().map(|l| l.name.clone()).collect(),
        modules: modules.len(),
        nodes: node_graph.names.len(),
        node_edges: node_graph.edges.len(),
        sites,
        cycles: cycle_count,
        largest_cycle,
        edges,
        violations,
    }
}

/// A directed graph on named nodes whose edges carry the module edge that
/// stands for them.
#[derive(Default)]
struct Graph {
    names: Vec<String>,
    index: BTreeMap<String, usize>,
    edges: BTreeMap<(usize, usize), Edge>,
}

impl Graph {
    fn node(&mut self, name: &str) -> usize {
        if let Some(&at) = self.index.get(name) {
            return at;
        }
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), self.names.len() - 1);
        self.names.len() - 1
    }

    /// Adds an edge, keeping the earlier-sited one when it exists.
    fn edge(&mut self, from: &str, to: &str, edge: Edge) {
        let key = (self.node(from), self.node(to));
        match self.edges.get(&key) {
            Some(old) if old.first <= edge.first => {}
            _ => {
                self.edges.insert(key, edge);
            }
        }
    }

    fn successors(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.names.len()];
        for &(from, to) in self.edges.keys() {
            out[from].push(to);
        }
        out
    }

    /// Every strongly connected component with more than one node: its
    /// sorted member names and, per member, an edge on a shortest cycle
    /// through that member.
    fn cycles(&self) -> Vec<(Vec<String>, Vec<Edge>)> {
        let next = self.successors();
        let mut out = Vec::new();
        for component in strongly_connected(&next) {
            if component.len() < 2 {
                continue;
            }
            let inside: BTreeSet<usize> = component.iter().copied().collect();
            let mut members: Vec<usize> = component;
            members.sort_by(|a, b| self.names[*a].cmp(&self.names[*b]));
            let mut closing = Vec::new();
            for &member in &members {
                let best = next[member]
                    .iter()
                    .filter(|to| inside.contains(to))
                    .filter_map(|&to| {
                        distance(&next, &inside, to, member)
                            .map(|d| (d, self.names[to].clone(), to))
                    })
                    .min();
                if let Some((_, _, to)) = best {
                    if let Some(edge) = self.edges.get(&(member, to)) {
                        closing.push(edge.clone());
                    }
                }
            }
            let names = members.iter().map(|&m| self.names[m].clone()).collect();
            out.push((names, closing));
        }
        out
    }
}

/// Steps from `from` to `to` inside `inside`, breadth first.
fn distance(
    next: &[Vec<usize>],
    inside: &BTreeSet<usize>,
    from: usize,
    to: usize,
) -> Option<usize> {
    let mut seen = BTreeSet::from([from]);
    let mut queue = VecDeque::from([(from, 0)]);
    while let Some((at, steps)) = queue.pop_front() {
        if at == to {
            return Some(steps);
        }
        for &n in &next[at] {
            if inside.contains(&n) && seen.insert(n) {
                queue.push_back((n, steps + 1));
            }
        }
    }
    None
}

/// Tarjan's strongly connected components.
fn strongly_connected(next: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'g> {
        next: &'g [Vec<usize>],
        order: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        counter: usize,
        out: Vec<Vec<usize>>,
    }

    fn visit(state: &mut State<'_>, node: usize) {
        state.order[node] = Some(state.counter);
        state.low[node] = state.counter;
        state.counter += 1;
        state.stack.push(node);
        state.on_stack[node] = true;
        for &succ in &state.next[node] {
            match state.order[succ] {
                None => {
                    visit(state, succ);
                    state.low[node] = state.low[node].min(state.low[succ]);
                }
                Some(order) if state.on_stack[succ] => {
                    state.low[node] = state.low[node].min(order);
                }
                Some(_) => {}
            }
        }
        if Some(state.low[node]) == state.order[node] {
            let mut component = Vec::new();
            while let Some(top) = state.stack.pop() {
                state.on_stack[top] = false;
                component.push(top);
                if top == node {
                    break;
                }
            }
            state.out.push(component);
        }
    }

    let n = next.len();
    let mut state = State {
        next,
        order: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        counter: 0,
        out: Vec::new(),
    };
    for node in 0..n {
        if state.order[node].is_none() {
            visit(&mut state, node);
        }
    }
    state.out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn components_with_a_ring_are_found() {
        // 0 -> 1 -> 2 -> 0, 2 -> 3, 3 -> 4 -> 3
        let next = vec![vec![1], vec![2], vec![0, 3], vec![4], vec![3], vec![]];
        let mut found: Vec<Vec<usize>> = strongly_connected(&next)
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|mut c| {
                c.sort();
                c
            })
            .collect();
        found.sort();
        assert_eq!(found, vec![vec![0, 1, 2], vec![3, 4]]);
    }

    #[test]
    fn module_entries_are_found_as_whole_words() {
        let text = "layers:\n  - name: types\n    modules: [id, id_table]\n  - name: io\n    modules:\n      - fs\n      - id2\n";
        assert_eq!(module_line(text, "types", "id_table"), Some(3));
        assert_eq!(module_line(text, "types", "id"), Some(3));
        assert_eq!(module_line(text, "io", "fs"), Some(6));
        assert!(!contains_word("modules: [id_table]", "id"));
        assert!(!contains_word("modules: [format::frame]", "format"));
    }

    #[test]
    fn module_paths_are_validated() {
        assert!(valid_module_path("store"));
        assert!(valid_module_path("format::frame"));
        assert!(!valid_module_path("crate::store"));
        assert!(!valid_module_path("format::"));
        assert!(!valid_module_path("a-b"));
    }
}
