//! The netbat seams over a host: wire kinds of runtime errors, per-connection
//! grants, and subscription feeds with resumable cursors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use batpak::prelude::*;
use hostbat::wire::*;
use hostbat::{
    reference_module, Host, HostDispatch, HostModule, HostSubscriptions, SubscriptionSource,
};
use netbat::{CallFailureKind, Dispatch, FeedPoll, Grants, OpenRequest, SubscriptionId};
use syncbat::{Ctx, EffectClass, HandlerResult, OperationDescriptor, OperationEffectRow};

fn look(_: &[u8], _: &mut Ctx<'_>) -> HandlerResult {
    Ok(vec![0xc0])
}

fn boom(_: &[u8], _: &mut Ctx<'_>) -> HandlerResult {
    panic!("boom")
}

fn host(dir: &std::path::Path) -> (Arc<Store>, Arc<Host>) {
    let store = Arc::new(Store::open(StoreConfig::new(dir)).unwrap());
    let mut b = Host::builder(store.clone());
    b.mount(reference_module(store.clone()).unwrap()).unwrap();
    let mut m = HostModule::builder("demo", "1");
    let d = |n: &'static str| {
        OperationDescriptor::owned(
            n,
            EffectClass::Inspect,
            format!("{n}.request"),
            format!("{n}.ack"),
            format!("receipt.{n}.v1"),
        )
    };
    m.operation(
        d("demo.look").with_effect_row(OperationEffectRow::new().requires_capability("demo.read")),
        look,
    );
    m.operation(d("demo.boom"), boom);
    b.mount(m.build().unwrap()).unwrap();
    (store, Arc::new(b.build().unwrap()))
}

#[test]
fn runtime_errors_map_to_wire_kinds_with_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, host) = host(dir.path());
    let d = HostDispatch::new(host);
    let all = Grants::all();
    let e = d.call("no.such", b"", &all).unwrap_err();
    assert_eq!(e.kind(), CallFailureKind::UnknownOperation);
    let e = d.call("demo.look", b"", &Grants::none()).unwrap_err();
    assert_eq!(e.kind(), CallFailureKind::Forbidden);
    assert!(e.message().contains("capability.denied"));
    // Granted to the connection but not to the host: the runtime denies it.
    let e = d.call("demo.look", b"", &all).unwrap_err();
    assert_eq!(e.kind(), CallFailureKind::Forbidden);
    assert!(e.message().contains("capability.denied"), "{}", e.message());
    let e = d.call("demo.boom", b"", &all).unwrap_err();
    assert_eq!(e.kind(), CallFailureKind::Runtime);
    assert!(e.message().contains("handler.panicked"));
    let get = rmp_serde::to_vec_named(&GetRequest {
        event_id_hex: "00".repeat(16),
    })
    .unwrap();
    let e = d.call("event.get", &get, &all).unwrap_err();
    assert_eq!(e.kind(), CallFailureKind::Handler);
    assert!(e.message().contains("store.not_found"));
    let hb = rmp_serde::to_vec_named(&HeartbeatRequest { nonce: "x".into() }).unwrap();
    assert!(d.call("system.heartbeat", &hb, &Grants::none()).is_ok());
}

fn open(
    subs: &HostSubscriptions,
    id: &str,
    resume: Option<netbat::Cursor>,
) -> Result<Box<dyn netbat::SubscriptionFeed>, netbat::OpenFailure> {
    netbat::SubscriptionSource::open(
        subs,
        &OpenRequest {
            id: SubscriptionId::new(id, &netbat::Limits::default()).unwrap(),
            resume,
            window: NonZeroU32::new(8).unwrap(),
            grants: Arc::new(Grants::all()),
        },
    )
}

