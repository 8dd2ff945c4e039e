//! Opens (or creates) a store in a local directory, appends a few events,
//! reads them back, and verifies the hash chain.
//!
//! `cargo run --release -p batpak --example quickstart -- ./data`
#![allow(clippy::print_stdout)]

use batpak::prelude::*;
use serde::{Deserialize, Serialize};

const DEPOSITED: EventKind = EventKind::custom(0xE, 0x001);
const WITHDRAWN: EventKind = EventKind::custom(0xE, 0x002);

#[derive(Debug, Serialize, Deserialize)]
struct Amount {
    cents: u64,
    memo: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "./data".to_owned());
    let store = Store::open(StoreConfig::new(&dir))?;
    let report = store.open_report();
    println!(
        "opened {dir}: {} events in {} segments",
        report.events, report.segments
    );
    if let Some(torn) = &report.torn_tail {
        println!(
            "recovered a torn tail: {} bytes dropped at {} in {}",
            torn.dropped_bytes,
            torn.offset,
            torn.segment.display()
        );
    }

    let account = Coordinate::new("account:alice", "bank:demo")?;
    let r1 = store.append(
        &account,
        DEPOSITED,
        &Amount {
            cents: 10_000,
            memo: "salary".into(),
        },
    )?;
    let r2 = store.append(
        &account,
        WITHDRAWN,
        &Amount {
            cents: 2_500,
            memo: "groceries".into(),
        },
    )?;
    println!(
        "appended #{} and #{} (durable: {})",
        r1.global_sequence, r2.global_sequence, r2.durable
    );
    assert_eq!(
        r2.prev_hash, r1.event_hash,
        "each event links to the previous one of its entity"
    );

    let mut balance: i64 = 0;
    for entry in store.by_entity("account:alice") {
        let ev: StoredEvent<Amount> = store.get_as(entry.event_id())?;
        let cents = ev.event.payload.cents as i64;
        balance += if entry.kind() == DEPOSITED {
            cents
        } else {
            -cents
        };
    }
    println!(
        "account:alice has {} events, balance {:.2}",
        store.by_entity("account:alice").len(),
        balance as f64 / 100.0
    );

    let chain = store.verify_chain()?;
    println!(
        "verify_chain: {} events rehashed, intact: {}",
        chain.events_checked,
        chain.is_intact()
    );
    store.close()?;
    Ok(())
}
