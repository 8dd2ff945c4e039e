//! Regression: `get` of an event whose payload is a MessagePack byte string (`bin`, as serde_bytes writes it) failed with a Deserialization error, while `export` showed it; both now read it as JSON the same way (a byte string as an array of byte values, integer map keys as text), and what JSON cannot hold is an error naming the event.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use batpak::prelude::*;
use common::{coord, temp_store};

const K: EventKind = EventKind::custom(0xE, 1);

#[test]
fn a_byte_string_payload_reads_back_as_json() {
    let (_dir, store) = temp_store();
    let bin = store
        .append(
            &coord("blob", "s"),
            K,
            &serde_bytes::Bytes::new(&[0, 7, 255]),
        )
        .unwrap();
    assert_eq!(
        store.get(bin.event_id).unwrap().event.payload,
        serde_json::json!([0, 7, 255])
    );
    let mut keyed = std::collections::BTreeMap::new();
    keyed.insert(3u32, "three");
    let map = store.append(&coord("blob", "s"), K, &keyed).unwrap();
    assert_eq!(
        store.get(map.event_id).unwrap().event.payload,
        serde_json::json!({"3": "three"})
    );
    // Ordinary payloads read as before.
    let plain = store
        .append(&coord("blob", "s"), K, &serde_json::json!({"n": 1}))
        .unwrap();
    assert_eq!(store.get(plain.event_id).unwrap().event.payload["n"], 1);
    // A cursor reads the same JSON.
    let mut cursor = store.cursor_guaranteed(&Region::entity("blob"));
    let events = cursor.poll_events(10).unwrap();
    assert_eq!(events[0].event.payload, serde_json::json!([0, 7, 255]));
}

#[test]
fn a_payload_json_cannot_hold_is_an_error_naming_the_event() {
    let (_dir, store) = temp_store();
    // A MessagePack extension type (type 5, rmp-serde's ext newtype): no JSON form.
    #[derive(serde::Serialize)]
    #[serde(rename = "_ExtStruct")]
    struct Ext((i8, serde_bytes::ByteBuf));
    let ext = Ext((5, serde_bytes::ByteBuf::from(vec![1])));
    let ext = store.append(&coord("x", "s"), K, &ext).unwrap();
    let err = store.get(ext.event_id).unwrap_err();
    assert!(
        matches!(err, StoreError::Deserialization { event_id, .. } if event_id == ext.event_id),
        "{err:?}"
    );
    assert!(err.to_string().contains("extension"), "{err}");
}
