//! A cached function declared inside another function, using a module-level type.
#![deny(warnings)]
use cache_runtime::cache_data;

#[derive(Clone, Debug, PartialEq)]
struct Total(u64);

fn main() {
    #[cache_data]
    fn total(values: Vec<u64>) -> Total {
        Total(values.iter().sum())
    }

    assert_eq!(total(vec![1, 2, 3]), Total(6));
    assert_eq!(total(vec![1, 2, 3]), Total(6));
    assert_eq!(total::stats().hits, 1);
    total::clear();
}
