// Without the `trait_impl` flag (the macro cannot see the `impl` it is in),
// the generated `*_cache_clear`, `*_cache_warm`, `*_cache_invalidate`,
// `*_cache_stats` and `__cache_*` functions are not members of the trait:
// write `#[cache_data(trait_impl)]`.
use cache_runtime::cache_data;
use serde::Serialize;

trait Area {
    fn area(&self) -> u32;
}

#[derive(Serialize)]
struct Square(u32);

impl Area for Square {
    #[cache_data]
    fn area(&self) -> u32 {
        self.0 * self.0
    }
}

fn main() {}
