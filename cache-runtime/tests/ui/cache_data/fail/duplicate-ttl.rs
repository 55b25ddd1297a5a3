use cache_runtime::cache_data;

#[cache_data(ttl = "10m", ttl = "1h")]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
