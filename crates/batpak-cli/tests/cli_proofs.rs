//! The verifiable-log commands on real data directories: `head`, `prove`,
//! `verify --against` (untouched, grown, truncated, rewritten, forked),
//! lost history in plain `verify`, and the head line that ends `export`.
//! What they print is checked with `batpak::proofbat` and, when python3
//! and its `cryptography` package are present, with the independent
//! verifier `crates/proofbat/tests/independent/verify.py`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use batpak::prelude::*;
use batpak::proofbat::{self, Checkpoint, SigningKey};
use common::{path_str, replace_dir, run, segment_files, NOTED};
use serde_json::{json, Value};

const EVENTS: u64 = 20;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[0x5a; 32])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(text: &str) -> [u8; 32] {
    assert_eq!(text.len(), 64, "{text}");
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// A signing store with 4 KiB segments: a few events fill one, so 20 events
/// seal several (and each seal records a head).
fn small_segments(dir: &Path) -> StoreConfig {
    StoreConfig::new(dir)
        .with_signing_key(key())
        .with_segment_max_bytes(4096)
}

fn payload(i: u64, tag: &str) -> Value {
    json!({"i": i, "tag": tag, "pad": "p".repeat(700)})
}

/// Appends `(i, tag)` payloads to three entities in turn, then closes.
fn write_log(cfg: StoreConfig, payloads: &[(u64, &str)]) -> Vec<AppendReceipt> {
    let store = Store::open(cfg).unwrap();
    let receipts = payloads
        .iter()
        .map(|&(i, tag)| {
            let coord = Coordinate::new(format!("acct:{}", i % 3), "ledger").unwrap();
            store.append(&coord, NOTED, &payload(i, tag)).unwrap()
        })
        .collect();
    store.close().unwrap();
    receipts
}

/// The standard log: payloads 0 to 19, several sealed segments.
fn standard_log(dir: &Path) -> Vec<AppendReceipt> {
    let all: Vec<(u64, &str)> = (0..EVENTS).map(|i| (i, "first")).collect();
    let receipts = write_log(small_segments(dir), &all);
    assert!(segment_files(dir).len() >= 3, "expected several segments");
    receipts
}

fn read_only(dir: &Path) -> ReadOnlyStore {
    Store::open_read_only(StoreConfig::new(dir)).unwrap()
}

fn ok(args: &[&str]) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "batpak {args:?}\nstdout: {out}\nstderr: {err}");
    out
}

