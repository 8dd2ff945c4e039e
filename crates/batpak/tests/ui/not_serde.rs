use batpak::prelude::*;

#[derive(EventPayload)]
#[batpak(category = 0xE, type_id = 1)]
struct Payload {
    n: u64,
}

fn main() {}
