//! Compile-time checks of `#[derive(EventPayload)]` and `register_upcast!`:
//! every misuse is a compile error with a message at the offending key or type.

#[test]
fn event_payload_derive_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/*.rs");
}
