use cache_runtime::cache_data;

#[cache_data(ttl = 0)]
fn square(x: u64) -> u64 {
    x * x
}

#[cache_data(ttl = "0s")]
fn cube(x: u64) -> u64 {
    x * x * x
}

fn main() {}
