//! Compile-fail tests for typed session keys: `state/tests/ui/session/fail/*.rs`.
//!
//! Re-bless with `TRYBUILD=overwrite cargo test -p state --test ui_session` and
//! review the `.stderr` diff.

#[test]
#[cfg_attr(miri, ignore)]
fn ui_session() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/session/fail/*.rs");
}
