use batpak::prelude::*;
use serde::Serialize;

#[derive(Serialize, EventPayload)]
#[batpak(category = 0xE, type_id = 1)]
struct Payload {
    n: u64,
}

fn main() {}