fn next(feed: &mut Box<dyn netbat::SubscriptionFeed>) -> netbat::FeedEvent {
    match feed.poll(Duration::from_secs(2)) {
        FeedPoll::Event(e) => e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn feeds_replay_resume_and_refuse_foreign_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = host(dir.path());
    for (e, c) in [
        ("acct:1", 0xE),
        ("other", 0xE),
        ("acct:1:sub", 0xA),
        ("acct:10", 0xE),
    ] {
        store
            .append(
                &Coordinate::new(e, "s").unwrap(),
                EventKind::custom(c, 1),
                &1u8,
            )
            .unwrap();
    }
    let mut subs = HostSubscriptions::new(store.clone());
    subs.route("all.v1", SubscriptionSource::All)
        .unwrap()
        .route("acct.v1", SubscriptionSource::Entity("acct:1".into()))
        .unwrap()
        .route("cat.v1", SubscriptionSource::Category(0xA))
        .unwrap();
    // The cursors are syncbat's (`BPSC`), bound to their route.
    assert!(matches!(
        subs.route("Bad Id", SubscriptionSource::All),
        Err(hostbat::HostError::InvalidSubscription { .. })
    ));
    assert!(matches!(
        subs.route("empty.v1", SubscriptionSource::Entity(String::new())),
        Err(hostbat::HostError::InvalidSubscription { .. })
    ));
    assert_eq!(
        subs.ids().collect::<Vec<_>>(),
        ["acct.v1", "all.v1", "cat.v1"]
    );
    let mut all = open(&subs, "all.v1", None).unwrap();
    let first = next(&mut all);
    let second = next(&mut all);
    assert_eq!(&first.cursor_after.as_bytes()[..4], b"BPSC");
    let mut resumed = open(&subs, "all.v1", Some(first.cursor_after.clone())).unwrap();
    assert_eq!(next(&mut resumed), second);
    let mut acct = open(&subs, "acct.v1", None).unwrap();
    let a = netbat::EventStreamEnvelope::decode(&next(&mut acct).payload).unwrap();
    let b = netbat::EventStreamEnvelope::decode(&next(&mut acct).payload).unwrap();
    assert_eq!(
        (a.entity.as_str(), b.entity.as_str()),
        ("acct:1", "acct:1:sub")
    );
    assert!(matches!(
        acct.poll(Duration::from_millis(30)),
        FeedPoll::Idle
    ));
    let mut cat = open(&subs, "cat.v1", None).unwrap();
    assert_eq!(
        netbat::EventStreamEnvelope::decode(&next(&mut cat).payload)
            .unwrap()
            .event_category,
        0xA
    );
    assert_eq!(
        open(&subs, "acct.v1", Some(first.cursor_after))
            .err()
            .unwrap()
            .code()
            .as_str(),
        "cursor_mismatch"
    );
    assert_eq!(
        open(&subs, "all.v1", Some(netbat::Cursor::new(vec![1, 2])))
            .err()
            .unwrap()
            .code()
            .as_str(),
        "cursor_invalid"
    );
    assert_eq!(
        open(&subs, "none.v1", None).err().unwrap().code().as_str(),
        "unknown_subscription"
    );
    // Live: an append after the feed caught up arrives.
    store
        .append(
            &Coordinate::new("acct:1", "s").unwrap(),
            EventKind::custom(0xE, 2),
            &2u8,
        )
        .unwrap();
    let live = netbat::EventStreamEnvelope::decode(&next(&mut acct).payload).unwrap();
    assert_eq!(live.event_kind_raw, EventKind::custom(0xE, 2).as_u16());
}

#[test]
fn subscription_sources_parse() {
    assert_eq!(
        SubscriptionSource::parse("all").unwrap(),
        SubscriptionSource::All
    );
    assert_eq!(
        SubscriptionSource::parse("category:10").unwrap(),
        SubscriptionSource::Category(10)
    );
    assert_eq!(
        SubscriptionSource::parse("category:0xe").unwrap(),
        SubscriptionSource::Category(14)
    );
    assert_eq!(
        SubscriptionSource::parse("category:15").unwrap(),
        SubscriptionSource::Category(15)
    );
    assert_eq!(
        SubscriptionSource::parse("entity:a:b").unwrap(),
        SubscriptionSource::Entity("a:b".into())
    );
    assert_eq!(
        SubscriptionSource::parse("receipts").unwrap(),
        SubscriptionSource::Receipts
    );
    for bad in ["", "category:16", "category:x", "entity:", "nope"] {
        assert!(SubscriptionSource::parse(bad).is_err(), "{bad}");
    }
}
