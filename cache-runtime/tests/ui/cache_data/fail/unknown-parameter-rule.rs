use cache_runtime::cache_data;

#[cache_data]
fn square(#[cache(foo)] x: u64) -> u64 {
    x * x
}

fn main() {}
