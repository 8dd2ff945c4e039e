//! The verifiable log: the Merkle tree over the log, tree heads in the heads
//! file, proofs, and what a head lets open detect (a log shorter than a
//! head is lost history, never silent).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use batpak::format::{segment_file_name, SegmentReader, HEADS_FILE, TREE_DIR};
use batpak::prelude::*;
use batpak::proofbat::{self, leaf_hash, SigningKey};
use common::{coord, segments};
use proptest::prelude::*;

const K: EventKind = EventKind::custom(0xE, 0x19);

fn key() -> SigningKey {
    SigningKey::from_bytes(&[19; 32])
}

fn config(dir: &Path) -> StoreConfig {
    StoreConfig::new(dir)
        .with_signing_key(key())
        .with_log_origin("test.example/log")
        .with_segment_max_bytes(4096)
}

/// A store of `n` events over several entities (about 300 bytes each, so
/// 4 KiB segments seal every dozen or so).
fn build(dir: &Path, n: usize) -> Vec<AppendReceipt> {
    let store = Store::open(config(dir)).unwrap();
    let receipts = (0..n)
        .map(|i| {
            let payload = format!("{i:04}{}", "x".repeat(280));
            store
                .append(&coord(format!("e:{}", i % 5), "s"), K, &payload)
                .unwrap()
        })
        .collect();
    store.close().unwrap();
    receipts
}

#[test]
fn heads_are_recorded_at_each_seal_and_at_close_and_checked_at_reopen() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 60);
    let sealed = segments(dir.path()).len() - 1;
    assert!(sealed >= 3, "the test needs several sealed segments");
    let store = Store::open_read_only(config(dir.path())).unwrap();
    let report = store.open_report();
    // One head per seal and one at close (a seal at close records one head).
    assert!(report.heads_checked as usize > sealed, "{report:?}");
    assert_eq!(
        report.tree_leaves_from_log, 0,
        "the tree files were complete"
    );
    assert_eq!(report.history_lost, None);
    let head = store.latest_head().unwrap();
    assert_eq!(head.size(), 60);
    assert_eq!(*head.root(), store.tree_root(60).unwrap());
    assert_eq!(head.public_key(), Some(key().verifying_key().to_bytes()));
    let checked = proofbat::verify_note(
        head.note().unwrap(),
        "test.example/log",
        &key().verifying_key(),
    )
    .unwrap();
    assert_eq!(&checked, head.checkpoint());
    assert_eq!(head.text(), head.note().unwrap());
}

#[test]
fn the_tree_is_the_rfc_6962_tree_of_the_event_hashes_in_commit_order() {
    let dir = tempfile::tempdir().unwrap();
    let receipts = build(dir.path(), 45);
    let leaves: Vec<[u8; 32]> = receipts.iter().map(|r| leaf_hash(&r.event_hash)).collect();
    let store = Store::open(config(dir.path())).unwrap();
    for size in [0u64, 1, 2, 16, 17, 44, 45] {
        assert_eq!(
            store.tree_root(size).unwrap(),
            proofbat::root_of(&leaves[..size as usize]),
            "size {size}"
        );
    }
    let err = store.tree_root(46).unwrap_err();
    assert_eq!(err.code(), "tree_size_out_of_range");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_proof_verifies_and_any_changed_byte_fails(n in 1usize..70, m_frac in 0.0f64..=1.0, pick in 0usize..1000, flip in 0usize..4096) {
        let dir = tempfile::tempdir().unwrap();
        let receipts = build(dir.path(), n);
        let store = Store::open(config(dir.path())).unwrap();
        let head = store.signed_head().unwrap();
        prop_assert_eq!(head.size(), n as u64);
        let vk = key().verifying_key();
        let checkpoint = proofbat::verify_note(head.note().unwrap(), "test.example/log", &vk).unwrap();
        // Inclusion of one event against the signed head.
        let r = &receipts[pick % n];
        let proof = store.prove_inclusion(r.event_id, head.size()).unwrap();
        prop_assert_eq!(proof.leaf_index, r.global_sequence);
        prop_assert_eq!(proof.leaf_hash, leaf_hash(&r.event_hash));
        proof.verify_against(&checkpoint).unwrap();
        // Consistency from an older size.
        let m = ((n as f64) * m_frac) as u64;
        let cons = store.prove_consistency(m, n as u64).unwrap();
        prop_assert_eq!(cons.new_root, *checkpoint.root());
        prop_assert_eq!(cons.old_root, store.tree_root(m).unwrap());
        cons.verify().unwrap();
        // One changed byte anywhere fails.
        if !proof.audit_path.is_empty() {
            let mut bad = proof.clone();
            let i = flip % (bad.audit_path.len() * 32);
            bad.audit_path[i / 32][i % 32] ^= 1;
            prop_assert!(bad.verify_against(&checkpoint).is_err());
        }
        let mut bad = proof.clone();
        bad.leaf_hash[flip % 32] ^= 0x80;
        prop_assert!(bad.verify_against(&checkpoint).is_err());
        let mut bad = cons.clone();
        bad.new_root[flip % 32] ^= 1;
        prop_assert!(bad.verify().is_err() || m == 0);
        if !cons.proof.is_empty() {
            let mut bad = cons.clone();
            let i = flip % (bad.proof.len() * 32);
            bad.proof[i / 32][i % 32] ^= 1;
            prop_assert!(bad.verify().is_err());
        }
        let note = head.note().unwrap().as_bytes().to_vec();
        let mut bad = note.clone();
        let i = flip % bad.len();
        bad[i] ^= 1;
        if let Ok(text) = std::str::from_utf8(&bad) {
            prop_assert!(proofbat::verify_note(text, "test.example/log", &vk).is_err());
        }
    }
}

