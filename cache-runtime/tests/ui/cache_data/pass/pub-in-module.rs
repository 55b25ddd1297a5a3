//! A `pub` cached function and its handle used from another module.
#![deny(warnings)]
mod reports {
    use cache_runtime::cache_data;

    /// Documented.
    #[cache_data(max_entries = 16)]
    pub fn weekly(week: u32) -> Vec<u32> {
        vec![week; 3]
    }
}

mod dashboard {
    pub fn show() -> usize {
        let rows = crate::reports::weekly(7);
        crate::reports::weekly::clear();
        let _ = crate::reports::weekly::invalidate(7);
        let _ = crate::reports::weekly::stats();
        rows.len()
    }
}

fn main() {
    assert_eq!(dashboard::show(), 3);
    reports::weekly::clear();
}
