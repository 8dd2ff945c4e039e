use batpak::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, EventPayload)]
#[batpak(category = 0xE, type_id = 0x1000)]
struct Payload {
    n: u64,
}

fn main() {}
