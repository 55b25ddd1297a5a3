//! Compile-fail and compile-pass UI tests for `#[cache_data]` and
//! `#[cache_resource]`. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p cache-runtime --test compiletest`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/cache_data/fail/*.rs");
    t.compile_fail("tests/ui/cache_resource/fail/*.rs");
    t.pass("tests/ui/*/pass/*.rs");
}
