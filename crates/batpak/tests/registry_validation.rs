//! Opening a store validates the payload registry: this test binary registers
//! two payload types with one kind and a version-3 type missing a step.
//!
//! (Under the `startup-registry-check` feature this binary would stop before
//! `main`; the fixture tests in `registry_fixtures.rs` cover that feature.)
#![cfg(not(feature = "startup-registry-check"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{coord, LOCK_FILE};

use std::sync::{Arc, Mutex};

use batpak::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, EventPayload)]
#[batpak(category = 0xC, type_id = 0x10)]
struct Claimed {
    a: u8,
}

#[derive(Serialize, Deserialize, EventPayload)]
#[batpak(category = 0xC, type_id = 0x10)]
struct ClaimedAgain {
    b: u8,
}

#[derive(Serialize, Deserialize, EventPayload)]
#[batpak(category = 0xC, type_id = 0x20, version = 3)]
struct Evolved {
    c: u8,
}

struct EvolvedV1ToV2;
impl Upcast for EvolvedV1ToV2 {
    const KIND: EventKind = Evolved::KIND;
    const FROM: u16 = 1;
    fn upcast(v: batpak::rmpv::Value) -> Result<batpak::rmpv::Value, batpak::BoxError> {
        Ok(v)
    }
}
batpak::register_upcast!(EvolvedV1ToV2);

fn type_suffix(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

#[test]
fn report_lists_the_collision_and_the_missing_hop() {
    let report = batpak::registry_report();
    assert!(!report.is_valid());
    let collision = report
        .problems()
        .iter()
        .find_map(|p| match p {
            batpak::RegistryProblem::KindCollision {
                kind,
                first,
                second,
            } => Some((*kind, *first, *second)),
            _ => None,
        })
        .expect("a collision is reported");
    assert_eq!(collision.0, EventKind::custom(0xC, 0x10));
    assert_eq!(
        (type_suffix(collision.1), type_suffix(collision.2)),
        ("Claimed", "ClaimedAgain")
    );
    assert!(report.problems().iter().any(|p| matches!(
        p,
        batpak::RegistryProblem::UpcastChainIncomplete { version: 3, missing, .. } if missing == &vec![(2, 3)]
    )));
}

#[test]
fn fail_fast_is_the_default_and_refuses_to_open_naming_both_types() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(StoreConfig::new(dir.path())).unwrap_err();
    match &err {
        StoreError::PayloadKindCollision {
            kind,
            first,
            second,
        } => {
            assert_eq!(*kind, EventKind::custom(0xC, 0x10));
            assert!(first.ends_with("::Claimed"), "{first}");
            assert!(second.ends_with("::ClaimedAgain"), "{second}");
        }
        other => panic!("expected PayloadKindCollision, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("0xc010"), "{text}");
    // Refused before anything was created or locked.
    assert!(!dir.path().join(LOCK_FILE).exists());
    let err = batpak::verify_registry().unwrap_err();
    assert!(
        matches!(err, StoreError::PayloadKindCollision { .. }),
        "{err:?}"
    );
}

#[test]
fn read_only_open_validates_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        StoreConfig::new(dir.path()).with_payload_validation(EventPayloadValidation::Silent),
    )
    .unwrap();
    store.close().unwrap();
    let err = Store::open_read_only(StoreConfig::new(dir.path())).unwrap_err();
    assert!(
        matches!(err, StoreError::PayloadKindCollision { .. }),
        "{err:?}"
    );
    Store::open_read_only(
        StoreConfig::new(dir.path()).with_payload_validation(EventPayloadValidation::Silent),
    )
    .unwrap();
}

#[test]
fn warn_opens_and_logs_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let subscriber = WarnCollector(seen.clone());
    let store = tracing::subscriber::with_default(subscriber, || {
        Store::open(
            StoreConfig::new(dir.path()).with_payload_validation(EventPayloadValidation::Warn),
        )
    })
    .unwrap();
    store
        .append_typed(&coord("e", "s"), &Claimed { a: 1 })
        .unwrap();
    let warnings = seen.lock().unwrap().clone();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings
        .iter()
        .any(|w| w.contains("Claimed") && w.contains("ClaimedAgain")));
    assert!(warnings.iter().any(|w| w.contains("2→3")));
}

#[test]
fn silent_opens_without_logging() {
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = tracing::subscriber::with_default(WarnCollector(seen.clone()), || {
        Store::open(
            StoreConfig::new(dir.path()).with_payload_validation(EventPayloadValidation::Silent),
        )
    });
    assert!(store.is_ok());
    assert!(seen.lock().unwrap().is_empty());
}

/// Records the fields of every WARN event, formatted.
struct WarnCollector(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for WarnCollector {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() != tracing::Level::WARN {
            return;
        }
        let mut text = String::new();
        event.record(
            &mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                text.push_str(&format!("{}={:?} ", field.name(), value));
            },
        );
        self.0.lock().unwrap().push(text);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