/// Runs `args`, expects `code` and no panic; returns (stdout, stderr).
fn expect(code: i32, args: &[&str]) -> (String, String) {
    let (got, out, err) = run(args);
    assert_eq!(got, code, "batpak {args:?}\nstdout: {out}\nstderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    (out, err)
}

/// Keeps the store's current head in a file, as a client would.
fn keep_head(dir: &Path, file: &Path) -> String {
    let note = ok(&["head", path_str(dir)]);
    std::fs::write(file, &note).unwrap();
    note
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn hex64(v: &Value, what: &str) -> [u8; 32] {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    assert!(
        text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{what} is not 64 lowercase hex digits: {text}"
    );
    unhex32(text)
}

fn hashes(v: &Value, what: &str) -> Vec<[u8; 32]> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is not an array: {v}"))
        .iter()
        .map(|h| hex64(h, what))
        .collect()
}

/// The only line of `out`, parsed: proofs print as one line of JSON.
fn one_json_line(out: &str) -> Value {
    assert!(
        out.ends_with('\n') && out.matches('\n').count() == 1,
        "{out:?}"
    );
    serde_json::from_str(out).unwrap()
}

#[test]
fn head_prints_the_recorded_note_and_the_key_that_signed_it() {
    let tmp = tempfile::tempdir().unwrap();
    standard_log(tmp.path());
    let dir = path_str(tmp.path());
    let (note, err) = expect(0, &["head", dir]);
    assert!(err.is_empty(), "{err}");
    let ro = read_only(tmp.path());
    let recorded = ro.latest_head().unwrap();
    assert_eq!(note, recorded.text());
    assert_eq!(Some(note.as_str()), recorded.note());
    let origin = recorded.checkpoint().origin().to_owned();
    let checkpoint = proofbat::verify_note(&note, &origin, &key().verifying_key()).unwrap();
    assert_eq!(checkpoint.size(), EVENTS);
    assert_eq!(*checkpoint.root(), ro.tree_root(EVENTS).unwrap());

    let public = ok(&["head", dir, "--public-key"]);
    assert_eq!(
        public,
        format!("{}\n", hex(key().verifying_key().as_bytes()))
    );

    // A store without a key records the bare checkpoint, and has no key to show.
    let unsigned = tempfile::tempdir().unwrap();
    write_log(
        StoreConfig::new(unsigned.path()),
        &[(0, "a"), (1, "b"), (2, "c")],
    );
    let text = ok(&["head", path_str(unsigned.path())]);
    let parsed = Checkpoint::parse(&text).unwrap();
    assert_eq!(parsed.size(), 3);
    assert_eq!(
        text,
        read_only(unsigned.path()).latest_head().unwrap().text()
    );
    let (out, err) = expect(2, &["head", path_str(unsigned.path()), "--public-key"]);
    assert!(out.is_empty() && err.contains("unsigned"), "{err}");

    // Before any head: nothing to show.
    let headless = tempfile::tempdir().unwrap();
    store_without_head(headless.path());
    let (out, err) = expect(2, &["head", path_str(headless.path())]);
    assert!(out.is_empty() && err.contains("no tree head"), "{err}");
}

/// Segment files of a live writer before any head was recorded (what a
/// crash before the first seal or close leaves, without the heads file).
fn store_without_head(dir: &Path) {
    let live = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(live.path())).unwrap();
    let coord = Coordinate::new("acct:0", "ledger").unwrap();
    for i in 0..3 {
        store.append(&coord, NOTED, &payload(i, "x")).unwrap();
    }
    for seg in segment_files(live.path()) {
        std::fs::copy(&seg, dir.join(seg.file_name().unwrap())).unwrap();
    }
    store.close().unwrap();
    assert!(read_only(dir).latest_head().is_none());
}

