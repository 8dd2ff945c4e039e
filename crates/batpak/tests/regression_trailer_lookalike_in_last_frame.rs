//! Regression: an active segment that ended exactly at a frame whose last attestation string (a bypass reason) ended in `BATPAKFT` was taken for a sealed segment, so the store refused to open (writer and read-only), and a reason that carried a whole footer and trailer made the segment load from that footer: its real events vanished from the index and the writer cut the file where the footer claimed to start. The last segment is now loaded from its footer only if the frames it lists are the frames on disk; otherwise its frames are scanned.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use batpak::format::{SegmentReader, FOOTER_MAGIC, SEGMENT_HEADER_LEN, TRAILER_LEN};
use batpak::prelude::*;
use batpak::{BypassReason, GateSet, Pipeline, Proposal};
use common::{
    coord, crash_image, footer_span, frame_starts, live_image, segments, small_segments,
    ROTATING_PAYLOAD_LEN,
};

const K: EventKind = EventKind::custom(0xE, 1);

/// Commits `payload` through a bypass with this ticket and reason.
fn bypass(
    store: &Store,
    coordinate: &Coordinate,
    payload: Proposal,
    ticket: &str,
    reason: &str,
) -> AppendReceipt {
    let pipeline: Pipeline<()> = Pipeline::new(GateSet::new());
    let approved = pipeline
        .bypass(payload, BypassReason::new(ticket, reason))
        .unwrap();
    pipeline.commit(store, coordinate, approved).unwrap()
}

/// Every receipt's event is readable, in order, and the chain verifies.
fn check_events(store: &batpak::StoreReader, receipts: &[AppendReceipt]) {
    assert_eq!(store.len(), receipts.len() as u64);
    for (i, r) in receipts.iter().enumerate() {
        let got = store.get(r.event_id).unwrap();
        assert_eq!(got.event.header.global_sequence, i as u64, "{r:?}");
        assert!(store.verify_append_receipt(r).is_valid(), "{r:?}");
    }
    assert!(store.verify_chain().unwrap().is_intact());
}

/// A crash image taken right after `fill`, and `fill`'s receipts: the last
/// segment ends (the zeros written ahead gone) at the frame `fill`
/// committed last, which must end in the magic.
fn image_ending_at_last_frame(
    cfg: impl Fn(&std::path::Path) -> StoreConfig,
    fill: impl FnOnce(&Store) -> Vec<AppendReceipt>,
) -> (tempfile::TempDir, Vec<AppendReceipt>) {
    let live = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(live.path())).unwrap();
    let receipts = fill(&store);
    let image = crash_image(live.path());
    store.close().unwrap();
    let last = segments(image.path()).pop().unwrap();
    let bytes = std::fs::read(&last).unwrap();
    assert_eq!(
        bytes[bytes.len() - FOOTER_MAGIC.len()..],
        FOOTER_MAGIC,
        "the active segment ends in the magic"
    );
    (image, receipts)
}

#[test]
fn a_last_frame_whose_bypass_reason_ends_in_the_magic_opens_and_takes_appends() {
    // The bytes in front of the magic read as a footer length that leaves
    // the file, and as one that places a one-byte footer under a wrong CRC.
    for reason in ["rolled back by hand BATPAKFT", "\u{1}\0\0\0crc!BATPAKFT"] {
        let (image, mut receipts) = image_ending_at_last_frame(small_segments, |store| {
            let big = "x".repeat(ROTATING_PAYLOAD_LEN);
            let mut receipts: Vec<_> = (0..7)
                .map(|i| {
                    store
                        .append(&coord(format!("e{}", i % 2), "s"), K, &big)
                        .unwrap()
                })
                .collect();
            let proposal = Proposal::new(K, &"late fix").unwrap();
            receipts.push(bypass(store, &coord("e0", "s"), proposal, "INC-9", reason));
            receipts
        });
        let dir = image.path();
        assert!(segments(dir).len() >= 3, "sealed segments come first");
        let last = segments(dir).pop().unwrap();
        let before = std::fs::read(&last).unwrap();

        for policy in [TailPolicy::RecoverTornTail, TailPolicy::FailClosed] {
            let ro = Store::open_read_only(small_segments(dir).with_tail_policy(policy)).unwrap();
            check_events(ro.reader(), &receipts);
            assert_eq!(ro.open_report().torn_tail, None);
            assert!(ro.open_report().rebuilt_footers.is_empty());
            assert_eq!(
                ro.open_report().segments_from_footer,
                segments(dir).len() - 1,
                "the sealed segments still load from their footers"
            );
            let bypasses = ro.bypasses().unwrap();
            assert_eq!(bypasses.last().unwrap().reason, reason);
        }
        assert_eq!(
            std::fs::read(&last).unwrap(),
            before,
            "read-only changed nothing"
        );

        let store = Store::open(small_segments(dir)).unwrap();
        check_events(store.reader(), &receipts);
        assert!(store.open_report().rebuilt_footers.is_empty());
        assert_eq!(
            std::fs::read(&last).unwrap(),
            before,
            "the writer open cut nothing"
        );
        receipts.push(store.append(&coord("e1", "s"), K, &"after").unwrap());
        store.close().unwrap();

        let again = Store::open(small_segments(dir)).unwrap();
        check_events(again.reader(), &receipts);
        assert_eq!(again.bypasses().unwrap().last().unwrap().reason, reason);
    }
}

