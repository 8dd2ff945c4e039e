//! Typed payloads: derive, typed append and read, kind checks, version checks, upcasting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::temp_store;

use batpak::prelude::*;
use batpak::rmpv::Value;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, EventPayload)]
#[batpak(category = 0xE, type_id = 1, version = 2)]
struct ThingHappened {
    id: u64,
    note: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// Version 1 had `id` and `text`; version 2 renamed `text` to `note` and added `tags`.
struct ThingHappenedV1ToV2;
impl Upcast for ThingHappenedV1ToV2 {
    const KIND: EventKind = ThingHappened::KIND;
    const FROM: u16 = 1;
    fn upcast(value: Value) -> Result<Value, batpak::BoxError> {
        let Value::Map(fields) = value else {
            return Err("expected a map".into());
        };
        let mut out: Vec<(Value, Value)> = fields
            .into_iter()
            .map(|(k, v)| {
                if k.as_str() == Some("text") {
                    (Value::from("note"), v)
                } else {
                    (k, v)
                }
            })
            .collect();
        if out.iter().any(|(k, _)| k.as_str() == Some("poison")) {
            return Err("poisoned payload".into());
        }
        out.push((
            Value::from("tags"),
            Value::Array(vec![Value::from("from-v1")]),
        ));
        Ok(Value::Map(out))
    }
}
batpak::register_upcast!(ThingHappenedV1ToV2);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, EventPayload)]
#[batpak(category = 0xA, type_id = 0xFFF)]
struct Other {
    n: u32,
}

/// The version 1 shape of `ThingHappened`, written untyped to simulate an old build.
#[derive(Serialize)]
struct ThingHappenedV1 {
    id: u64,
    text: String,
}

fn coord() -> Coordinate {
    common::coord("thing:7", "things")
}

fn thing() -> ThingHappened {
    ThingHappened {
        id: 7,
        note: "x".into(),
        tags: vec!["a".into()],
    }
}

#[test]
fn derive_sets_kind_and_version() {
    assert_eq!(ThingHappened::KIND, EventKind::custom(0xE, 1));
    assert_eq!(ThingHappened::PAYLOAD_VERSION, 2);
    assert_eq!(Other::KIND, EventKind::custom(0xA, 0xFFF));
    assert_eq!(Other::PAYLOAD_VERSION, 1, "version defaults to 1");
}

#[test]
fn derive_registers_kind_version_type_and_crate() {
    let report = batpak::verify_registry().unwrap();
    let thing = report
        .payloads()
        .iter()
        .find(|p| p.kind == ThingHappened::KIND)
        .expect("ThingHappened is registered");
    assert_eq!(thing.version, 2);
    assert!(
        thing.type_name.ends_with("::ThingHappened"),
        "{}",
        thing.type_name
    );
    assert_eq!(thing.crate_name, "batpak");
    let step = report
        .upcasts()
        .iter()
        .find(|u| u.kind == ThingHappened::KIND)
        .expect("the upcast step is registered");
    assert_eq!(step.from, 1);
    assert!(
        step.type_name.ends_with("::ThingHappenedV1ToV2"),
        "{}",
        step.type_name
    );
}

#[test]
fn append_typed_round_trips_and_records_the_type_version() {
    let (_dir, store) = temp_store();
    let receipt = store.append_typed(&coord(), &thing()).unwrap();
    let ev: StoredEvent<ThingHappened> = store.get_typed(receipt.event_id).unwrap();
    assert_eq!(ev.event.payload, thing());
    assert_eq!(ev.event.header.kind, ThingHappened::KIND);
    assert_eq!(ev.event.header.payload_version, 2);
    assert_eq!(store.entry(receipt.event_id).unwrap().payload_version(), 2);
    // The typed append stores the same bytes an untyped append of the value would.
    let raw = store.read_raw(receipt.event_id).unwrap();
    assert_eq!(
        raw.event.payload,
        rmp_serde::to_vec_named(&thing()).unwrap()
    );
}

#[test]
fn typed_append_overrides_a_payload_version_given_in_options() {
    let (_dir, store) = temp_store();
    let opts = AppendOptions::default().with_payload_version(9);
    let receipt = store
        .append_typed_with_options(&coord(), &thing(), opts)
        .unwrap();
    assert_eq!(store.entry(receipt.event_id).unwrap().payload_version(), 2);
}

#[test]
fn by_fact_typed_returns_only_entries_of_the_type_kind() {
    let (_dir, store) = temp_store();
    let a = store.append_typed(&coord(), &thing()).unwrap();
    store.append_typed(&coord(), &Other { n: 1 }).unwrap();
    let b = store.append_typed(&coord(), &thing()).unwrap();
    let ids: Vec<EventId> = store
        .by_fact_typed::<ThingHappened>()
        .iter()
        .map(|e| e.event_id())
        .collect();
    assert_eq!(ids, vec![a.event_id, b.event_id]);
    assert_eq!(store.by_fact_typed::<Other>().len(), 1);
}