#[test]
fn prove_prints_the_documented_json_and_the_proofs_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let receipts = standard_log(tmp.path());
    let dir = path_str(tmp.path());
    let ro = read_only(tmp.path());
    let head = ro.latest_head().unwrap();
    assert_eq!(head.size(), EVENTS);
    let target = &receipts[7];
    let id = target.event_id.to_string();

    // Inclusion, at the latest head's size by default.
    let out = ok(&["prove", dir, &id, "--json"]);
    let p = one_json_line(&out);
    assert_eq!(
        keys(&p),
        BTreeSet::from([
            "leaf_index",
            "tree_size",
            "leaf_hash",
            "root_hash",
            "audit_path"
        ])
    );
    assert_eq!(p["leaf_index"].as_u64(), Some(7));
    assert_eq!(p["tree_size"].as_u64(), Some(EVENTS));
    let leaf = hex64(&p["leaf_hash"], "leaf_hash");
    assert_eq!(leaf, proofbat::leaf_hash(&target.event_hash));
    let root = hex64(&p["root_hash"], "root_hash");
    assert_eq!(&root, head.root());
    let path = hashes(&p["audit_path"], "audit_path");
    assert!(!path.is_empty());
    proofbat::verify_inclusion(&leaf, 7, EVENTS, &path, &root).unwrap();
    assert_eq!(
        out,
        format!(
            "{}\n",
            ro.prove_inclusion(target.event_id, EVENTS)
                .unwrap()
                .to_json()
        )
    );

    // At a chosen size.
    let p = one_json_line(&ok(&["prove", dir, &id, "--size", "9", "--json"]));
    assert_eq!(p["tree_size"].as_u64(), Some(9));
    let root9 = hex64(&p["root_hash"], "root_hash");
    assert_eq!(root9, ro.tree_root(9).unwrap());
    proofbat::verify_inclusion(&leaf, 7, 9, &hashes(&p["audit_path"], "audit_path"), &root9)
        .unwrap();

    // Consistency.
    let out = ok(&["prove", dir, "--consistency", "6", "20", "--json"]);
    let c = one_json_line(&out);
    assert_eq!(
        keys(&c),
        BTreeSet::from(["old_size", "new_size", "old_root", "new_root", "proof"])
    );
    assert_eq!(c["old_size"].as_u64(), Some(6));
    assert_eq!(c["new_size"].as_u64(), Some(EVENTS));
    let old_root = hex64(&c["old_root"], "old_root");
    let new_root = hex64(&c["new_root"], "new_root");
    assert_eq!(old_root, ro.tree_root(6).unwrap());
    assert_eq!(&new_root, head.root());
    let proof = hashes(&c["proof"], "proof");
    proofbat::verify_consistency(6, EVENTS, &old_root, &new_root, &proof).unwrap();
    assert_eq!(
        out,
        format!("{}\n", ro.prove_consistency(6, EVENTS).unwrap().to_json())
    );
    // The empty and the equal old tree: valid proofs with no hashes.
    for old in ["0", "20"] {
        let c = one_json_line(&ok(&["prove", dir, "--consistency", old, "20", "--json"]));
        assert_eq!(c["proof"], json!([]));
    }

    // Without --json, short text.
    let text = ok(&["prove", dir, &id]);
    assert!(
        text.starts_with(&format!("event {id} is leaf 7 of the tree of 20 events\n")),
        "{text}"
    );
    assert!(text.contains(&hex(&root)), "{text}");
    let text = ok(&["prove", dir, "--consistency", "6", "20"]);
    assert!(
        text.starts_with("the tree of 6 events is a prefix of the tree of 20 events\n"),
        "{text}"
    );
}

#[test]
fn prove_defaults_to_the_latest_head_when_it_covers_the_event_else_the_whole_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = path_str(tmp.path());
    let all: Vec<(u64, &str)> = (0..EVENTS).map(|i| (i, "first")).collect();
    let first = write_log(StoreConfig::new(tmp.path()).with_signing_key(key()), &all);
    // Two more events while the writer is open: past the head its close recorded.
    let store = Store::open(StoreConfig::new(tmp.path()).with_signing_key(key())).unwrap();
    let coord = Coordinate::new("acct:0", "ledger").unwrap();
    let late: Vec<AppendReceipt> = (20..22)
        .map(|i| store.append(&coord, NOTED, &payload(i, "late")).unwrap())
        .collect();
    assert_eq!(read_only(tmp.path()).latest_head().unwrap().size(), EVENTS);
    let covered = one_json_line(&ok(&[
        "prove",
        dir,
        &first[5].event_id.to_string(),
        "--json",
    ]));
    assert_eq!(covered["tree_size"].as_u64(), Some(EVENTS));
    let newest = one_json_line(&ok(&[
        "prove",
        dir,
        &late[1].event_id.to_string(),
        "--json",
    ]));
    assert_eq!(newest["tree_size"].as_u64(), Some(22));
    assert_eq!(newest["leaf_index"].as_u64(), Some(21));
    store.close().unwrap();
}