#[test]
fn a_torn_last_frame_cut_right_after_the_magic_in_its_payload_is_a_torn_tail() {
    let (image, mut receipts) = live_image(|store| {
        (0..3)
            .map(|i| {
                let payload = format!("note {i}: see BATPAKFT and more after it");
                store.append(&coord("e", "s"), K, &payload).unwrap()
            })
            .collect::<Vec<_>>()
    });
    let dir = image.path();
    let seg = segments(dir).pop().unwrap();
    let whole = std::fs::read(&seg).unwrap();
    let last_start = *frame_starts(&whole).last().unwrap();
    // A write cut short inside the last frame, just after the magic.
    let cut = last_start + find(&whole[last_start..], &FOOTER_MAGIC) + FOOTER_MAGIC.len();
    std::fs::write(&seg, &whole[..cut]).unwrap();
    receipts.pop();

    let err =
        Store::open(StoreConfig::new(dir).with_tail_policy(TailPolicy::FailClosed)).unwrap_err();
    assert!(matches!(err, StoreError::TornTail { .. }), "{err:?}");
    let ro = Store::open_read_only(StoreConfig::new(dir)).unwrap();
    check_events(ro.reader(), &receipts);
    drop(ro);
    let store = Store::open(StoreConfig::new(dir)).unwrap();
    let torn = store.open_report().torn_tail.clone().expect("reported");
    assert_eq!(torn.offset, last_start as u64);
    assert!(!torn.damaged);
    check_events(store.reader(), &receipts);
    assert_eq!(std::fs::read(&seg).unwrap(), whole[..last_start]);
}

/// Ticket of the crafted bypass: it ends in `0xCD 0x90`, which with the
/// reason's string header `0xB0` after it reads as a msgpack uint16.
const TICKET: &str = "T\u{350}";
/// The frame bytes between the payload and the reason's bytes: the
/// attestation `[2, [ticket, reason]]` up to the 16-byte reason's header.
const ATTESTATION_HEAD: [u8; 8] = [0x92, 0x02, 0x92, 0xa3, b'T', 0xcd, 0x90, 0xb0];

