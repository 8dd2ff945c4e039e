//! The durable operation catalog: transitions, rebuild in sequence order,
//! refused transitions, concurrent writers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use batpak::prelude::*;
use syncbat::catalog::{
    CatalogAction, CatalogError, CatalogRecord, CatalogState, OperationCatalog, Retirement,
    TransitionProblem, CATALOG_EVENT_KIND,
};
use syncbat::{EffectClass, OperationDescriptor, OperationEffectRow};

fn d(name: &'static str, receipt_kind: &'static str) -> OperationDescriptor {
    OperationDescriptor::new(name, EffectClass::Persist, "in.v1", "out.v1", receipt_kind)
        .with_effect_row(OperationEffectRow::new().appends_event(EventKind::custom(0xE, 1)))
        .with_title("An operation")
}

fn open() -> (tempfile::TempDir, Arc<Store>, Coordinate) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
    (
        dir,
        store,
        Coordinate::new("syncbat:catalog", "ops").unwrap(),
    )
}

fn transition(e: CatalogError) -> (CatalogAction, String, TransitionProblem) {
    match e {
        CatalogError::Transition {
            action,
            name,
            problem,
        } => (action, name, problem),
        other => panic!("{other:?}"),
    }
}

#[test]
fn put_update_delete_supersede_and_rebuild_in_order() {
    let (_dir, store, at) = open();
    let c = OperationCatalog::open(store.clone(), at.clone()).unwrap();
    c.put(d("bank.deposit", "r.deposit")).unwrap();
    c.put(d("bank.withdraw", "r.withdraw")).unwrap();
    let updated = d("bank.deposit", "r.deposit.v2");
    c.update(updated.clone()).unwrap();
    c.delete("bank.withdraw").unwrap();
    c.supersede("bank.deposit", d("bank.credit", "r.credit"))
        .unwrap();
    c.put(d("bank.withdraw", "r.withdraw.v2")).unwrap(); // a deleted name may come back
    assert_eq!(c.live_names(), ["bank.credit", "bank.withdraw"]);
    let state = c.state();
    assert_eq!(
        state.retirement("bank.deposit"),
        Some(&Retirement::SupersededBy("bank.credit".into()))
    );
    assert_eq!(state.retirement("bank.withdraw"), None);
    let live: Vec<&str> = state.live().map(|d| d.name()).collect();
    assert_eq!(live, ["bank.credit", "bank.withdraw"]);

    let rebuilt = CatalogState::rebuild(store.reader(), &at).unwrap();
    assert_eq!(rebuilt, state);
    assert_eq!(
        rebuilt.get("bank.credit"),
        Some(&d("bank.credit", "r.credit"))
    );
    assert_eq!(store.by_fact(CATALOG_EVENT_KIND).len(), 6);
    let first = store
        .get_as::<CatalogRecord>(store.by_fact(CATALOG_EVENT_KIND)[0].event_id())
        .unwrap();
    assert_eq!(first.event.payload.action, CatalogAction::Put);
    assert_eq!(
        first.event.payload.descriptor.unwrap().title.as_deref(),
        Some("An operation")
    );

    // Survives reopen.
    drop(c);
    let store = Arc::into_inner(store).unwrap();
    let dir_path = store.dir().to_path_buf();
    store.close().unwrap();
    let store = Arc::new(Store::open(StoreConfig::new(&dir_path)).unwrap());
    let again = OperationCatalog::open(store, at).unwrap();
    assert_eq!(again.state(), state);
    assert!(again.get("bank.credit").is_some());
}

#[test]
fn invalid_transitions_are_refused_and_write_nothing() {
    let (_dir, store, at) = open();
    let c = OperationCatalog::open(store.clone(), at).unwrap();
    use CatalogAction as A;
    use TransitionProblem as P;
    assert_eq!(
        transition(c.update(d("a", "r.a")).unwrap_err()),
        (A::Update, "a".into(), P::NotLive)
    );
    assert_eq!(
        transition(c.delete("a").unwrap_err()),
        (A::Delete, "a".into(), P::NotLive)
    );
    c.put(d("a", "r.a")).unwrap();
    assert_eq!(
        transition(c.put(d("a", "r.a")).unwrap_err()),
        (A::Put, "a".into(), P::AlreadyLive)
    );
    assert_eq!(
        transition(c.supersede("a", d("a", "r.a2")).unwrap_err()),
        (A::Supersede, "a".into(), P::SameName)
    );
    c.put(d("b", "r.b")).unwrap();
    assert_eq!(
        transition(c.supersede("a", d("b", "r.b2")).unwrap_err()),
        (A::Supersede, "b".into(), P::AlreadyLive)
    );
    c.supersede("a", d("c", "r.c")).unwrap();
    assert_eq!(
        transition(c.supersede("a", d("e", "r.e")).unwrap_err()),
        (A::Supersede, "a".into(), P::NotLive)
    );
    assert_eq!(
        transition(c.put(d("a", "r.a")).unwrap_err()),
        (A::Put, "a".into(), P::Superseded { by: "c".into() })
    );
    let bad = OperationDescriptor::new("x", EffectClass::Persist, "i", "o", "r.x");
    assert!(matches!(c.put(bad), Err(CatalogError::Descriptor(_))));
    assert_eq!(
        store.by_fact(CATALOG_EVENT_KIND).len(),
        3,
        "refused transitions wrote nothing"
    );
}

#[test]
fn a_stored_history_with_an_invalid_transition_fails_the_rebuild() {
    let (_dir, store, at) = open();
    let c = OperationCatalog::open(store.clone(), at.clone()).unwrap();
    c.put(d("a", "r.a")).unwrap();
    // Written around the catalog: a delete of a name that is not live.
    #[derive(serde::Serialize)]
    struct Raw<'a> {
        action: &'a str,
        name: &'a str,
    }
    let bad = store
        .append(
            &at,
            CATALOG_EVENT_KIND,
            &Raw {
                action: "delete",
                name: "zzz",
            },
        )
        .unwrap();
    match OperationCatalog::open(store.clone(), at.clone()).unwrap_err() {
        CatalogError::Rebuild {
            global_sequence,
            source,
        } => {
            assert_eq!(global_sequence, bad.global_sequence);
            assert!(matches!(
                *source,
                CatalogError::Transition {
                    problem: TransitionProblem::NotLive,
                    ..
                }
            ));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stale_catalog_cannot_write_over_a_newer_history() {
    let (_dir, store, at) = open();
    let one = OperationCatalog::open(store.clone(), at.clone()).unwrap();
    let two = OperationCatalog::open(store.clone(), at.clone()).unwrap();
    one.put(d("a", "r.a")).unwrap();
    let err = two.put(d("b", "r.b")).unwrap_err();
    assert!(
        matches!(
            err,
            CatalogError::Store(StoreError::SequenceMismatch { .. })
        ),
        "{err:?}"
    );
    assert_eq!(
        OperationCatalog::open(store, at).unwrap().live_names(),
        ["a"]
    );
}

#[test]
fn catalog_actions_display_as_their_wire_names() {
    let names: Vec<String> = [
        CatalogAction::Put,
        CatalogAction::Update,
        CatalogAction::Delete,
        CatalogAction::Supersede,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(names, ["put", "update", "delete", "supersede"]);
}