#[test]
fn a_proof_asked_beyond_the_log_or_before_the_event_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let receipts = build(dir.path(), 5);
    let store = Store::open_read_only(config(dir.path())).unwrap();
    let last = &receipts[4];
    assert_eq!(
        store.prove_inclusion(last.event_id, 6).unwrap_err().code(),
        "tree_size_out_of_range"
    );
    assert_eq!(
        store.prove_inclusion(last.event_id, 4).unwrap_err().code(),
        "tree_size_out_of_range",
        "a tree of 4 events does not hold the fifth"
    );
    assert_eq!(
        store.prove_consistency(3, 2).unwrap_err().code(),
        "tree_size_out_of_range"
    );
    assert_eq!(
        store
            .prove_inclusion(EventId::from_u128(7), 5)
            .unwrap_err()
            .code(),
        "not_found"
    );
}

#[test]
fn heads_come_on_an_interval_while_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        StoreConfig::new(dir.path()).with_head_interval(Some(Duration::from_millis(30))),
    )
    .unwrap();
    store.append(&coord("a", "s"), K, &1u8).unwrap();
    let mut waited = 0;
    while store.latest_head().map(|h| h.size()) != Some(1) {
        assert!(waited < 500, "no interval head after {waited} polls");
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }
    let head = store.latest_head().unwrap();
    assert_eq!(
        head.note(),
        None,
        "a store without a key records unsigned heads"
    );
    assert_eq!(head.text(), head.checkpoint().body());
    assert_eq!(head.checkpoint().origin(), "batpak/unsigned");
}

#[test]
fn a_deleted_newest_segment_is_lost_history_reported_at_every_open() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 40);
    let segs = segments(dir.path());
    std::fs::remove_file(segs.last().unwrap()).unwrap();
    // Under FailClosed: refused, naming the heads file.
    let err = Store::open(config(dir.path()).with_tail_policy(TailPolicy::FailClosed)).unwrap_err();
    assert_eq!(err.code(), "log_below_head", "{err}");
    assert!(err.to_string().contains(HEADS_FILE), "{err}");
    // A reader reports it and changes nothing.
    let ro = Store::open_read_only(config(dir.path())).unwrap();
    let lost = ro.open_report().history_lost.unwrap();
    assert_eq!(lost.head_size, 40);
    assert!(lost.log_size < 40);
    drop(ro);
    // The default policy opens, reports it, and records the loss.
    let store = Store::open(config(dir.path())).unwrap();
    let lost = store.open_report().history_lost.unwrap();
    assert!(lost.found_now);
    let kept = store.len();
    assert_eq!(lost.log_size, kept);
    assert!(store.latest_head().is_none_or(|h| h.size() <= kept));
    store
        .append(&coord("a", "s"), K, &"after the loss")
        .unwrap();
    store.close().unwrap();
    // Later opens still say so, and the heads after the loss bind again.
    let store = Store::open(config(dir.path())).unwrap();
    let lost = store.open_report().history_lost.unwrap();
    assert!(!lost.found_now);
    assert_eq!((lost.head_size, lost.log_size), (40, kept));
    assert_eq!(store.latest_head().unwrap().size(), kept + 1);
}