/// A footer (as docs/FORMAT.md lays it out) that claims to start at `at` in
/// the only segment and lists frames of these lengths (adding up to
/// `at - SEGMENT_HEADER_LEN`), all of entity `x…` in scope `s`. Its last 8
/// bytes are [`ATTESTATION_HEAD`]: its first bytes go at the end of a bin
/// payload, the frame's own bytes follow, and the 16-byte reason is its
/// trailer. Returns `(payload, reason)`.
fn crafted(at: u64, lengths: &[u64]) -> (Vec<u8>, String) {
    assert_eq!(lengths.iter().sum::<u64>(), at - SEGMENT_HEADER_LEN as u64);
    let u16be = |v: u64| u16::try_from(v).unwrap().to_be_bytes();
    // The entity name pads the footer to a length whose bytes are UTF-8;
    // the salt (in the first event id) gives a CRC whose bytes are.
    for pad in 1..=120usize {
        for salt in 0u8..=255 {
            let mut body = vec![0x98, 0x01, 0x00, 0xcd];
            body.extend_from_slice(&u16be(at));
            // hlc; one entity [name, tip]; one scope
            body.extend_from_slice(&[0x00, 0x00, 0x91, 0x92, 0xd9, pad as u8]);
            body.extend_from_slice("x".repeat(pad).as_bytes());
            body.extend_from_slice(&[0xc4, 0x20]);
            body.extend_from_slice(&[7; 32]);
            body.extend_from_slice(&[0x91, 0xa1, b's', 0x90 | lengths.len() as u8]);
            for (i, &len) in lengths.iter().enumerate() {
                // frame_len, event id, entity sequence, kind, entity,
                // scope, wall_ms, no correlation
                body.extend_from_slice(&[0x9a, 0xcd]);
                body.extend_from_slice(&u16be(len));
                body.extend_from_slice(&[0xc4, 0x10, salt, i as u8]);
                body.extend_from_slice(&[9; 14]);
                body.extend_from_slice(&[i as u8, 0x01, 0x00, 0x00, 0x00, 0xc0]);
                if i + 1 < lengths.len() {
                    // no causation, payload version 1
                    body.extend_from_slice(&[0xc0, 0x01]);
                }
            }
            // The last entry's causation id swallows the frame's bytes up
            // to the reason; its payload version is the ticket's end.
            body.extend_from_slice(&[0xc4, 0x10]);
            body.extend_from_slice(&[5; 11]);
            body.extend_from_slice(&ATTESTATION_HEAD);
            let crc = crc32fast::hash(&body);
            let mut trailer = (body.len() as u32).to_le_bytes().to_vec();
            trailer.extend_from_slice(&crc.to_le_bytes());
            trailer.extend_from_slice(&FOOTER_MAGIC);
            // The reason is a string: its bytes must be UTF-8.
            if let Ok(reason) = String::from_utf8(trailer) {
                let payload = body[..body.len() - ATTESTATION_HEAD.len()].to_vec();
                return (payload, reason);
            }
        }
    }
    panic!("no padding and salt give a trailer of UTF-8 bytes");
}

/// Where `needle` starts in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("the payload is in the segment")
}

/// Three plain events, then a bypass whose payload and reason carry a
/// footer built by `crafted` from the lengths `list` picks (given the
/// lengths of the three frames and the footer's offset). Returns a crash
/// image ending at the bypass frame, the receipts and the footer's offset.
fn crafted_store(
    list: impl Fn(&[u64], u64) -> Vec<u64>,
) -> (tempfile::TempDir, Vec<AppendReceipt>, u64) {
    // The footer must claim the offset at which its first byte lands; that
    // follows from the frame layout, so learn it (and the lengths of the
    // frames in front) from a first try.
    let mut layout: Option<(Vec<u64>, u64)> = None;
    for _ in 0..3 {
        let (lengths, at) = layout.clone().unwrap_or((vec![300; 3], 1000));
        let (payload, reason) = crafted(at, &list(&lengths, at));
        let (image, receipts) = image_ending_at_last_frame(
            |d| StoreConfig::new(d),
            |store| {
                let mut receipts: Vec<_> = (0..3)
                    .map(|i| store.append(&coord("e", "s"), K, &i).unwrap())
                    .collect();
                let proposal = Proposal::new(K, serde_bytes::Bytes::new(&payload)).unwrap();
                receipts.push(bypass(store, &coord("e", "s"), proposal, TICKET, &reason));
                receipts
            },
        );
        let bytes = std::fs::read(segments(image.path()).pop().unwrap()).unwrap();
        let starts = frame_starts(&bytes);
        let found = (
            starts.windows(2).map(|w| (w[1] - w[0]) as u64).collect(),
            find(&bytes, &payload) as u64,
        );
        if layout.as_ref() == Some(&found) {
            return (image, receipts, found.1);
        }
        layout = Some(found);
    }
    panic!("the frame layout moved between tries: {layout:?}");
}

