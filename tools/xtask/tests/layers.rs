//! `layers` on small crates in temporary workspaces.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use xtask::layers::{self, Report, Violation};

const SRC: &str = "crates/demo/src";

/// Two layers: `low` holds `a`, `high` holds `b` and `c`.
const TWO_LAYERS: &str = "\
crate: crates/demo/src
layers:
  - name: low
    description: the bottom
    modules: [a]
  - name: high
    modules:
      - b
      - c
";

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A workspace with `layers` as its layers file and `files` (paths relative
/// to the crate's `src`).
fn workspace(layers: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "traceability/layers.yaml", layers);
    for (rel, text) in files {
        write(dir.path(), &format!("{SRC}/{rel}"), text);
    }
    dir
}

fn check(ws: &tempfile::TempDir) -> Report {
    layers::check(ws.path(), &ws.path().join("traceability/layers.yaml")).unwrap()
}

/// `(from, to)` of every module edge.
fn edges(report: &Report) -> BTreeSet<(String, String)> {
    report
        .edges
        .iter()
        .map(|e| (e.from.clone(), e.to.clone()))
        .collect()
}

fn pair(from: &str, to: &str) -> (String, String) {
    (from.to_string(), to.to_string())
}

const CLEAN: &[(&str, &str)] = &[
    ("lib.rs", "mod a;\nmod b;\nmod c;\npub use a::Thing;\n"),
    (
        "a.rs",
        "pub struct Thing;\npub fn make() -> Thing { Thing }\n",
    ),
    (
        "b.rs",
        "use crate::a::Thing;\npub fn f() -> Thing { crate::a::make() }\n",
    ),
    ("c.rs", "pub fn g() -> crate::Thing { crate::b::f() }\n"),
];

#[test]
fn a_clean_layered_tree_passes() {
    let ws = workspace(TWO_LAYERS, CLEAN);
    let report = check(&ws);
    assert!(report.passed(), "{report}");
    assert_eq!(report.modules, 3);
    assert_eq!(report.node_edges, 3);
    assert_eq!(report.cycles, 0);
    // `crate::Thing` goes through the root re-export to `a`.
    assert_eq!(
        edges(&report),
        BTreeSet::from([pair("b", "a"), pair("c", "a"), pair("c", "b")])
    );
    let b_to_a = report.edges.iter().find(|e| e.from == "b").unwrap();
    assert_eq!(b_to_a.sites, 2);
    assert_eq!(b_to_a.first.file, format!("{SRC}/b.rs"));
    assert_eq!(b_to_a.first.line, 1);
}

#[test]
fn an_import_from_a_lower_layer_to_a_higher_one_fails() {
    let ws = workspace(
        TWO_LAYERS,
        &[
            ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
            (
                "a.rs",
                "pub struct Thing;\n\npub fn up() {\n    crate::b::f();\n}\n",
            ),
            ("b.rs", "pub fn f() {}\n"),
            ("c.rs", ""),
        ],
    );
    let report = check(&ws);
    assert!(!report.passed());
    let [Violation::Upward { edge }] = report.violations.as_slice() else {
        panic!("{report}");
    };
    assert_eq!((edge.from.as_str(), edge.to.as_str()), ("a", "b"));
    assert_eq!(edge.from_layer.as_deref(), Some("low"));
    assert_eq!(edge.to_layer.as_deref(), Some("high"));
    assert_eq!(edge.first.file, format!("{SRC}/a.rs"));
    assert_eq!(edge.first.line, 4);
    let text = report.to_string();
    assert!(
        text.contains(
            "crates/demo/src/a.rs:4: `a` (layer low) imports `b` (layer high): goes up a layer"
        ),
        "{text}"
    );
}

#[test]
fn a_cycle_inside_one_layer_fails() {
    let ws = workspace(
        TWO_LAYERS,
        &[
            ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
            ("a.rs", ""),
            ("b.rs", "use crate::c::G;\npub struct F;\n"),
            ("c.rs", "pub struct G;\npub fn g(_: super::b::F) {}\n"),
        ],
    );
    let report = check(&ws);
    let [Violation::Cycle { cycle }] = report.violations.as_slice() else {
        panic!("{report}");
    };
    assert_eq!(cycle.within, None);
    assert_eq!(cycle.members, vec!["b", "c"]);
    let closing: Vec<(&str, &str, usize)> = cycle
        .closing
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str(), e.first.line))
        .collect();
    assert_eq!(closing, vec![("b", "c", 1), ("c", "b", 2)]);
    assert_eq!(report.cycles, 1);
    assert_eq!(report.largest_cycle, vec!["b", "c"]);
}