#[test]
fn typed_read_of_another_kind_is_a_kind_mismatch() {
    let (_dir, store) = temp_store();
    let receipt = store.append_typed(&coord(), &Other { n: 1 }).unwrap();
    let err = store
        .get_typed::<ThingHappened>(receipt.event_id)
        .unwrap_err();
    match &err {
        StoreError::KindMismatch {
            event_id,
            expected,
            found,
        } => {
            assert_eq!(*event_id, receipt.event_id);
            assert_eq!(*expected, ThingHappened::KIND);
            assert_eq!(*found, Other::KIND);
        }
        other => panic!("expected KindMismatch, got {other:?}"),
    }
    assert_eq!(err.handling_class(), HandlingClass::Domain);
    // An untyped event whose bytes would happen to decode is refused all the same.
    let untyped = store
        .append(&coord(), EventKind::custom(0xB, 1), &thing())
        .unwrap();
    assert!(matches!(
        store.get_typed::<ThingHappened>(untyped.event_id),
        Err(StoreError::KindMismatch { .. })
    ));
}

#[test]
fn a_newer_stored_version_is_a_future_version_error_on_every_typed_read() {
    let (_dir, store) = temp_store();
    let opts = AppendOptions::default().with_payload_version(3);
    let receipt = store
        .append_with_options(&coord(), ThingHappened::KIND, &thing(), opts)
        .unwrap();
    let check = |err: StoreError| match err {
        StoreError::FutureVersion {
            event_id,
            kind,
            stored,
            supported,
        } => {
            assert_eq!(event_id, receipt.event_id);
            assert_eq!(kind, ThingHappened::KIND);
            assert_eq!((stored, supported), (3, 2));
        }
        other => panic!("expected FutureVersion, got {other:?}"),
    };
    check(
        store
            .get_typed::<ThingHappened>(receipt.event_id)
            .unwrap_err(),
    );
    let raw = store.read_raw(receipt.event_id).unwrap();
    check(raw.decode_typed::<ThingHappened>().unwrap_err());
}

#[test]
fn an_older_version_is_lifted_in_memory_and_the_stored_bytes_stay() {
    let (_dir, store) = temp_store();
    let v1 = ThingHappenedV1 {
        id: 5,
        text: "old".into(),
    };
    let opts = AppendOptions::default().with_payload_version(1);
    let receipt = store
        .append_with_options(&coord(), ThingHappened::KIND, &v1, opts)
        .unwrap();
    let before = store.read_raw(receipt.event_id).unwrap();
    let ev = store.get_typed::<ThingHappened>(receipt.event_id).unwrap();
    assert_eq!(
        ev.event.payload,
        ThingHappened {
            id: 5,
            note: "old".into(),
            tags: vec!["from-v1".into()],
        }
    );
    assert_eq!(
        ev.event.header.payload_version, 1,
        "the header reports what is stored"
    );
    let after = store.read_raw(receipt.event_id).unwrap();
    assert_eq!(after.event.payload, before.event.payload);
    assert_eq!(after.event.payload, rmp_serde::to_vec_named(&v1).unwrap());
    assert_eq!(after.event.header.content_hash, receipt.content_hash);
}

#[test]
fn a_failing_upcast_step_is_a_typed_error() {
    let (_dir, store) = temp_store();
    let opts = AppendOptions::default().with_payload_version(1);
    let receipt = store
        .append_with_options(
            &coord(),
            ThingHappened::KIND,
            &serde_json::json!({"id": 1, "text": "t", "poison": true}),
            opts,
        )
        .unwrap();
    match store
        .get_typed::<ThingHappened>(receipt.event_id)
        .unwrap_err()
    {
        StoreError::UpcastFailed {
            event_id,
            kind,
            from,
            source,
            ..
        } => {
            assert_eq!(event_id, receipt.event_id);
            assert_eq!(kind, ThingHappened::KIND);
            assert_eq!(from, 1);
            assert_eq!(source.to_string(), "poisoned payload");
        }
        other => panic!("expected UpcastFailed, got {other:?}"),
    }
}

#[test]
fn a_version_with_no_step_at_read_time_names_the_missing_hop() {
    let (_dir, store) = temp_store();
    // Version 0 predates every registered step, so 0→1 has none.
    let opts = AppendOptions::default().with_payload_version(0);
    let receipt = store
        .append_with_options(&coord(), ThingHappened::KIND, &thing(), opts)
        .unwrap();
    match store
        .get_typed::<ThingHappened>(receipt.event_id)
        .unwrap_err()
    {
        StoreError::UpcastChainIncomplete {
            kind,
            version,
            missing,
        } => {
            assert_eq!(kind, ThingHappened::KIND);
            assert_eq!(version, 2);
            assert_eq!(missing, vec![(0, 1)]);
        }
        other => panic!("expected UpcastChainIncomplete, got {other:?}"),
    }
}

#[test]
fn read_only_store_reads_typed_too() {
    let (dir, store) = temp_store();
    let receipt = store.append_typed(&coord(), &thing()).unwrap();
    store.close().unwrap();
    let ro = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(
        ro.get_typed::<ThingHappened>(receipt.event_id)
            .unwrap()
            .event
            .payload,
        thing()
    );
}

#[test]
fn registry_errors_are_domain_errors_that_name_their_context() {
    let err = StoreError::PayloadKindCollision {
        kind: ThingHappened::KIND,
        first: "a::One",
        second: "b::Two",
    };
    assert_eq!(err.handling_class(), HandlingClass::Domain);
    let text = err.to_string();
    assert!(
        text.contains("0xe001") && text.contains("a::One") && text.contains("b::Two"),
        "{text}"
    );
    let err = StoreError::UpcastChainIncomplete {
        kind: ThingHappened::KIND,
        version: 4,
        missing: vec![(1, 2), (3, 4)],
    };
    assert!(err.to_string().contains("1→2, 3→4"), "{err}");
}
