//! Writes the golden store used by `tests/golden_format.rs`, in the segment
//! format version this build writes:
//! `cargo run -p batpak --example write_golden -- fixtures/golden-v2`
//! (`fixtures/golden-v1` was written the same way by a version-1 build).
//!
//! Run it only when the segment format changes on purpose (with a new format
//! version and a CHANGELOG entry); the committed output guards the format.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use batpak::prelude::*;

/// The writer's lock file, named here on purpose: the name is not part of the
/// API, and these checks read the directory as a third party would.
const LOCK_FILE: &str = "LOCK";

#[path = "../tests/common/golden_json.rs"]
mod golden_json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: write_golden DIR")?);
    let store_dir = out.join("store");
    if store_dir.exists() {
        return Err(format!("{} exists; remove it first", store_dir.display()).into());
    }
    let store = Store::open(StoreConfig::new(&store_dir).with_segment_max_bytes(4096))?;
    let k1 = EventKind::custom(0xE, 0x001);
    let k2 = EventKind::custom(0xA, 0x7FF);
    let mut ids = Vec::new();
    for i in 0..24u32 {
        let c = Coordinate::new(format!("account:{}", i % 4), format!("tenant:{}", i % 2))?;
        let r = store.append(
            &c,
            if i % 3 == 0 { k2 } else { k1 },
            &serde_json::json!({"i": i, "note": "x".repeat(i as usize)}),
        )?;
        ids.push(r.event_id);
    }
    let opts = AppendOptions::default()
        .with_idempotency_key(IdempotencyKey::from_bytes(*b"golden-key-00001"))
        .with_correlation_id(CorrelationId::from_u128(0x00c0_ffee))
        .with_causation(CausationRef::Event(ids[0]));
    store.append_with_options(
        &Coordinate::new("account:0", "tenant:0")?,
        k1,
        &"with options",
        opts,
    )?;
    store.append_batch(vec![
        BatchAppendItem::new(
            Coordinate::new("order:1", "tenant:0")?,
            k2,
            &1u8,
            AppendOptions::default(),
            CausationRef::None,
        )?,
        BatchAppendItem::new(
            Coordinate::new("order:2", "tenant:1")?,
            k2,
            &[1u8, 2, 3],
            AppendOptions::default(),
            CausationRef::PriorItem(0),
        )?,
    ])?;
    let mut expected = Vec::new();
    for e in store.query(&Region::all()) {
        let raw = store.read_raw(e.event_id())?;
        expected.push(golden_json::describe(&raw));
    }
    store.close()?;
    std::fs::remove_file(store_dir.join(LOCK_FILE))?;
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&expected)? + "\n",
    )?;
    println!("wrote {} events to {}", expected.len(), out.display());
    Ok(())
}