#[test]
fn modules_without_a_layer_and_listed_modules_that_do_not_exist_fail() {
    let layers = TWO_LAYERS.replace("      - c\n", "      - c\n      - gone\n");
    let ws = workspace(
        &layers,
        &[
            ("lib.rs", "mod a;\nmod b;\nmod c;\nmod extra;\n"),
            ("a.rs", ""),
            ("b.rs", ""),
            ("c.rs", ""),
            ("extra/mod.rs", "mod deeper;\n"),
            ("extra/deeper.rs", ""),
        ],
    );
    let report = check(&ws);
    let found: Vec<String> = report.violations.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        vec![
            "traceability/layers.yaml:10: layer high lists module `gone`, which does not exist in crates/demo/src".to_string(),
            "crates/demo/src/extra/mod.rs:1: module `extra` is not assigned to any layer".to_string(),
        ],
        "{report}"
    );
}

#[test]
fn every_kind_of_path_is_seen() {
    // `user` names each low module in one way only.
    let layers = "\
crate: crates/demo/src
layers:
  - name: low
    modules: [grouped, nested, renamed, expr, ty, pat, mac, rules, attr, dir, sibling]
  - name: high
    modules: [user]
";
    let user = r#"use crate::{grouped::{self, G}, nested::{deep::{D}}};
use crate::renamed::R as Renamed;

#[derive(Debug)]
#[allow(dead_code)]
pub struct S {
    field: crate::ty::T,
}

// crate::sibling::Nope appears only in a comment
pub fn run(v: Option<u8>) -> &'static str {
    let _ = crate::expr::make();
    if let Some(crate::pat::ONE) = v {}
    println!("{}", crate::mac::NAME);
    "crate::sibling::Nope is only a string"
}

macro_rules! call_rules {
    () => {
        $crate::rules::f()
    };
}

#[cfg_attr(any(), doc = "x")]
#[allow(clippy::all, reason = "ok")]
#[some_attr(crate::attr::X)]
pub fn attributed() {}
"#;
    let ws = workspace(
        layers,
        &[
            (
                "lib.rs",
                "mod grouped;\nmod nested;\nmod renamed;\nmod expr;\nmod ty;\nmod pat;\nmod mac;\nmod rules;\nmod attr;\nmod dir;\nmod sibling;\nmod user;\n",
            ),
            ("grouped.rs", "pub struct G;\n"),
            ("nested.rs", "pub mod deep {\n    pub struct D;\n}\n"),
            ("renamed.rs", "pub struct R;\n"),
            ("expr.rs", "pub fn make() {}\n"),
            ("ty.rs", "pub struct T;\n"),
            ("pat.rs", "pub const ONE: u8 = 1;\n"),
            ("mac.rs", "pub const NAME: &str = \"n\";\n"),
            ("rules.rs", "pub fn f() {}\n"),
            ("attr.rs", "pub struct X;\n"),
            ("sibling.rs", "pub struct Nope;\n"),
            ("user.rs", user),
            // `super::` from a submodule of a directory module.
            ("dir/mod.rs", "mod inner;\n"),
            (
                "dir/inner.rs",
                "pub fn up() -> super::super::sibling::Nope { super::super::sibling::Nope }\n",
            ),
        ],
    );
    let report = check(&ws);
    let expected: BTreeSet<(String, String)> = [
        "grouped",
        "nested::deep",
        "renamed",
        "expr",
        "ty",
        "pat",
        "mac",
        "rules",
        "attr",
    ]
    .iter()
    .map(|to| pair("user", to))
    .chain([pair("dir::inner", "sibling")])
    .collect();
    assert_eq!(edges(&report), expected);
    let line = |to: &str| {
        report
            .edges
            .iter()
            .find(|e| e.from == "user" && e.to == to)
            .map(|e| e.first.line)
    };
    assert_eq!(line("nested::deep"), Some(1));
    assert_eq!(line("ty"), Some(7));
    assert_eq!(line("mac"), Some(14));
    assert_eq!(line("rules"), Some(20));
    assert_eq!(line("attr"), Some(26));
    // Nothing goes up, so the tree passes.
    assert!(report.passed(), "{report}");
}

#[test]
fn test_only_code_may_import_from_anywhere() {
    let a = "\
pub fn low() {}

#[cfg(test)]
fn helper() {
    crate::b::f();
}

#[cfg(test)]
use crate::b::f as imported;

#[cfg(test)]
mod tests {
    use crate::b::f;
    use super::super::c::*;
}

#[cfg(test)]
mod more;
";
    let files = [
        ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("a.rs", a),
        ("a/more.rs", "use crate::b::f;\nmod again;\n"),
        ("a/more/again.rs", "use crate::c::*;\n"),
        ("b.rs", "pub fn f() {}\n"),
        ("c.rs", ""),
    ];
    let ws = workspace(TWO_LAYERS, &files);
    let report = check(&ws);
    assert!(report.passed(), "{report}");
    assert_eq!(report.modules, 3);
    assert!(report.edges.is_empty(), "{:?}", report.edges);

    // The same import outside `#[cfg(test)]` is a violation.
    let ws = workspace(
        TWO_LAYERS,
        &[
            ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
            (
                "a.rs",
                &a.replacen("#[cfg(test)]\nmod tests", "mod tests", 1),
            ),
            ("a/more.rs", "use crate::b::f;\n"),
            ("b.rs", "pub fn f() {}\n"),
            ("c.rs", ""),
        ],
    );
    let report = check(&ws);
    assert!(!report.passed());
    assert!(report
        .edges
        .iter()
        .any(|e| e.from == "a::tests" && e.to == "b"));
}

