use batpak::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, EventPayload)]
#[batpak(category = 0xE, type_id = 1)]
struct Payload<T> {
    n: T,
}

fn main() {}
