use cache_runtime::cache_data;

#[cache_data]
const fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