/// Strips the footer of sealed segment `path` and cuts it after its first
/// `keep` frames: a segment as if the writer never wrote the rest.
fn cut_to_frames(path: &Path, keep: usize) -> u64 {
    let seg = SegmentReader::open(path).unwrap();
    let end = seg
        .frames()
        .map(|f| f.unwrap())
        .take(keep)
        .map(|f| f.offset() + f.frame_len() as u64)
        .last()
        .unwrap();
    drop(seg);
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(end).unwrap();
    end
}

#[test]
fn the_last_segment_cut_at_a_frame_boundary_is_lost_history() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 40);
    let last = segments(dir.path()).last().unwrap().clone();
    cut_to_frames(&last, 1);
    let err = Store::open(config(dir.path()).with_tail_policy(TailPolicy::FailClosed)).unwrap_err();
    assert_eq!(err.code(), "log_below_head", "{err}");
    let store = Store::open_read_only(config(dir.path())).unwrap();
    assert_eq!(store.open_report().history_lost.unwrap().head_size, 40);
}

#[test]
fn durable_frames_zeroed_into_space_written_ahead_are_lost_history() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 40);
    let last = segments(dir.path()).last().unwrap().clone();
    let seg = SegmentReader::open(&last).unwrap();
    let frames: Vec<(u64, usize)> = seg
        .frames()
        .map(|f| f.unwrap())
        .map(|f| (f.offset(), f.frame_len()))
        .collect();
    let frames_end = seg.frames_end();
    drop(seg);
    assert!(frames.len() >= 2);
    // Footer gone, and the last frames zeroed: what zeros written ahead look like.
    let mut bytes = std::fs::read(&last).unwrap();
    bytes.truncate(frames_end as usize);
    let from = frames[1].0 as usize;
    bytes[from..].fill(0);
    std::fs::write(&last, &bytes).unwrap();
    let err = Store::open(config(dir.path()).with_tail_policy(TailPolicy::FailClosed)).unwrap_err();
    assert_eq!(err.code(), "log_below_head", "{err}");
    let ro = Store::open_read_only(config(dir.path())).unwrap();
    assert!(
        ro.open_report().preallocated_bytes > 0,
        "the zeros read as space written ahead"
    );
    assert_eq!(ro.open_report().history_lost.unwrap().head_size, 40);
}

#[test]
fn a_rewritten_tree_file_is_found_by_the_heads_check_or_by_the_proof() {
    let dir = tempfile::tempdir().unwrap();
    let receipts = build(dir.path(), 40);
    let level0 = dir.path().join(TREE_DIR).join("level-00");
    let mut bytes = std::fs::read(&level0).unwrap();
    // Leaf 3 (records follow a 16-byte header).
    bytes[16 + 3 * 32] ^= 1;
    std::fs::write(&level0, &bytes).unwrap();
    match Store::open(config(dir.path())) {
        // The heads check reads only a few records: a leaf it does not read
        // is found when a proof passes through it.
        Ok(store) => {
            let err = store.prove_inclusion(receipts[3].event_id, 40).unwrap_err();
            assert_eq!(err.code(), "tree_corrupt", "{err}");
            let check = store
                .verify_against_head(store.latest_head().unwrap().checkpoint())
                .unwrap();
            assert_eq!(check.first_tree_mismatch, Some(3));
            assert!(check.extends_head(store.latest_head().unwrap().checkpoint()));
        }
        Err(e) => assert_eq!(e.code(), "head_mismatch", "{e}"),
    }
}

#[test]
fn a_rewritten_heads_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 20);
    let path = dir.path().join(HEADS_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    // The first record's root (after its 8-byte prefix, kind and size), with its CRC fixed.
    let body_len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    bytes[16 + 8 + 9] ^= 1;
    let crc = crc32fast::hash(&bytes[24..24 + body_len]);
    bytes[20..24].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(config(dir.path())).unwrap_err();
    assert_eq!(err.code(), "head_mismatch", "{err}");
    let err = Store::open_read_only(config(dir.path())).unwrap_err();
    assert_eq!(err.code(), "head_mismatch", "{err}");
}