#[test]
fn prove_refuses_bad_ids_unknown_events_and_sizes_out_of_range() {
    let tmp = tempfile::tempdir().unwrap();
    let receipts = standard_log(tmp.path());
    let dir = path_str(tmp.path());
    let id = receipts[7].event_id.to_string();
    let unknown = EventId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001).to_string();
    for (args, says) in [
        (
            vec!["prove", dir, "not-an-id", "--json"],
            "is not an event id",
        ),
        (
            vec!["prove", dir, unknown.as_str(), "--json"],
            "no event with id",
        ),
        (
            vec!["prove", dir, &id, "--size", "21", "--json"],
            "beyond the log",
        ),
        (
            vec!["prove", dir, &id, "--size", "7", "--json"],
            "not in the tree of the first 7",
        ),
        (
            vec!["prove", dir, &id, "--size", "0"],
            "not in the tree of the first 0",
        ),
        (
            vec!["prove", dir, "--consistency", "9", "4", "--json"],
            "must not be larger",
        ),
        (
            vec!["prove", dir, "--consistency", "4", "99", "--json"],
            "beyond the log",
        ),
        (vec!["prove", dir, "--consistency", "4"], ""),
        (vec!["prove", dir, "--json"], ""),
        (vec!["prove", dir, &id, "--consistency", "1", "2"], ""),
        (
            vec!["prove", dir, "--consistency", "1", "2", "--size", "3"],
            "",
        ),
        (vec!["prove", dir, &id, "--size", "-1"], ""),
    ] {
        let (out, err) = expect(2, &args);
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(says) && !err.is_empty(), "{args:?}: {err}");
    }
}

/// Whether `python3` runs and imports `cryptography`.
fn python_ready() -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import cryptography.hazmat.primitives.asymmetric.ed25519",
        ])
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false)
}

fn independent_verifier() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proofbat/tests/independent/verify.py")
}

/// Changes the first hex digit of `text` to another one.
fn flip_first_digit(text: &str) -> String {
    let first = if text.starts_with('0') { '1' } else { '0' };
    format!("{first}{}", &text[1..])
}

#[test]
fn the_independent_verifier_accepts_what_the_cli_prints_and_refuses_one_changed_digit() {
    if !python_ready() {
        eprintln!(
            "SKIPPED: python3 with the `cryptography` package is not available; \
             the independent verifier did not run"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let receipts = standard_log(tmp.path());
    let dir = path_str(tmp.path());
    let note = ok(&["head", dir]);
    let public_key = ok(&["head", dir, "--public-key"]).trim_end().to_owned();
    let mut inclusion = one_json_line(&ok(&[
        "prove",
        dir,
        &receipts[11].event_id.to_string(),
        "--json",
    ]));
    // The event's hash from the export, so the verifier derives the leaf itself.
    let export = ok(&["export", dir]);
    let line: Value = serde_json::from_str(export.lines().nth(11).unwrap()).unwrap();
    assert_eq!(line["event_id"], receipts[11].event_id.to_string());
    inclusion["event_hash"] = line["event_hash"].clone();
    let consistency = one_json_line(&ok(&["prove", dir, "--consistency", "7", "20", "--json"]));

    let files = tempfile::tempdir().unwrap();
    let run_verifier = |key: &str, note: &str, inclusion: &Value, consistency: &Value| {
        let (n, i, c) = (
            files.path().join("head.note"),
            files.path().join("inclusion.json"),
            files.path().join("consistency.json"),
        );
        std::fs::write(&n, note).unwrap();
        std::fs::write(&i, inclusion.to_string()).unwrap();
        std::fs::write(&c, consistency.to_string()).unwrap();
        Command::new("python3")
            .arg(independent_verifier())
            .arg("--public-key")
            .arg(key)
            .arg("--note")
            .arg(&n)
            .arg("--inclusion")
            .arg(&i)
            .arg("--consistency")
            .arg(&c)
            .output()
            .unwrap()
    };
    let out = run_verifier(&public_key, &note, &inclusion, &consistency);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "refused genuine evidence: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        said.trim_end(),
        "OK: checkpoint batpak/".to_owned()
            + &hex(key().verifying_key().as_bytes())[..16]
            + " at size 20, inclusion of leaf 11, consistency from size 7"
    );

    let refused = |what: &str, out: std::process::Output| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(err.starts_with("FAIL: "), "{what}: {err}");
    };
    let mut bad = inclusion.clone();
    bad["audit_path"][0] = json!(flip_first_digit(bad["audit_path"][0].as_str().unwrap()));
    refused(
        "audit path",
        run_verifier(&public_key, &note, &bad, &consistency),
    );
    let mut bad = inclusion.clone();
    bad["leaf_hash"] = json!(flip_first_digit(bad["leaf_hash"].as_str().unwrap()));
    refused(
        "leaf hash",
        run_verifier(&public_key, &note, &bad, &consistency),
    );
    let mut bad = consistency.clone();
    bad["proof"][0] = json!(flip_first_digit(bad["proof"][0].as_str().unwrap()));
    refused(
        "consistency proof",
        run_verifier(&public_key, &note, &inclusion, &bad),
    );
    let mut bad = consistency.clone();
    bad["old_root"] = json!(flip_first_digit(bad["old_root"].as_str().unwrap()));
    refused(
        "old root",
        run_verifier(&public_key, &note, &inclusion, &bad),
    );
    refused(
        "public key",
        run_verifier(
            &flip_first_digit(&public_key),
            &note,
            &inclusion,
            &consistency,
        ),
    );
}

