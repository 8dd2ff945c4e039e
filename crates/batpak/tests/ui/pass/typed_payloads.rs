//! Every supported form compiles, and the derive needs no dependency but batpak and serde.
use batpak::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, EventPayload)]
#[batpak(category = 0xE, type_id = 1, version = 2)]
struct ThingHappened {
    id: u64,
    note: String,
}

#[derive(Serialize, Deserialize, EventPayload)]
#[batpak(type_id = 0xFFF, category = 15)]
enum Choice {
    A,
    B(u32),
}

#[derive(Serialize, Deserialize, EventPayload)]
#[batpak(category = 0x1, type_id = 0)]
#[batpak(version = 2)]
struct Split;

pub mod nested {
    #[derive(serde::Serialize, serde::Deserialize, batpak::EventPayload)]
    #[batpak(category = 0xC, type_id = 0x123)]
    pub struct Inner(pub u8);
}

struct ThingV1ToV2;
impl Upcast for ThingV1ToV2 {
    const KIND: EventKind = ThingHappened::KIND;
    const FROM: u16 = 1;
    fn upcast(value: batpak::rmpv::Value) -> Result<batpak::rmpv::Value, batpak::BoxError> {
        Ok(value)
    }
}
struct SplitV1ToV2;
impl Upcast for SplitV1ToV2 {
    const KIND: EventKind = Split::KIND;
    const FROM: u16 = 1;
    fn upcast(value: batpak::rmpv::Value) -> Result<batpak::rmpv::Value, batpak::BoxError> {
        Ok(value)
    }
}
batpak::register_upcast!(ThingV1ToV2, SplitV1ToV2,);

const _: () = {
    assert!(ThingHappened::KIND.as_u16() == 0xE001);
    assert!(ThingHappened::PAYLOAD_VERSION == 2);
    assert!(Choice::KIND.as_u16() == 0xFFFF);
    assert!(Choice::PAYLOAD_VERSION == 1);
    assert!(Split::KIND.as_u16() == 0x1000);
    assert!(Split::PAYLOAD_VERSION == 2);
    assert!(nested::Inner::KIND.as_u16() == 0xC123);
};

fn main() {
    let report = batpak::registry_report();
    assert_eq!(report.payloads().len(), 4);
    assert_eq!(report.upcasts().len(), 2);
    assert!(batpak::verify_registry().is_ok());
}
