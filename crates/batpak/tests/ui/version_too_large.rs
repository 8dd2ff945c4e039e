use batpak::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, EventPayload)]
#[batpak(category = 0xE, type_id = 1, version = 65536)]
struct Payload {
    n: u64,
}

fn main() {}
