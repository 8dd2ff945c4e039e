//! proofbat's checkpoint notes and proofs, checked by an independent verifier
//! (`tests/independent/verify.py`, Python's hashlib and the `cryptography`
//! package) written from docs/FORMAT.md alone: the genuine evidence passes and
//! every tampered copy fails.
//!
//! Skips with a note when `python3` or `cryptography` is missing; CI installs
//! both (`.ci/run`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proofbat::{
    consistency_proof, inclusion_proof, leaf_hash, root_of, sign_checkpoint, verifier_key,
    Checkpoint, Hash, SigningKey,
};
use serde_json::{json, Value};

const ORIGIN: &str = "example.com/batpak/log";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independent/verify.py")
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

fn hex(hash: &[u8]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

fn event(i: u64) -> [u8; 32] {
    let mut e = [0xe0; 32];
    e[24..].copy_from_slice(&i.to_be_bytes());
    e
}

struct Evidence {
    dir: tempfile::TempDir,
    vkey: String,
    note: String,
    inclusion: Value,
    consistency: Value,
}

impl Evidence {
    fn new(size: u64, index: u64, old_size: u64) -> Self {
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&event(i))).collect();
        let key = SigningKey::from_bytes(&[0x2a; 32]);
        let checkpoint = Checkpoint::new(ORIGIN, size, root_of(&leaves)).unwrap();
        let note = sign_checkpoint(&checkpoint, &key).unwrap();
        let vkey = verifier_key(ORIGIN, &key.verifying_key()).unwrap();
        let proof = inclusion_proof(&leaves[..], index, size).unwrap();
        let inclusion = json!({
            "event_hash": hex(&event(index)),
            "index": index,
            "size": size,
            "proof": proof.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        });
        let proof = consistency_proof(&leaves[..], old_size, size).unwrap();
        let consistency = json!({
            "old_size": old_size,
            "old_root": hex(&root_of(&leaves[..old_size as usize])),
            "new_size": size,
            "proof": proof.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        });
        Self {
            dir: tempfile::tempdir().unwrap(),
            vkey,
            note,
            inclusion,
            consistency,
        }
    }

    /// Writes the three files and runs the verifier on them.
    fn run(&self, vkey: &str, note: &str, inclusion: &Value, consistency: &Value) -> Output {
        let (n, i, c) = (
            self.dir.path().join("checkpoint.note"),
            self.dir.path().join("inclusion.json"),
            self.dir.path().join("consistency.json"),
        );
        std::fs::write(&n, note).unwrap();
        std::fs::write(&i, inclusion.to_string()).unwrap();
        std::fs::write(&c, consistency.to_string()).unwrap();
        Command::new("python3")
            .arg(script())
            .arg("--vkey")
            .arg(vkey)
            .arg("--note")
            .arg(&n)
            .arg("--inclusion")
            .arg(&i)
            .arg("--consistency")
            .arg(&c)
            .output()
            .unwrap()
    }

    fn genuine(&self) -> Output {
        self.run(&self.vkey, &self.note, &self.inclusion, &self.consistency)
    }
}

fn assert_verified(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: the independent verifier refused genuine evidence: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK: "));
}

/// Exit status 1 with a `FAIL:` reason: refused as evidence, not crashed.
fn assert_refused(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert!(stderr.starts_with("FAIL: "), "{what}: {stderr}");
}

/// Replaces one character of the note's root line with another base64 digit.
fn tamper_root_line(note: &str) -> String {
    let lines: Vec<&str> = note.split('\n').collect();
    let root = lines[2];
    let first = if root.starts_with('A') { "B" } else { "A" };
    let changed = format!("{first}{}", &root[1..]);
    note.replacen(root, &changed, 1)
}

#[test]
fn the_independent_verifier_accepts_genuine_evidence_and_refuses_tampered_copies() {
    if !python_ready() {
        eprintln!(
            "SKIPPED: python3 with the `cryptography` package is not available; \
             the independent verifier (tests/independent/verify.py) did not run"
        );
        return;
    }
    // Several shapes: a perfect tree, an odd one, the first and last leaf,
    // a perfect and an odd old size, the empty and the equal old tree.
    for (size, index, old) in [
        (16, 5, 8),
        (21, 20, 13),
        (1, 0, 0),
        (300, 0, 299),
        (7, 3, 7),
    ] {
        let e = Evidence::new(size, index, old);
        assert_verified(&e.genuine(), &format!("size {size}"));
    }

    let e = Evidence::new(37, 11, 6);
    let (v, n, i, c) = (&e.vkey, &e.note, &e.inclusion, &e.consistency);
    assert_verified(&e.genuine(), "size 37");

    // The signed checkpoint.
    assert_refused(&e.run(v, &tamper_root_line(n), i, c), "root line changed");
    assert_refused(
        &e.run(v, &n.replacen("\n37\n", "\n38\n", 1), i, c),
        "size changed",
    );
    let sig_at = n.rfind(' ').unwrap() + 10;
    let mut sig = n.clone().into_bytes();
    sig[sig_at] = if sig[sig_at] == b'A' { b'B' } else { b'A' };
    assert_refused(
        &e.run(v, &String::from_utf8(sig).unwrap(), i, c),
        "signature changed",
    );
    assert_refused(&e.run(v, &n.replace('\u{2014}', "-"), i, c), "ASCII dash");
    let other = SigningKey::from_bytes(&[0x2b; 32]);
    let other_vkey = verifier_key(ORIGIN, &other.verifying_key()).unwrap();
    assert_refused(&e.run(&other_vkey, n, i, c), "another key");

    // The inclusion proof.
    let mut bad = i.clone();
    let first = bad["proof"][0].as_str().unwrap().to_owned();
    let flipped = format!(
        "{}{}",
        if first.starts_with('0') { '1' } else { '0' },
        &first[1..]
    );
    bad["proof"][0] = json!(flipped);
    assert_refused(&e.run(v, n, &bad, c), "inclusion hash changed");
    let mut bad = i.clone();
    bad["index"] = json!(12);
    assert_refused(&e.run(v, n, &bad, c), "inclusion index changed");
    let mut bad = i.clone();
    bad["event_hash"] = json!(hex(&event(12)));
    assert_refused(&e.run(v, n, &bad, c), "another event");
    let mut bad = i.clone();
    bad["proof"].as_array_mut().unwrap().pop();
    assert_refused(&e.run(v, n, &bad, c), "inclusion proof truncated");
    let mut bad = i.clone();
    bad["proof"]
        .as_array_mut()
        .unwrap()
        .push(json!(hex(&[0; 32])));
    assert_refused(&e.run(v, n, &bad, c), "inclusion proof extended");

    // The consistency proof.
    let mut bad = c.clone();
    bad["old_root"] = json!(hex(&[7; 32]));
    assert_refused(&e.run(v, n, i, &bad), "old root changed");
    let mut bad = c.clone();
    bad["old_size"] = json!(5);
    assert_refused(&e.run(v, n, i, &bad), "old size changed");
    let mut bad = c.clone();
    bad["proof"].as_array_mut().unwrap().pop();
    assert_refused(&e.run(v, n, i, &bad), "consistency proof truncated");
    let mut bad = c.clone();
    bad["proof"].as_array_mut().unwrap().reverse();
    assert_refused(&e.run(v, n, i, &bad), "consistency proof reordered");
}
