//! Functions with lifetime parameters and `where` clauses; `'static` borrows in the return type.
#![deny(warnings)]
use cache_runtime::cache_data;

#[cache_data]
fn count<'a, 'b>(haystack: &'a str, needle: &'b str) -> usize
where
    'a: 'a,
{
    haystack.matches(needle).count()
}

#[cache_data]
fn label(code: u8) -> &'static str {
    if code == 0 { "ok" } else { "error" }
}

fn main() {
    assert_eq!(count("abab", "ab"), 2);
    assert!(count::invalidate("abab", "ab"));
    assert_eq!(label(0), "ok");
}