/// A fresh copy of the standard log whose head of 20 events is kept in
/// `head.note` beside it; returns (the copy's directory, the head file).
struct Kept {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    head: PathBuf,
    key_hex: String,
}

impl Kept {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        standard_log(&dir);
        let head = tmp.path().join("head.note");
        keep_head(&dir, &head);
        Self {
            key_hex: hex(key().verifying_key().as_bytes()),
            _tmp: tmp,
            dir,
            head,
        }
    }

    fn against(&self, code: i32, extra: &[&str]) -> (String, String) {
        let mut args = vec![
            "verify",
            path_str(&self.dir),
            "--against",
            path_str(&self.head),
            "--public-key",
            &self.key_hex,
        ];
        args.extend_from_slice(extra);
        expect(code, &args)
    }

    fn against_json(&self, code: i32) -> Value {
        let (out, _) = self.against(code, &["--json"]);
        serde_json::from_str(&out).unwrap()
    }

    /// Puts the files of a log with these payloads in place of the copy's.
    fn replace_with(&self, payloads: &[(u64, &str)]) {
        let other = tempfile::tempdir().unwrap();
        write_log(small_segments(other.path()), payloads);
        replace_dir(&self.dir, other.path());
    }
}

#[test]
fn verify_against_a_kept_head_passes_the_untouched_log_and_one_that_grew() {
    let kept = Kept::new();
    let (out, err) = kept.against(0, &[]);
    assert!(out.contains("chain intact"), "{out}");
    assert!(
        out.contains("log extends the head: its first 20 events hash to the head's root; 0 events appended since"),
        "{out}"
    );
    assert!(out.contains("signature verified"), "{out}");
    assert!(!err.contains("not checked"), "{err}");
    let v = kept.against_json(0);
    assert_eq!(v["intact"], true);
    assert_eq!(v["head"]["outcome"], "extends");
    assert_eq!(v["head"]["signature"], "verified");
    assert_eq!(v["head"]["head_size"], 20);
    assert_eq!(v["head"]["log_root_at_head"], v["head"]["head_root"]);
    assert!(v["head"]["first_tree_mismatch"].is_null());

    // Without a key the checkpoint is read unchecked, and the caller told so.
    let (out, err) = expect(
        0,
        &[
            "verify",
            path_str(&kept.dir),
            "--against",
            path_str(&kept.head),
        ],
    );
    assert!(out.contains("signature not checked"), "{out}");
    assert!(err.contains("was not checked"), "{err}");

    // Plain verify has no head section in its JSON.
    let (out, _) = expect(0, &["verify", path_str(&kept.dir), "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v.get("head").is_none(), "{v}");
    assert!(v["open"]["history_lost"].is_null());

    // The writer goes on: the log still extends the head.
    let store = Store::open(small_segments(&kept.dir)).unwrap();
    let coord = Coordinate::new("acct:1", "ledger").unwrap();
    for i in 20..25 {
        store.append(&coord, NOTED, &payload(i, "more")).unwrap();
    }
    store.close().unwrap();
    let (out, _) = kept.against(0, &[]);
    assert!(out.contains("5 events appended since"), "{out}");
    assert_eq!(kept.against_json(0)["head"]["log_size"], 25);
}

#[test]
fn verify_against_a_kept_head_exits_1_on_truncation_rewrite_and_fork() {
    let firsts: Vec<(u64, &str)> = (0..EVENTS).map(|i| (i, "first")).collect();

    // (a) The newest segment file deleted.
    let kept = Kept::new();
    let newest = segment_files(&kept.dir).pop().unwrap();
    std::fs::remove_file(newest).unwrap();
    let (out, _) = kept.against(1, &[]);
    assert!(out.contains("TRUNCATED: the log holds"), "{out}");
    assert!(out.contains("fewer than the 20 the head covers"), "{out}");
    assert!(out.contains("HISTORY LOST"), "{out}");
    let v = kept.against_json(1);
    assert_eq!(v["head"]["outcome"], "truncated");
    assert!(v["head"]["log_size"].as_u64().unwrap() < EVENTS);
    assert!(v["head"]["log_root_at_head"].is_null());

    // (b) A middle event dropped and everything after it hashed again: the
    // rewritten log is shorter than the head ...
    let kept = Kept::new();
    let minus_one: Vec<(u64, &str)> = firsts.iter().copied().filter(|&(i, _)| i != 10).collect();
    kept.replace_with(&minus_one);
    let (out, _) = kept.against(1, &[]);
    assert!(
        out.contains("TRUNCATED: the log holds 19 events, fewer than the 20 the head covers"),
        "{out}"
    );
    // ... its own chain and heads are consistent: only the kept head tells.
    expect(0, &["verify", path_str(&kept.dir)]);
    // ... and padded back past the head's size, it no longer hashes to the root.
    let mut padded = minus_one.clone();
    padded.extend([(20, "pad"), (21, "pad")]);
    kept.replace_with(&padded);
    let (out, _) = kept.against(1, &[]);
    assert!(
        out.contains("REWRITTEN OR FORKED: the log's first 20 events hash to"),
        "{out}"
    );
    let v = kept.against_json(1);
    assert_eq!(v["head"]["outcome"], "rewritten_or_forked");
    assert_eq!(v["head"]["log_size"], 21);
    assert_ne!(v["head"]["log_root_at_head"], v["head"]["head_root"]);

    // (c) The last event rewritten.
    let kept = Kept::new();
    let mut last_changed = firsts.clone();
    last_changed[19] = (19, "rewritten");
    kept.replace_with(&last_changed);
    expect(0, &["verify", path_str(&kept.dir)]);
    let (out, _) = kept.against(1, &[]);
    assert!(out.contains("REWRITTEN OR FORKED"), "{out}");
    let v = kept.against_json(1);
    assert_eq!(v["intact"], false);
    assert_eq!(v["head"]["outcome"], "rewritten_or_forked");
    assert_eq!(v["head"]["log_size"], 20);
    assert!(v["mismatches"].as_array().unwrap().is_empty());

    // A fork: another log under another key, its own heads in place.
    let kept = Kept::new();
    let other = tempfile::tempdir().unwrap();
    write_log(
        StoreConfig::new(other.path())
            .with_signing_key(SigningKey::from_bytes(&[0x77; 32]))
            .with_segment_max_bytes(4096),
        &firsts,
    );
    replace_dir(&kept.dir, other.path());
    let (out, _) = kept.against(1, &[]);
    assert!(out.contains("REWRITTEN OR FORKED"), "{out}");
    assert!(out.contains("may be of another log"), "{out}");
}

#[test]
fn verify_against_exits_1_when_the_stored_tree_disagrees_with_the_frames() {
    // One head only (at close), of 20 events: its root folds the level-4
    // record of leaves 0..16, so a damaged leaf record below 16 passes the
    // open's head checks and only a recomputation from the frames finds it.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let all: Vec<(u64, &str)> = (0..EVENTS).map(|i| (i, "first")).collect();
    let receipts = write_log(StoreConfig::new(&data).with_signing_key(key()), &all);
    let head = tmp.path().join("head.note");
    keep_head(&data, &head);
    let level0 = data.join("tree").join("level-00");
    let mut bytes = std::fs::read(&level0).unwrap();
    bytes[16 + 32 * 3] ^= 0x01;
    std::fs::write(&level0, &bytes).unwrap();

    let args = ["verify", path_str(&data), "--against", path_str(&head)];
    let (out, _) = expect(1, &args);
    assert!(out.contains("log extends the head"), "{out}");
    assert!(
        out.contains(
            "TREE FILES DISAGREE: the stored Merkle tree differs from the frames from leaf 3 on"
        ),
        "{out}"
    );
    let (out, _) = expect(1, &[&args[..], &["--json"]].concat());
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["head"]["outcome"], "extends");
    assert_eq!(v["head"]["first_tree_mismatch"], 3);
    assert_eq!(v["intact"], false);
    // No proof is printed from the damaged record.
    let (out, err) = expect(
        3,
        &[
            "prove",
            path_str(&data),
            &receipts[3].event_id.to_string(),
            "--json",
        ],
    );
    assert!(out.is_empty() && err.contains("leaf 3"), "{err}");
}

#[test]
fn verify_against_refuses_a_head_that_does_not_verify_or_does_not_parse() {
    let kept = Kept::new();
    let dir = path_str(&kept.dir);
    let head = path_str(&kept.head);
    let other = hex(SigningKey::from_bytes(&[1; 32]).verifying_key().as_bytes());
    let (out, err) = expect(
        1,
        &["verify", dir, "--against", head, "--public-key", &other],
    );
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("does not verify under the given public key")
            && err.contains("no signature by the given key"),
        "{err}"
    );

    let note = std::fs::read_to_string(&kept.head).unwrap();
    let forged = kept.head.with_file_name("forged.note");
    std::fs::write(&forged, note.replacen("\n20\n", "\n19\n", 1)).unwrap();
    let (_, err) = expect(
        1,
        &[
            "verify",
            dir,
            "--against",
            path_str(&forged),
            "--public-key",
            &kept.key_hex,
        ],
    );
    assert!(err.contains("does not verify"), "{err}");

    let bare = kept.head.with_file_name("bare.txt");
    let body_end = note.find("\n\n").unwrap() + 1;
    std::fs::write(&bare, &note[..body_end]).unwrap();
    let (_, err) = expect(
        1,
        &[
            "verify",
            dir,
            "--against",
            path_str(&bare),
            "--public-key",
            &kept.key_hex,
        ],
    );
    assert!(err.contains("no signature lines"), "{err}");
    // Unchecked, a bare checkpoint is still a head to hold the log to.
    let (out, err) = expect(0, &["verify", dir, "--against", path_str(&bare)]);
    assert!(out.contains("unsigned checkpoint"), "{out}");
    assert!(err.contains("bare checkpoint"), "{err}");

    let garbage = kept.head.with_file_name("garbage.txt");
    std::fs::write(&garbage, "not a checkpoint").unwrap();
    let missing = kept.head.with_file_name("absent.note");
    for (args, says) in [
        (
            vec!["verify", dir, "--against", path_str(&garbage)],
            "is not a checkpoint",
        ),
        (
            vec!["verify", dir, "--against", path_str(&missing)],
            "cannot be read",
        ),
        (
            vec!["verify", dir, "--against", head, "--public-key", "abc"],
            "64 hex digits",
        ),
        (
            vec!["verify", dir, "--public-key", &kept.key_hex],
            "--against",
        ),
    ] {
        let (out, err) = expect(2, &args);
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn verify_exits_1_when_a_recorded_head_covers_more_events_than_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = path_str(tmp.path());
    let store = Store::open(small_segments(tmp.path())).unwrap();
    for i in 0..EVENTS {
        let coord = Coordinate::new(format!("acct:{}", i % 3), "ledger").unwrap();
        store.append(&coord, NOTED, &payload(i, "first")).unwrap();
    }
    assert_eq!(store.signed_head().unwrap().size(), EVENTS);
    store.close().unwrap();
    std::fs::remove_file(segment_files(tmp.path()).pop().unwrap()).unwrap();

    let (out, _) = expect(1, &["verify", dir]);
    assert!(
        out.contains("HISTORY LOST: a recorded tree head covers 20 events"),
        "{out}"
    );
    assert!(out.contains("committed history lost"), "{out}");
    let (out, _) = expect(1, &["verify", dir, "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["intact"], false);
    assert_eq!(v["open"]["history_lost"]["head_size"], 20);
    assert_eq!(v["open"]["history_lost"]["found_now"], true);
    assert!(v["open"]["history_lost"]["log_size"].as_u64().unwrap() < EVENTS);

    // A writer open accepts the loss and records it; verify still reports it.
    Store::open(small_segments(tmp.path()))
        .unwrap()
        .close()
        .unwrap();
    let (out, _) = expect(1, &["verify", dir, "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["open"]["history_lost"]["head_size"], 20);
    assert_eq!(v["open"]["history_lost"]["found_now"], false);
}

#[test]
fn export_ends_with_the_latest_head_and_its_root_rebuilds_from_the_lines() {
    let tmp = tempfile::tempdir().unwrap();
    standard_log(tmp.path());
    let text = ok(&["export", path_str(tmp.path())]);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (last, events) = lines.split_last().unwrap();
    assert_eq!(events.len() as u64, EVENTS);
    assert!(events.iter().all(|e| e.get("record").is_none()));
    assert_eq!(
        keys(last),
        BTreeSet::from([
            "record",
            "size",
            "root_hash",
            "origin",
            "checkpoint",
            "note",
            "public_key",
            "key_id",
            "recorded_ms",
        ])
    );
    assert_eq!(last["record"], "tree_head");
    let head = read_only(tmp.path()).latest_head().unwrap();
    let origin = head.checkpoint().origin();
    let verifying = key().verifying_key();
    assert_eq!(last["size"], EVENTS);
    assert_eq!(last["origin"], origin);
    assert_eq!(last["checkpoint"], head.checkpoint().body());
    assert_eq!(last["note"], head.note().unwrap());
    assert_eq!(last["public_key"], hex(verifying.as_bytes()));
    assert_eq!(last["key_id"], hex(&proofbat::key_id(origin, &verifying)));
    assert_eq!(last["key_id"].as_str().unwrap().len(), 8);
    assert_eq!(last["recorded_ms"].as_u64(), Some(head.recorded_ms()));
    proofbat::verify_note(last["note"].as_str().unwrap(), origin, &verifying).unwrap();
    // The tree over the exported event hashes has the head's root.
    let leaves: Vec<[u8; 32]> = events
        .iter()
        .map(|e| proofbat::leaf_hash(&hex64(&e["event_hash"], "event_hash")))
        .collect();
    assert_eq!(
        hex(&proofbat::root_of(&leaves)),
        last["root_hash"].as_str().unwrap()
    );

    // Unsigned: the checkpoint and root, no note or key.
    let unsigned = tempfile::tempdir().unwrap();
    write_log(StoreConfig::new(unsigned.path()), &[(0, "a"), (1, "b")]);
    let text = ok(&["export", path_str(unsigned.path())]);
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["record"], "tree_head");
    assert_eq!(last["size"], 2);
    assert!(last["checkpoint"]
        .as_str()
        .unwrap()
        .starts_with("batpak/unsigned\n2\n"));
    for field in ["note", "public_key", "key_id"] {
        assert!(last[field].is_null(), "{field}: {last}");
    }

    // No head yet: every field but the record's name null.
    let headless = tempfile::tempdir().unwrap();
    store_without_head(headless.path());
    let text = ok(&["export", path_str(headless.path())]);
    assert_eq!(text.lines().count(), 4);
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    for (field, value) in last.as_object().unwrap() {
        if field == "record" {
            assert_eq!(value, "tree_head");
        } else {
            assert!(value.is_null(), "{field}: {last}");
        }
    }
}
