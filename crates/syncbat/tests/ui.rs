//! Compile errors of `#[operation]`, pinned by `.stderr` goldens in `tests/ui/`.

#[test]
fn operation_macro_misuse_is_a_compile_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
