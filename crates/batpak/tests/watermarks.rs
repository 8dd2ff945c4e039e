//! Watermarks: accepted ≥ written ≥ durable and written ≥ visible at every
//! moment, under concurrent appends and every sync mode; waits that return
//! or time out with a typed error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::{buffered, coord, temp_store};

use batpak::prelude::*;

const K: EventKind = EventKind::custom(0xE, 1);
const THREADS: usize = 4;
const PER_THREAD: usize = 150;

fn marks(f: &Frontier) -> [u64; 4] {
    [
        f.accepted.next_global_sequence,
        f.written.next_global_sequence,
        f.durable.next_global_sequence,
        f.visible.next_global_sequence,
    ]
}

fn run_ordering(mode: SyncMode) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(StoreConfig::new(dir.path()).with_sync_mode(mode)).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (store, done) = (store.clone(), done.clone());
        std::thread::spawn(move || {
            let mut last = [0u64; 4];
            let mut samples = 0u64;
            while !done.load(Ordering::Acquire) {
                // Whatever a reader can see was written first (and, in the
                // durable mode, made durable first).
                let seen = store.len();
                let f = store.frontier();
                assert!(f.is_ordered(), "{mode:?}: {f:?}");
                assert!(
                    f.written.next_global_sequence >= seen,
                    "{mode:?}: visible before written"
                );
                assert!(f.visible.next_global_sequence >= seen);
                if mode == SyncMode::EveryGroup {
                    assert!(
                        f.durable.next_global_sequence >= f.visible.next_global_sequence,
                        "{f:?}"
                    );
                }
                let now = marks(&f);
                assert!(
                    now.iter().zip(last).all(|(n, l)| *n >= l),
                    "marks went back: {last:?} -> {now:?}"
                );
                last = now;
                samples += 1;
                std::thread::yield_now();
            }
            samples
        })
    };
    let appenders: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let c = coord(format!("e{t}"), "s");
                for i in 0..PER_THREAD {
                    let r = store.submit(&c, K, &i).unwrap().wait().unwrap();
                    let f = store.frontier();
                    assert!(f.visible.covers_sequence(r.global_sequence));
                    assert!(f.visible.covers_hlc(r.hlc_point()));
                    assert!(f.written.covers_sequence(r.global_sequence));
                    if r.durable {
                        assert!(
                            f.durable.covers_sequence(r.global_sequence),
                            "durable receipt before durable mark"
                        );
                    }
                    assert_eq!(r.durable, mode == SyncMode::EveryGroup);
                }
            })
        })
        .collect();
    for a in appenders {
        a.join().unwrap();
    }
    done.store(true, Ordering::Release);
    assert!(sampler.join().unwrap() > 0);
    let total = (THREADS * PER_THREAD) as u64;
    store.sync().unwrap();
    let f = store.frontier();
    assert_eq!(marks(&f), [total; 4], "{mode:?}");
    assert_eq!(f.durable.hlc, f.visible.hlc);
}

#[test]
fn frontier_stays_ordered_under_concurrent_durable_appends() {
    run_ordering(SyncMode::EveryGroup);
}

#[test]
fn frontier_stays_ordered_under_concurrent_buffered_appends() {
    run_ordering(SyncMode::OsBuffered);
}

#[test]
fn frontier_stays_ordered_under_concurrent_interval_appends() {
    run_ordering(SyncMode::IntervalMs(2));
}

#[test]
fn wait_for_durable_returns_for_a_durable_receipt_and_times_out_for_the_future() {
    let (_dir, store) = temp_store();
    let c = coord("e", "s");
    let receipt = store.submit(&c, K, &1u8).unwrap().wait().unwrap();
    assert!(receipt.durable);
    let f = store
        .wait_for_durable(receipt.hlc_point(), Duration::from_secs(1))
        .unwrap();
    assert!(f.durable.covers_sequence(receipt.global_sequence));

    let far = HlcPoint::new(receipt.hlc_point().physical_ms + 3_600_000, 0);
    let start = Instant::now();
    match store.wait_for_durable(far, Duration::from_millis(50)) {
        Err(StoreError::WaitTimeout { what, waited_ms }) => {
            assert_eq!(what, "durable watermark");
            assert!(waited_ms >= 50, "{waited_ms}");
        }
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() >= Duration::from_millis(50));
    let err = store
        .wait_for_visible(far, Duration::from_millis(10))
        .unwrap_err();
    assert_eq!(err.handling_class(), HandlingClass::RetryableOperational);
}

#[test]
fn wait_for_durable_wakes_when_a_sync_makes_the_point_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(buffered(dir.path())).unwrap());
    let c = coord("e", "s");
    let receipt = store.append(&c, K, &1u8).unwrap();
    assert!(!receipt.durable);
    assert!(!store.frontier().durable.covers_hlc(receipt.hlc_point()));
    store
        .wait_for_visible(receipt.hlc_point(), Duration::from_secs(1))
        .unwrap();
    let waiter = {
        let store = store.clone();
        let point = receipt.hlc_point();
        std::thread::spawn(move || store.wait_for_durable(point, Duration::from_secs(30)))
    };
    std::thread::sleep(Duration::from_millis(30));
    store.sync().unwrap();
    let f = waiter.join().unwrap().unwrap();
    assert!(f.durable.covers_sequence(receipt.global_sequence));
}

#[test]
fn a_read_only_store_reports_what_it_holds() {
    let c = coord("e", "s");
    let (dir, store) = temp_store();
    let r = store.append(&c, K, &1u8).unwrap();
    let ro = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(marks(&ro.frontier()), [1; 4]);
    assert_eq!(ro.frontier().visible.hlc, r.hlc_point());
    store.append(&c, K, &2u8).unwrap();
    assert_eq!(marks(&ro.frontier()), [1; 4]);
    ro.refresh().unwrap();
    assert_eq!(marks(&ro.frontier()), [2; 4]);
}