#[test]
fn tree_files_lost_or_damaged_are_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 30);
    let root = Store::open_read_only(config(dir.path()))
        .unwrap()
        .tree_root(30)
        .unwrap();
    // A bad header: rebuilt, and the heads still match.
    let level0 = dir.path().join(TREE_DIR).join("level-00");
    let mut bytes = std::fs::read(&level0).unwrap();
    bytes[0] = b'X';
    std::fs::write(&level0, &bytes).unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    let report = store.open_report();
    assert!(report.tree_rebuilt);
    assert_eq!(report.tree_leaves_from_log, 30);
    assert_eq!(store.tree_root(30).unwrap(), root);
    store.close().unwrap();
    // The whole directory gone: rebuilt too.
    std::fs::remove_dir_all(dir.path().join(TREE_DIR)).unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    assert_eq!(store.open_report().tree_leaves_from_log, 30);
    assert_eq!(store.tree_root(30).unwrap(), root);
    // The tail past the last head, cut from the files: rebuilt from the log.
    store.close().unwrap();
    let len = std::fs::metadata(&level0).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&level0)
        .unwrap()
        .set_len(len - 32 * 3)
        .unwrap();
    let store = Store::open_read_only(config(dir.path())).unwrap();
    assert_eq!(store.open_report().tree_leaves_from_log, 3);
    assert_eq!(store.tree_root(30).unwrap(), root);
}

#[test]
fn a_reader_beside_a_live_writer_proves_what_it_sees() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(store.append(&coord("a", "s"), K, &i).unwrap().event_id);
    }
    let ro = Store::open_read_only(config(dir.path())).unwrap();
    assert_eq!(ro.tree_size(), 25);
    for i in 25..50 {
        ids.push(store.append(&coord("a", "s"), K, &i).unwrap().event_id);
    }
    ro.refresh().unwrap();
    assert_eq!(ro.tree_size(), 50);
    assert_eq!(ro.tree_root(50).unwrap(), store.tree_root(50).unwrap());
    let proof = ro.prove_inclusion(ids[40], 50).unwrap();
    proof.verify().unwrap();
    let _ = segment_file_name(1);
}

#[test]
fn a_tail_cut_below_the_last_head_fails_closed_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        store.append(&coord("a", "s"), K, &"single").unwrap();
        let items = (0..3)
            .map(|i| {
                BatchAppendItem::new(
                    coord("b", "s"),
                    K,
                    &i,
                    AppendOptions::default(),
                    CausationRef::None,
                )
                .unwrap()
            })
            .collect();
        store.append_batch(items).unwrap();
        assert_eq!(store.signed_head().unwrap().size(), 4);
        store.close().unwrap();
    }
    // The batch's last frame cut short, footer gone: to recovery it looks
    // like a batch torn by a crash, but a head covers it.
    let seg = segments(dir.path())[0].clone();
    let reader = SegmentReader::open(&seg).unwrap();
    let last = reader.frames().map(|f| f.unwrap()).last().unwrap();
    let cut = last.offset() + last.frame_len() as u64 - 5;
    drop(reader);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(cut)
        .unwrap();
    for policy in [TailPolicy::RecoverTornTail, TailPolicy::FailClosed] {
        let err = Store::open(StoreConfig::new(dir.path()).with_tail_policy(policy)).unwrap_err();
        assert!(
            matches!(
                &err,
                StoreError::CorruptSegment {
                    reason: batpak::Corruption::CutBelowCommitted { committed: 4, .. },
                    ..
                }
            ),
            "{policy:?}: {err}"
        );
        assert!(err.to_string().contains(".seg"), "names the segment: {err}");
    }
    assert_eq!(
        std::fs::metadata(&seg).unwrap().len(),
        cut,
        "nothing was cut"
    );
}

