use cache_runtime::cache_data;

fn is_fresh(_: &u64) -> bool {
    true
}

#[cache_data(validate = is_fresh)]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
