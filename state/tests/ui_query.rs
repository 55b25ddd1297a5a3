//! Compile-fail tests for typed query parameters: a misspelt field name is a
//! compile error, because parameters are plain struct fields.
//!
//! Re-bless with `TRYBUILD=overwrite cargo test -p state --test ui_query` and
//! review the diff.

#[test]
fn ui_query() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/query/*.rs");
}
