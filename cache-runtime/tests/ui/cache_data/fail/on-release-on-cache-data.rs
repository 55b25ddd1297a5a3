use cache_runtime::cache_data;

fn release(_: &u64) {}

#[cache_data(on_release = release)]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
