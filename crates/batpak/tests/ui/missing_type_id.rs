use batpak::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, EventPayload)]
#[batpak(category = 0xE)]
struct Payload {
    n: u64,
}

fn main() {}