#[test]
fn submodules_of_one_listed_module_are_checked_for_cycles() {
    let layers = "\
crate: crates/demo/src
layers:
  - name: only
    modules: [dir, user]
";
    // A private `use` of a submodule is a real edge: dir -> dir::x -> dir.
    let ws = workspace(
        layers,
        &[
            ("lib.rs", "mod dir;\nmod user;\n"),
            ("dir/mod.rs", "mod x;\nuse self::x::A;\npub struct B(A);\n"),
            ("dir/x.rs", "pub struct A;\npub fn b(_: &super::B) {}\n"),
            ("user.rs", ""),
        ],
    );
    let report = check(&ws);
    let [Violation::Cycle { cycle }] = report.violations.as_slice() else {
        panic!("{report}");
    };
    assert_eq!(cycle.within.as_deref(), Some("dir"));
    assert_eq!(cycle.members, vec!["dir", "dir::x"]);
    assert!(report
        .to_string()
        .contains("cycle of 2 modules inside `dir`"));

    // A re-export is not: and a path through it leads to the submodule.
    let ws = workspace(
        layers,
        &[
            ("lib.rs", "mod dir;\nmod user;\n"),
            ("dir/mod.rs", "mod x;\npub use self::x::A;\npub struct B;\n"),
            ("dir/x.rs", "pub struct A;\npub fn b(_: &super::B) {}\n"),
            ("user.rs", "use crate::dir::A;\n"),
        ],
    );
    let report = check(&ws);
    assert!(report.passed(), "{report}");
    assert_eq!(
        edges(&report),
        BTreeSet::from([pair("dir::x", "dir"), pair("user", "dir::x")])
    );
}

#[test]
fn the_layers_file_is_validated_with_lines() {
    let ws = workspace(
        &TWO_LAYERS.replace("    description: the bottom\n", "    descr: the bottom\n"),
        CLEAN,
    );
    let err = layers::check(ws.path(), &ws.path().join("traceability/layers.yaml")).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("unknown field `descr`"), "{message}");
    assert!(message.contains("line 4"), "{message}");

    let ws = workspace(&TWO_LAYERS.replace("      - c\n", "      - a\n"), CLEAN);
    let err = layers::check(ws.path(), &ws.path().join("traceability/layers.yaml")).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("module `a` (line 9) is already listed in layer `low`"),
        "{message}"
    );
}

fn run(root: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(root)
        .arg("layers")
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_command_line_exits_1_on_a_violation_and_0_with_report() {
    let ws = workspace(TWO_LAYERS, CLEAN);
    let (code, stdout, stderr) = run(ws.path(), &[]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("modules: 3"), "{stdout}");
    assert!(stdout.contains("violations: 0"), "{stdout}");

    write(
        ws.path(),
        &format!("{SRC}/a.rs"),
        "pub struct Thing;\npub fn make() -> Thing { crate::c::g(); Thing }\n",
    );
    let (code, stdout, stderr) = run(ws.path(), &[]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "crates/demo/src/a.rs:2: `a` (layer low) imports `c` (layer high): goes up a layer"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("cycle of 3 modules: a, b, c"), "{stdout}");
    assert!(stderr.contains("layers check failed"), "{stderr}");

    let (code, stdout, _) = run(ws.path(), &["--report"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("cycles: 1, largest 3 modules: a, b, c"),
        "{stdout}"
    );

    let (code, stdout, _) = run(ws.path(), &["--json"]);
    assert_eq!(code, Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["cycles"], 1);
    assert_eq!(json["violations"][0]["kind"], "upward");

    write(ws.path(), "traceability/layers.yaml", "crate: [\n");
    let (code, _, stderr) = run(ws.path(), &["--report"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("traceability/layers.yaml"), "{stderr}");
}

/// The core crate itself: no module imports up a layer, no modules import
/// each other in a cycle, and every module is assigned to a layer.
#[test]
fn the_core_crate_keeps_its_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let report = xtask::layers::check(&root, &root.join(xtask::LAYERS_FILE)).unwrap();
    assert!(report.passed(), "{}", report.summary());
    assert_eq!(report.cycle_list().count(), 0, "{}", report.summary());
}
