//! Module manifests, their digests and the host fingerprints, against the
//! canonical encoding written out independently from its documentation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use batpak::prelude::*;
use hostbat::{
    Host, HostError, HostModule, SubscriptionSource, INTERFACE_FINGERPRINT_DOMAIN,
    MODULE_MANIFEST_DOMAIN,
};
use netbat::{CallFailureKind, Dispatch, Grants};
use syncbat::{Ctx, EffectClass, HandlerResult, OperationDescriptor, OperationEffectRow};

fn ok(_: &[u8], _: &mut Ctx<'_>) -> HandlerResult {
    Ok(vec![0xc0])
}

/// An Inspect operation that tries to append: the row refuses it.
fn sneaky(_: &[u8], cx: &mut Ctx<'_>) -> HandlerResult {
    let _ = cx
        .event_append_handle()
        .append_event(EventKind::custom(0xE, 1), &[0xc0]);
    Ok(vec![0xc0])
}

fn text(out: &mut Vec<u8>, t: &str) {
    out.extend_from_slice(&(t.len() as u64).to_le_bytes());
    out.extend_from_slice(t.as_bytes());
}

fn count(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

/// The documented encoding of [`descriptor`].
fn descriptor_bytes(want: &mut Vec<u8>) {
    text(want, "demo.write");
    text(want, "persist");
    text(want, "demo.write.request");
    text(want, "demo.write.ack");
    text(want, "receipt.demo.write.v1");
    count(want, 0); // reads
    count(want, 2); // appends, sorted
    text(want, "evt.e001");
    text(want, "evt.e002");
    count(want, 0); // projections
    count(want, 0); // receipts
    count(want, 0); // host controls
    count(want, 1);
    text(want, "demo.write");
}

fn descriptor() -> OperationDescriptor {
    OperationDescriptor::owned(
        "demo.write",
        EffectClass::Persist,
        "demo.write.request",
        "demo.write.ack",
        "receipt.demo.write.v1",
    )
    .with_effect_row(
        OperationEffectRow::new()
            .appends_event(EventKind::custom(0xE, 2))
            .appends_event(EventKind::custom(0xE, 1))
            .requires_capability("demo.write"),
    )
}

fn module() -> HostModule {
    let mut m = HostModule::builder("demo", "1.2");
    m.operation(descriptor(), ok)
        .capability("demo.write")
        .subscription("demo.b.v1", SubscriptionSource::Category(0xE))
        .subscription("demo.a.v1", SubscriptionSource::Entity("acct".into()));
    m.build().unwrap()
}

#[test]
fn the_digest_covers_the_documented_canonical_bytes() {
    let module = module();
    let manifest = module.manifest();
    let mut want = MODULE_MANIFEST_DOMAIN.to_vec();
    text(&mut want, "demo");
    text(&mut want, "1.2");
    count(&mut want, 1);
    descriptor_bytes(&mut want);
    count(&mut want, 1); // module capabilities
    text(&mut want, "demo.write");
    count(&mut want, 2); // subscriptions, sorted by id
    text(&mut want, "demo.a.v1");
    text(&mut want, "entity:acct");
    text(&mut want, "demo.b.v1");
    text(&mut want, "category:14");
    assert_eq!(manifest.canonical_bytes(), want);
    assert_eq!(manifest.digest, *blake3::hash(&want).as_bytes());
    assert!(format!("{module:?}").contains("demo.write"));
}

#[test]
fn a_module_refuses_a_repeated_subscription_but_not_two_distinct_ones() {
    let mut m = HostModule::builder("demo", "1");
    m.subscription("x.v1", SubscriptionSource::All)
        .subscription("x.v1", SubscriptionSource::Receipts);
    assert!(format!("{m:?}").contains("demo"));
    assert!(matches!(
        m.build(),
        Err(HostError::SubscriptionConflict { .. })
    ));
    let mut m = HostModule::builder("demo", "1");
    m.subscription("x.v1", SubscriptionSource::All)
        .subscription("y.v1", SubscriptionSource::Receipts);
    assert_eq!(m.build().unwrap().manifest().subscriptions.len(), 2);
}

fn host_of(modules: Vec<HostModule>) -> (tempfile::TempDir, Host) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
    let mut b = Host::builder(store);
    for m in modules {
        b.mount(m).unwrap();
    }
    b.grant("demo.write");
    assert!(format!("{b:?}").contains("demo.write"));
    (dir, b.build().unwrap())
}

#[test]
fn hosts_list_their_modules_and_fingerprint_what_clients_can_call() {
    let (_d1, host) = host_of(vec![module()]);
    assert!(format!("{host:?}").contains("demo"));
    let ids: Vec<&str> = host.manifests().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["demo"]);
    let subs: Vec<&str> = host.subscriptions().map(|s| s.id.as_str()).collect();
    assert_eq!(subs, ["demo.a.v1", "demo.b.v1"]);

    // The interface fingerprint is over the descriptors alone.
    let mut want = INTERFACE_FINGERPRINT_DOMAIN.to_vec();
    count(&mut want, 1);
    descriptor_bytes(&mut want);
    assert_eq!(
        host.interface_fingerprint(),
        *blake3::hash(&want).as_bytes()
    );

    // Another module set with the same operations has the same interface
    // but another fingerprint; another operation changes the interface.
    let mut bare = HostModule::builder("other", "9");
    bare.operation(descriptor(), ok);
    let (_d2, same_ops) = host_of(vec![bare.build().unwrap()]);
    assert_eq!(
        host.interface_fingerprint(),
        same_ops.interface_fingerprint()
    );
    assert_ne!(host.fingerprint(), same_ops.fingerprint());
    let mut more = HostModule::builder("other", "9");
    more.operation(descriptor(), ok).operation(
        OperationDescriptor::owned("demo.look", EffectClass::Inspect, "i", "o", "r.look"),
        ok,
    );
    let (_d3, more) = host_of(vec![more.build().unwrap()]);
    assert_ne!(host.interface_fingerprint(), more.interface_fingerprint());
}

#[test]
fn granted_calls_pass_and_effect_violations_are_runtime_denials() {
    let mut m = HostModule::builder("demo", "1");
    m.operation(descriptor(), ok).operation(
        OperationDescriptor::owned(
            "demo.sneaky",
            EffectClass::Inspect,
            "i",
            "o",
            "receipt.demo.sneaky.v1",
        ),
        sneaky,
    );
    let (_dir, host) = host_of(vec![m.build().unwrap()]);
    let d = hostbat::HostDispatch::new(Arc::new(host));
    let writer = Grants::of(["demo.write"]);
    assert_eq!(d.call("demo.write", b"", &writer).unwrap(), vec![0xc0]);
    let e = d
        .call("demo.write", b"", &Grants::of(["other"]))
        .unwrap_err();
    assert_eq!(e.kind(), CallFailureKind::Forbidden);
    let e = d.call("demo.sneaky", b"", &writer).unwrap_err();
    assert_eq!(e.kind(), CallFailureKind::Runtime, "{}", e.message());
    assert!(e.message().contains("effect.violation"), "{}", e.message());
}
