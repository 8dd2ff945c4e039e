//! Property: what was appended reads back identically, before and after reopen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::coord;

use batpak::prelude::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Op {
    entity: u8,
    scope: u8,
    kind: u16,
    payload: Vec<u8>,
    reopen_after: bool,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0u8..6,
        0u8..3,
        1u16..50,
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(entity, scope, kind, payload, reopen_after)| Op {
            entity,
            scope,
            kind,
            payload,
            reopen_after,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn append_reopen_read_equality(ops in proptest::collection::vec(op(), 1..60), seg_kib in 4u64..24) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = || StoreConfig::new(dir.path()).with_segment_max_bytes(seg_kib << 10);
        let mut store = Store::open(cfg()).unwrap();
        let mut written = Vec::new();
        for o in &ops {
            let c = coord(format!("e{}", o.entity), format!("s{}", o.scope));
            let kind = EventKind::custom(0xE, o.kind);
            let payload = serde_bytes::ByteBuf::from(o.payload.clone());
            let r = store.append(&c, kind, &payload).unwrap();
            written.push((c, kind, o.payload.clone(), r));
            if o.reopen_after {
                store.close().unwrap();
                store = Store::open(cfg()).unwrap();
            }
        }
        let check = |s: &batpak::StoreReader| {
            prop_assert_eq!(s.len() as usize, written.len());
            for (c, kind, payload, r) in &written {
                let raw = s.read_raw(r.event_id).unwrap();
                let back: serde_bytes::ByteBuf = rmp_serde::from_slice(&raw.event.payload).unwrap();
                prop_assert_eq!(&back.into_vec(), payload);
                prop_assert_eq!(&raw.coordinate, c);
                prop_assert_eq!(raw.event.header.kind, *kind);
                prop_assert_eq!(raw.event.header.event_hash, r.event_hash);
                prop_assert_eq!(raw.event.header.global_sequence, r.global_sequence);
            }
            let order: Vec<u64> = s.query(&Region::all()).iter().map(|e| e.global_sequence()).collect();
            prop_assert_eq!(order, (0..written.len() as u64).collect::<Vec<_>>());
            prop_assert!(s.verify_chain().unwrap().is_intact());
            Ok(())
        };
        check(store.reader())?;
        store.close().unwrap();
        let store = Store::open(cfg()).unwrap();
        check(store.reader())?;
        drop(store);
        let ro = Store::open_read_only(cfg()).unwrap();
        check(ro.reader())?;
    }
}