#[test]
fn an_unsigned_head_keeps_its_origin_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(dir.path()).with_log_origin("audit.example/unsigned-log");
    let store = Store::open(cfg).unwrap();
    store.append(&coord("a", "s"), K, &1u8).unwrap();
    let head = store.signed_head().unwrap();
    assert_eq!((head.note(), head.public_key()), (None, None));
    store.close().unwrap();
    // Read back with the default configuration: the heads file says the origin.
    let ro = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    let head = ro.latest_head().unwrap();
    assert_eq!(head.checkpoint().origin(), "audit.example/unsigned-log");
    assert_eq!(head.text(), head.checkpoint().body());
    assert_eq!((head.size(), *head.root()), (1, ro.tree_root(1).unwrap()));
}

#[test]
fn a_receipt_is_checked_against_a_signed_head_with_an_inclusion_proof() {
    let dir = tempfile::tempdir().unwrap();
    let receipts = build(dir.path(), 12);
    let store = Store::open_read_only(config(dir.path())).unwrap();
    let head = store.latest_head().unwrap();
    let checkpoint = proofbat::verify_note(
        head.note().unwrap(),
        "test.example/log",
        &key().verifying_key(),
    )
    .unwrap();
    // The receipt travels as portable JSON and still proves its event.
    let receipt = AppendReceipt::from_json(&receipts[5].to_json()).unwrap();
    let proof = store
        .prove_inclusion(receipt.event_id, head.size())
        .unwrap();
    assert!(proof.proves_receipt(&receipt, &checkpoint));
    // Another event's receipt, or a receipt with another hash, does not.
    assert!(!proof.proves_receipt(&receipts[6], &checkpoint));
    let mut forged = receipt.clone();
    forged.event_hash[0] ^= 1;
    assert!(!proof.proves_receipt(&forged, &checkpoint));
    // Nor does a head of another size.
    let smaller =
        proofbat::Checkpoint::new("test.example/log", 11, store.tree_root(11).unwrap()).unwrap();
    assert!(!proof.proves_receipt(&receipt, &smaller));
}

/// A failed fsync of a tree level file loses the pages it could not write
/// (later fsyncs do not bring them back, as on Linux). The tree must write
/// them again before a head covers them: after a crash, the next open
/// finds every recorded head equal to the tree's root, never a rewritten
/// history.
#[cfg(feature = "sim")]
#[test]
fn a_failed_tree_fsync_never_leaves_a_head_over_records_that_are_not_on_disk() {
    use batpak::sim::{FaultKind, FaultPlan, OpClass, SimFs};
    use std::sync::Arc;
    const DIR: &str = "/sim/tree-fsync";
    let cfg = |sim: &SimFs| config(Path::new(DIR)).with_fs(Arc::new(sim.clone()));
    let run = |sim: &SimFs| {
        let store = Store::open(cfg(sim)).unwrap();
        let mut acked = Vec::new();
        for i in 0..60usize {
            let payload = format!("{i:04}{}", "x".repeat(280));
            match store.append(&coord(format!("e:{}", i % 5), "s"), K, &payload) {
                Ok(r) => acked.push(r.event_id),
                Err(_) => break,
            }
        }
        let _ = store.close();
        acked
    };
    let dry = SimFs::with_plan(FaultPlan::none(3));
    dry.start_trace();
    run(&dry);
    let tree_syncs: Vec<u64> = dry
        .take_trace()
        .iter()
        .filter(|t| t.op == OpClass::Sync && t.path.to_str().unwrap().contains("/tree/"))
        .map(|t| t.nth)
        .collect();
    assert!(tree_syncs.len() >= 4, "{tree_syncs:?}");
    for torn in [false, true] {
        for &nth in &tree_syncs {
            let sim = SimFs::with_plan(FaultPlan::none(3).with_torn_crash(torn));
            sim.arm(FaultKind::FailSync, nth);
            let acked = run(&sim);
            sim.crash();
            let what = format!("tree fsync #{nth} failed, torn {torn}");
            let store = Store::open(cfg(&sim)).unwrap_or_else(|e| panic!("{what}: {e}"));
            let ids: Vec<EventId> = store
                .query(&Region::all())
                .iter()
                .map(|e| e.event_id())
                .collect();
            assert!(ids.starts_with(&acked), "{what}");
            let head = store.latest_head().unwrap();
            let v = store.verify_against_head(head.checkpoint()).unwrap();
            assert!(v.extends_head(head.checkpoint()), "{what}: {v:?}");
            assert!(store.verify_chain().unwrap().is_intact(), "{what}");
        }
    }
}
