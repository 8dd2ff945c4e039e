use batpak::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, EventPayload)]
#[batpak(category = 0xE, type_id = 1, category = 0xA)]
struct Payload {
    n: u64,
}

fn main() {}
