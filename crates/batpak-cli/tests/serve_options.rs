//! The options of `batpak serve`, `batpak call` and `batpak subscribe` on
//! real processes and ephemeral ports: TLS and mTLS with a PKI made by rcgen
//! at test time (no key is ever written to the repository), a `--config`
//! file that serves and files that are refused before anything binds, and
//! receipts signed by `--signing-key` checked by `receipt.verify` against
//! the keys the server trusts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{call, client, serve, BIN};
use hostbat::wire::{CommitAck, CommitRequest, VerifyAck};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

/// Runs `batpak serve ARGS` expecting it to stop by itself within 20 s:
/// (exit code, stdout, stderr).
fn serve_refused(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve {args:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code().unwrap_or(-1), out, err)
}

/// `batpak ARGS`: (exit code, stdout, stderr).
fn batpak(args: &[&str]) -> (i32, String, String) {
    common::run(args)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path.display().to_string()
}

/// A CA and the PEM files of what it issues, written to a temp directory.
struct Pki {
    dir: PathBuf,
    ca_pem: String,
    ca_cert: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new(dir: &Path, name: &str) -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let ca_cert = params.self_signed(&ca_key).unwrap();
        let ca_pem = write(dir, &format!("{name}-ca.pem"), &ca_cert.pem());
        Self {
            dir: dir.to_path_buf(),
            ca_pem,
            ca_cert,
            ca_key,
        }
    }

    /// (certificate PEM path, key PEM path) for `names`.
    fn issue(
        &self,
        file: &str,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
        (
            write(&self.dir, &format!("{file}.pem"), &cert.pem()),
            write(&self.dir, &format!("{file}.key"), &key.serialize_pem()),
        )
    }

    fn server(&self) -> (String, String) {
        self.issue(
            "server",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }
}

