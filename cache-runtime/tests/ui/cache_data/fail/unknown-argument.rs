use cache_runtime::cache_data;

#[cache_data(max_size = 10)]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
