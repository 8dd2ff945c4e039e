use batpak::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, EventPayload)]
#[batpak(type_id = 1)]
struct Payload {
    n: u64,
}

fn main() {}
