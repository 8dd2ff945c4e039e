//! Public-API extraction on the fixture source tree, and drift detection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::public_api::{self, CrateSource};

/// The surface of `fixtures/api-fixture`: re-exports from a private module are
/// listed at the root, `pub` items nobody re-exports are not, `#[cfg(test)]`
/// code is left out, feature-gated items keep their `#[cfg]` and hidden ones
/// their `#[doc(hidden)]`, and methods a local `macro_rules!` writes are listed.
const EXPECTED: &str = "\
#[non_exhaustive] enum api_fixture::Error
impl Debug for api_fixture::Error
impl std::fmt::Display for api_fixture::Error
variant api_fixture::Error::Io(std::io::Error)
variant api_fixture::Error::Locked { path: String }
#[cfg(feature = \"tls\")] variant api_fixture::Error::Tls
struct api_fixture::Handle
impl api_fixture::Sink for api_fixture::Handle
field api_fixture::Handle::0: u64
use api_fixture::Map = std::collections::BTreeMap
type api_fixture::Result<T> = std::result::Result<T, Error>
trait api_fixture::Sink: Send
type api_fixture::Sink::Error
const api_fixture::Sink::NAME: &'static str
fn api_fixture::Sink::flush(&mut self) (provided)
fn api_fixture::Sink::push(&mut self, bytes: &[u8]) -> usize
struct api_fixture::Store
impl Clone for api_fixture::Store
impl Debug for api_fixture::Store
fn api_fixture::Store::append<P: AsRef<[u8]>>(&mut self, payload: P) -> u64
field api_fixture::Store::name: String
fn api_fixture::Store::open(name: &str) -> Result<Self, StoreError>
fn api_fixture::Store::size(&self) -> u32
const api_fixture::VERSION: u16
#[doc(hidden)] mod api_fixture::__private
#[doc(hidden)] fn api_fixture::__private::support()
mod api_fixture::net
mod api_fixture::net::codec
fn api_fixture::net::codec::encode(line: &str) -> Vec<u8>
fn api_fixture::net::serve(port: u16) -> u16
#[cfg(feature = \"tls\")] fn api_fixture::net::serve_tls(port: u16) -> u16
macro api_fixture::region!
#[cfg(feature = \"tls\")] mod api_fixture::tls
#[cfg(feature = \"tls\")] fn api_fixture::tls::config() -> u32
";

fn fixture_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/api-fixture/src")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A cargo package in a temporary directory whose `src` is a copy of the fixture.
fn package() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture_src(), &dir.path().join("src"));
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"api-fixture\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    dir
}

fn source(root: &Path) -> CrateSource {
    CrateSource {
        package: "api-fixture".to_owned(),
        crate_name: "api_fixture".to_owned(),
        lib_rs: root.join("src/lib.rs"),
    }
}

#[test]
fn the_fixture_surface_is_extracted_exactly() {
    let lines = public_api::extract(&CrateSource {
        lib_rs: fixture_src().join("lib.rs"),
        ..source(Path::new("."))
    })
    .unwrap();
    let expected: Vec<&str> = EXPECTED.lines().collect();
    assert_eq!(lines, expected);
}

#[test]
fn library_crates_are_found_through_cargo_metadata() {
    let pkg = package();
    let crates = public_api::workspace_crates(pkg.path()).unwrap();
    assert_eq!(crates.len(), 1);
    assert_eq!(crates[0].package, "api-fixture");
    assert_eq!(crates[0].crate_name, "api_fixture");
    assert!(crates[0].lib_rs.ends_with("src/lib.rs"));
}

#[test]
fn check_detects_drift_after_bless() {
    let pkg = package();
    let crates = vec![source(pkg.path())];
    let baselines = pkg.path().join("traceability/public_api");

    let drift = public_api::check(&crates, &baselines).unwrap();
    assert!(drift[0].missing_baseline);
    assert!(!drift[0].is_clean());

    assert_eq!(
        public_api::bless(&crates, &baselines).unwrap(),
        vec!["api-fixture".to_owned()]
    );
    assert_eq!(
        std::fs::read_to_string(baselines.join("api-fixture.txt")).unwrap(),
        EXPECTED
    );
    assert!(public_api::check(&crates, &baselines).unwrap()[0].is_clean());
    assert!(public_api::bless(&crates, &baselines).unwrap().is_empty());

    let net = pkg.path().join("src/net/mod.rs");
    let text = std::fs::read_to_string(&net).unwrap();
    std::fs::write(
        &net,
        text.replace("pub fn serve(port: u16)", "pub fn serve(port: u32)"),
    )
    .unwrap();
    let lib = pkg.path().join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, text.replace("mod hidden;", "pub mod hidden;")).unwrap();

    let drift = public_api::check(&crates, &baselines).unwrap().remove(0);
    assert_eq!(
        drift.removed,
        vec!["fn api_fixture::net::serve(port: u16) -> u16".to_owned()]
    );
    assert_eq!(
        drift.added,
        vec![
            "mod api_fixture::hidden".to_owned(),
            "fn api_fixture::hidden::nowhere()".to_owned(),
            "fn api_fixture::net::serve(port: u32) -> u16".to_owned(),
        ]
    );
}

#[test]
fn the_command_line_prints_the_diff_and_exits_1_until_blessed() {
    let pkg = package();
    let run = |action: &str| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("--root")
            .arg(pkg.path())
            .args(["public-api", action])
            .output()
            .unwrap()
    };
    let out = run("check");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `cargo xtask public-api bless`"));

    assert_eq!(run("bless").status.code(), Some(0));
    assert_eq!(run("check").status.code(), Some(0));

    let store = pkg.path().join("src/store.rs");
    let text = std::fs::read_to_string(&store).unwrap();
    std::fs::write(
        &store,
        text.replace("    fn private_helper", "    pub fn now_public"),
    )
    .unwrap();
    let out = run("check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("+fn api_fixture::Store::now_public(&self)"),
        "{stdout}"
    );

    // A baseline without a crate is stale too.
    std::fs::write(pkg.path().join("traceability/public_api/gone.txt"), "").unwrap();
    assert_eq!(run("bless").status.code(), Some(0));
    assert!(!pkg.path().join("traceability/public_api/gone.txt").exists());
    assert_eq!(run("check").status.code(), Some(0));
}