#[test]
fn a_bypass_reason_that_carries_a_whole_footer_loses_no_event() {
    let spanning: &dyn Fn(&[u64], u64) -> Vec<u64> = &|_, at| vec![at - SEGMENT_HEADER_LEN as u64];
    // Every listed frame but the last is a real one.
    let partial: &dyn Fn(&[u64], u64) -> Vec<u64> = &|real, at| {
        let mut v = real.to_vec();
        v.push(at - SEGMENT_HEADER_LEN as u64 - real.iter().sum::<u64>());
        v
    };
    for (list, listed) in [(spanning, 1), (partial, 4)] {
        let (image, mut receipts, at) = crafted_store(list);
        let dir = image.path();
        let seg = segments(dir).pop().unwrap();
        let before = std::fs::read(&seg).unwrap();
        // The attacker's view: the file ends in a footer that decodes and
        // claims to start where it lies.
        assert_eq!(footer_span(&before).start as u64, at);
        let view = SegmentReader::from_bytes(before.clone()).unwrap();
        let footer = view.footer().unwrap().expect("a footer that decodes");
        assert_eq!(footer.frames_end(), at);
        assert_eq!(footer.entries().count(), listed);

        let ro = Store::open_read_only(StoreConfig::new(dir)).unwrap();
        check_events(ro.reader(), &receipts);
        assert_eq!(ro.open_report().segments_from_footer, 0);
        drop(ro);

        let store = Store::open(StoreConfig::new(dir)).unwrap();
        check_events(store.reader(), &receipts);
        receipts.push(store.append(&coord("e", "s"), K, &"after").unwrap());
        store.close().unwrap();
        let after = std::fs::read(&seg).unwrap();
        assert_eq!(
            after[..before.len()],
            before[..],
            "every byte of the frames is still there"
        );

        let again = Store::open(StoreConfig::new(dir)).unwrap();
        check_events(again.reader(), &receipts);
        let last = again.bypasses().unwrap().pop().unwrap();
        assert_eq!(last.ticket, TICKET);
    }
}

/// A closed store of several sealed segments; returns the receipts.
fn sealed_store(dir: &std::path::Path) -> Vec<AppendReceipt> {
    let store = Store::open(small_segments(dir)).unwrap();
    let big = "x".repeat(ROTATING_PAYLOAD_LEN);
    let receipts = (0..8)
        .map(|i| {
            store
                .append(&coord(format!("e{}", i % 3), "s"), K, &big)
                .unwrap()
        })
        .collect();
    store.close().unwrap();
    receipts
}

#[test]
fn a_damaged_trailer_before_the_last_segment_still_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    sealed_store(dir.path());
    let segs = segments(dir.path());
    assert!(segs.len() >= 3, "{segs:?}");
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    // A footer length that reaches into the header.
    let at = bytes.len() - TRAILER_LEN;
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(&segs[0], &bytes).unwrap();
    for err in [
        Store::open_read_only(small_segments(dir.path())).unwrap_err(),
        Store::open(small_segments(dir.path())).unwrap_err(),
    ] {
        assert!(
            matches!(&err, StoreError::CorruptSegment { segment, .. } if *segment == segs[0]),
            "{err:?}"
        );
    }
    assert_eq!(std::fs::read(&segs[0]).unwrap(), bytes, "nothing changed");
}

#[test]
fn a_damaged_footer_of_the_last_sealed_segment_is_still_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let receipts = sealed_store(dir.path());
    let last = segments(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    let span = footer_span(&bytes);
    bytes[span.start + span.len() / 2] ^= 0x20;
    std::fs::write(&last, &bytes).unwrap();

    let ro = Store::open_read_only(small_segments(dir.path())).unwrap();
    assert_eq!(ro.open_report().rebuilt_footers, vec![last.clone()]);
    check_events(ro.reader(), &receipts);
    drop(ro);
    let store = Store::open(small_segments(dir.path())).unwrap();
    assert_eq!(store.open_report().rebuilt_footers, vec![last.clone()]);
    assert_eq!(store.open_report().torn_tail, None);
    check_events(store.reader(), &receipts);
    store.close().unwrap();
    let again = Store::open(small_segments(dir.path())).unwrap();
    assert!(again.open_report().rebuilt_footers.is_empty());
    check_events(again.reader(), &receipts);
}

#[test]
fn an_intact_last_sealed_segment_loads_from_its_index_file_without_a_frame_scan() {
    let dir = tempfile::tempdir().unwrap();
    let receipts = sealed_store(dir.path());
    let n = segments(dir.path()).len();
    let store = Store::open_read_only(small_segments(dir.path())).unwrap();
    let report = store.open_report();
    // The last one too: its index file is bound to its footer.
    assert_eq!(report.segments_from_footer, 0);
    assert_eq!(report.segments_from_index_file, n);
    assert_eq!(store.open_report().frames_scanned, 0);
    check_events(store.reader(), &receipts);
}