#[test]
fn tls_serve_with_call_and_subscribe_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path(), "test");
    let (cert, key) = pki.server();
    let data = tmp.path().join("data").display().to_string();
    let served = serve(&[
        "--data",
        &data,
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--subscription",
        "acct.v1=entity:acct",
    ]);
    let addr = served.calls.to_string();
    let streams = served.streams.to_string();

    // The server's certificate names 127.0.0.1, the default server name.
    let hb = r#"{"nonce":"tls"}"#;
    let (code, out, err) = batpak(&[
        "call",
        "system.heartbeat",
        "--addr",
        &addr,
        "--tls",
        "--ca",
        &pki.ca_pem,
        "--json",
        hb,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["nonce"], "tls");
    let (code, out, err) = batpak(&[
        "call",
        "system.heartbeat",
        "--addr",
        &addr,
        "--ca",
        &pki.ca_pem,
        "--server-name",
        "localhost",
        "--json",
        hb,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["nonce"], "tls");

    // A plain client on the TLS port fails, is told why, and exits 4.
    let (code, out, err) = batpak(&["call", "system.heartbeat", "--addr", &addr, "--json", hb]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.is_empty());
    assert!(err.contains("--tls --ca"), "{err}");
    // A certificate for another name is refused.
    let (code, _, err) = batpak(&[
        "call",
        "system.heartbeat",
        "--addr",
        &addr,
        "--ca",
        &pki.ca_pem,
        "--server-name",
        "other.example",
        "--json",
        hb,
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("tls"), "{err}");
    // A CA that did not issue the server's certificate is refused.
    let stranger = Pki::new(tmp.path(), "stranger");
    let (code, _, err) = batpak(&[
        "call",
        "system.heartbeat",
        "--addr",
        &addr,
        "--ca",
        &stranger.ca_pem,
        "--json",
        hb,
    ]);
    assert_eq!(code, 4, "{err}");
    // --tls needs --ca; an unreadable CA file is bad input naming the flag.
    let (code, _, _) = batpak(&["call", "system.heartbeat", "--addr", &addr, "--tls"]);
    assert_eq!(code, 2);
    let (code, _, err) = batpak(&[
        "call",
        "system.heartbeat",
        "--addr",
        &addr,
        "--ca",
        "/nonexistent/ca.pem",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--ca: reading /nonexistent/ca.pem"), "{err}");

    // The subscription listener speaks TLS too.
    let req = r#"{"entity":"acct:1","scope":"bank","kind_category":14,"kind_type_id":1,"payload_hex":"07"}"#;
    let (code, _, err) = batpak(&[
        "call",
        "bank.commit",
        "--addr",
        &addr,
        "--tls",
        "--ca",
        &pki.ca_pem,
        "--json",
        req,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = batpak(&[
        "subscribe",
        "acct.v1",
        "--addr",
        &streams,
        "--tls",
        "--ca",
        &pki.ca_pem,
        "--max",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        json(out.lines().next().unwrap())["payload"]["entity"],
        "acct:1"
    );
    let (code, _, _) = batpak(&[
        "subscribe",
        "events.all.v1",
        "--addr",
        &streams,
        "--max",
        "1",
    ]);
    assert_eq!(code, 4);
}

#[test]
fn mtls_asks_every_client_for_a_certificate_from_the_client_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let servers = Pki::new(tmp.path(), "servers");
    let clients = Pki::new(tmp.path(), "clients");
    let (cert, key) = servers.server();
    let (client_cert, client_key) = clients.issue(
        "client",
        &["client.one"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (rogue_cert, rogue_key) =
        servers.issue("rogue", &["rogue"], ExtendedKeyUsagePurpose::ClientAuth);
    let data = tmp.path().join("data").display().to_string();
    let served = serve(&[
        "--data",
        &data,
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--client-ca",
        &clients.ca_pem,
    ]);
    let addr = served.calls.to_string();
    let hb = r#"{"nonce":"m"}"#;
    let base = [
        "call",
        "system.heartbeat",
        "--addr",
        &addr,
        "--ca",
        &servers.ca_pem,
        "--json",
        hb,
    ];
    let with = |cert: &str, key: &str| {
        let mut args = base.to_vec();
        args.extend(["--client-cert", cert, "--client-key", key]);
        batpak(&args)
    };
    let (code, out, err) = with(&client_cert, &client_key);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["nonce"], "m");
    let (code, _, _) = batpak(&base);
    assert_eq!(code, 4, "a client without a certificate is refused");
    let (code, _, _) = with(&rogue_cert, &rogue_key);
    assert_eq!(code, 4, "a certificate from another CA is refused");
    // --client-cert needs --client-key.
    let mut half = base.to_vec();
    half.extend(["--client-cert", &client_cert]);
    assert_eq!(batpak(&half).0, 2);
}

#[test]
fn a_config_file_serves_and_a_bad_one_is_refused_before_binding() {
    let tmp = tempfile::tempdir().unwrap();
    let good = write(
        tmp.path(),
        "good.toml",
        r#"
# Relative paths are the file's directory's.
data = "data"
listen = "127.0.0.1:0"
tokens = ["s3cret"]
subscriptions = ["acct.v1=entity:acct"]
log_format = "json"

[limits]
max_connections = 16
max_line_bytes = 131072
max_window = 8

[timeouts]
read = "5s"
idle = "20s"
write = "5s"
stall = "2s"
"#,
    );
    let served = serve(&["--config", &good]);
    assert!(tmp.path().join("data").is_dir());
    let addr = served.calls.to_string();
    let hb = r#"{"nonce":"cfg"}"#;
    let (code, out, err) = batpak(&[
        "call",
        "system.heartbeat",
        "--addr",
        &addr,
        "--token",
        "s3cret",
        "--json",
        hb,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["nonce"], "cfg");
    let (code, _, _) = batpak(&["call", "system.heartbeat", "--addr", &addr, "--json", hb]);
    assert_eq!(code, 16, "ERR unauthenticated without the file's token");
    drop(served);

    // A flag overrides the file's value.
    let served = serve(&["--config", &good, "--token", "flag-token"]);
    let addr = served.calls.to_string();
    let call_with = |token: &str| {
        batpak(&[
            "call",
            "system.heartbeat",
            "--addr",
            &addr,
            "--token",
            token,
            "--json",
            hb,
        ])
        .0
    };
    assert_eq!(call_with("flag-token"), 0);
    assert_ne!(call_with("s3cret"), 0);
    drop(served);

    let cases = [
        (
            "unknown.toml",
            "data = \"d1\"\nlisten = \"127.0.0.1:0\"\n[limits]\nmax_lines = 3\n",
            "limits.max_lines: unknown key",
        ),
        (
            "bad.toml",
            "data = \"d2\"\nlisten = \"127.0.0.1:0\"\n[limits]\nmax_line_bytes = -5\n",
            "limits.max_line_bytes: expected a positive integer",
        ),
        (
            "duration.toml",
            "data = \"d3\"\nlisten = \"127.0.0.1:0\"\n[timeouts]\nread = \"soon\"\n",
            "timeouts.read: expected a duration",
        ),
        (
            "pem.toml",
            "data = \"d4\"\nlisten = \"127.0.0.1:0\"\n[tls]\ncert = \"missing.pem\"\nkey = \"missing.key\"\n",
            "tls.cert: reading ",
        ),
        (
            "remote.toml",
            "data = \"d5\"\nlisten = \"0.0.0.0:0\"\n",
            "listen: refusing to serve 0.0.0.0:0 without credentials",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write(tmp.path(), name, text);
        let (code, out, err) = serve_refused(&["--config", &path]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(!out.contains("calls"), "{name} bound a port: {out}");
        assert!(
            err.contains(&format!("config {path}: {expected}")),
            "{name}: {err}"
        );
        let data = &text[8..10];
        assert!(
            !tmp.path().join(data).exists(),
            "{name}: the store was opened"
        );
    }
    // The same checks for flags: a bad value is clap's usage error, a half
    // TLS pair names the flag.
    let (code, _, err) = serve_refused(&["--data", "x", "--max-line-bytes", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected a positive integer"), "{err}");
    let (code, _, err) = serve_refused(&["--data", "x", "--read-timeout", "30"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = serve_refused(&["--data", "x", "--tls-cert", "c.pem"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("--tls-cert: needs --tls-key too"), "{err}");
    let (code, _, err) = serve_refused(&["--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--data: required"), "{err}");
}

fn public_key(seed: u8) -> String {
    hostbat::hex::encode(
        ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
            .verifying_key()
            .as_bytes(),
    )
}

fn verdict(v: &VerifyAck) -> (bool, &str, Option<&str>) {
    (v.valid, v.outcome.as_str(), v.reason_code.as_deref())
}

#[test]
fn receipts_verify_against_the_servers_signing_key_and_trusted_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let first = write(tmp.path(), "first.hex", &format!("{}\n", "01".repeat(32)));
    let second = write(tmp.path(), "second.hex", &"02".repeat(32));
    let data = tmp.path().join("data").display().to_string();
    let base = ["--data", data.as_str(), "--listen", "127.0.0.1:0"];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        serve(&args)
    };

    let served = with(&["--signing-key", &first]);
    let mut c = client(served.calls);
    let ack: CommitAck = call(
        &mut c,
        "bank.commit",
        &CommitRequest {
            entity: "acct:1".into(),
            scope: "bank".into(),
            kind_category: 0xE,
            kind_type_id: 1,
            payload_hex: "07".into(),
            idempotency_key_hex: None,
        },
    );
    assert_eq!(ack.key_id_hex, public_key(1));
    assert!(ack.signature_hex.is_some());
    let v: VerifyAck = call(&mut c, "receipt.verify", &ack);
    assert_eq!(verdict(&v), (true, "signed", None));
    let mut swapped = ack.clone();
    swapped.key_id_hex = public_key(3);
    let v: VerifyAck = call(&mut c, "receipt.verify", &swapped);
    assert_eq!(verdict(&v), (false, "invalid", Some("untrusted_key")));
    // The same through `batpak call`.
    let addr = served.calls.to_string();
    let (code, out, err) = batpak(&[
        "call",
        "receipt.verify",
        "--addr",
        &addr,
        "--json",
        &serde_json::to_string(&ack).unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["outcome"], "signed");
    drop((c, served));

    // Restarted with another key: the first key's receipts are untrusted...
    let served = with(&["--signing-key", &second]);
    let mut c = client(served.calls);
    let v: VerifyAck = call(&mut c, "receipt.verify", &ack);
    assert_eq!(verdict(&v), (false, "invalid", Some("untrusted_key")));
    drop((c, served));

    // ...unless the first key is configured as trusted.
    let trusted = public_key(1);
    let served = with(&["--signing-key", &second, "--trusted-key", &trusted]);
    let mut c = client(served.calls);
    let v: VerifyAck = call(&mut c, "receipt.verify", &ack);
    assert_eq!(verdict(&v), (true, "signed", None));
    let v: VerifyAck = call(&mut c, "receipt.verify", &swapped);
    assert_eq!(verdict(&v), (false, "invalid", Some("untrusted_key")));
    drop((c, served));

    // A bad key file or trusted key is refused before anything binds.
    let junk = write(tmp.path(), "junk.hex", "not a key");
    let (code, out, err) = serve_refused(&["--data", &data, "--signing-key", &junk]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("--signing-key: "), "{err}");
    let (code, _, err) = serve_refused(&["--data", &data, "--trusted-key", "abcd"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--trusted-key: expected 64 hex digits"),
        "{err}"
    );
}
