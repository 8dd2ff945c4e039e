use batpak::prelude::*;

struct FromZero;
impl Upcast for FromZero {
    const KIND: EventKind = EventKind::custom(0xE, 1);
    const FROM: u16 = 0;
    fn upcast(value: batpak::rmpv::Value) -> Result<batpak::rmpv::Value, batpak::BoxError> {
        Ok(value)
    }
}
batpak::register_upcast!(FromZero);

fn main() {}
