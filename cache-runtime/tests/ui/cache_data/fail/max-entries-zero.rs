use cache_runtime::cache_data;

#[cache_data(max_entries = 0)]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
