//! Format compatibility of typed payloads: fixtures/typed-v1/store was written by
//! an earlier build whose `ThingHappened` was at version 1 (`id`, `name`; the
//! program is fixtures/registry/typed-evolution/src/bin/typed-v1-writer.rs).
//! This build's `ThingHappened` is at version 2 (`id`, `title`, `tags`) and
//! reads those events through a registered upcast step, without rewriting them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{coord, copy_dir, fixture};

use std::path::PathBuf;

use batpak::prelude::*;
use batpak::rmpv::Value;
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize, EventPayload)]
#[batpak(category = 0xE, type_id = 0x21, version = 2)]
struct ThingHappened {
    id: u64,
    title: String,
    tags: Vec<String>,
}

struct V1ToV2;
impl Upcast for V1ToV2 {
    const KIND: EventKind = ThingHappened::KIND;
    const FROM: u16 = 1;
    fn upcast(value: Value) -> Result<Value, batpak::BoxError> {
        let Value::Map(fields) = value else {
            return Err("expected a map".into());
        };
        let mut fields: Vec<(Value, Value)> = fields
            .into_iter()
            .map(|(k, v)| match k.as_str() {
                Some("name") => (Value::from("title"), v),
                _ => (k, v),
            })
            .collect();
        fields.push((Value::from("tags"), Value::Array(Vec::new())));
        Ok(Value::Map(fields))
    }
}
batpak::register_upcast!(V1ToV2);

/// The version 1 shape, to state what the golden bytes are.
#[derive(Serialize)]
struct ThingHappenedV1<'a> {
    id: u64,
    name: &'a str,
}

fn golden_dir() -> PathBuf {
    fixture("typed-v1/store")
}

/// Opening for writing takes a lock and may write: never on the committed copy.
fn copy_of_golden() -> tempfile::TempDir {
    copy_dir(&golden_dir())
}

const GOLDEN: [(u64, &str); 2] = [(1, "first thing"), (2, "second thing")];

#[test]
fn v1_golden_events_decode_into_the_v2_struct_through_the_upcast() {
    let dir = copy_of_golden();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let entries = store.by_fact_typed::<ThingHappened>();
    assert_eq!(entries.len(), GOLDEN.len());
    for (entry, (id, name)) in entries.iter().zip(GOLDEN) {
        assert_eq!(entry.payload_version(), 1);
        let ev = store.get_typed::<ThingHappened>(entry.event_id()).unwrap();
        assert_eq!(
            ev.event.payload,
            ThingHappened {
                id,
                title: name.into(),
                tags: vec![],
            }
        );
        assert_eq!(ev.event.header.payload_version, 1);
        assert_eq!(ev.coordinate.entity(), format!("thing:{id}"));
    }
    store.close().unwrap();
}

#[test]
fn golden_bytes_are_the_v1_encoding_and_stay_unchanged_after_typed_reads_and_appends() {
    let dir = copy_of_golden();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let ids: Vec<EventId> = store
        .by_fact_typed::<ThingHappened>()
        .iter()
        .map(|e| e.event_id())
        .collect();
    let expected: Vec<Vec<u8>> = GOLDEN
        .iter()
        .map(|(id, name)| rmp_serde::to_vec_named(&ThingHappenedV1 { id: *id, name }).unwrap())
        .collect();
    for (id, bytes) in ids.iter().zip(&expected) {
        let raw = store.read_raw(*id).unwrap();
        assert_eq!(&raw.event.payload, bytes);
        assert_eq!(
            raw.event.header.content_hash,
            *blake3::hash(bytes).as_bytes()
        );
        store.get_typed::<ThingHappened>(*id).unwrap();
    }
    let at = coord("thing:3", "things");
    let new = ThingHappened {
        id: 3,
        title: "third".into(),
        tags: vec!["t".into()],
    };
    let receipt = store.append_typed(&at, &new).unwrap();
    store.close().unwrap();

    let ro = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    for (id, bytes) in ids.iter().zip(&expected) {
        assert_eq!(&ro.read_raw(*id).unwrap().event.payload, bytes);
    }
    let back = ro.get_typed::<ThingHappened>(receipt.event_id).unwrap();
    assert_eq!(back.event.payload, new);
    assert_eq!(back.event.header.payload_version, 2);
    assert_eq!(ro.by_fact_typed::<ThingHappened>().len(), 3);
}

#[test]
fn golden_store_reads_typed_read_only_in_place() {
    // A read-only open never changes a file, so the committed copy is safe here.
    let ro = Store::open_read_only(StoreConfig::new(golden_dir())).unwrap();
    let titles: Vec<String> = ro
        .by_fact_typed::<ThingHappened>()
        .iter()
        .map(|e| {
            ro.get_typed::<ThingHappened>(e.event_id())
                .unwrap()
                .event
                .payload
                .title
        })
        .collect();
    assert_eq!(titles, vec!["first thing", "second thing"]);
}
