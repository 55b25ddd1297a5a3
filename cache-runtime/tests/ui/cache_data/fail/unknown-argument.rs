use cache_runtime::cache_data;

#[cache_data(capacity = 10)]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
