//! Arguments named `_x` or marked `#[cache(skip)]` need not be `Serialize`.
#![deny(warnings)]
use cache_runtime::cache_data;

struct Logger;

#[cache_data]
fn double(x: u64, _log: &Logger, #[cache(skip)] trace: &Logger) -> u64 {
    let _ = trace;
    x * 2
}

fn main() {
    assert_eq!(double(2, &Logger, &Logger), 4);
    assert!(double::invalidate(2));
}
