use cache_runtime::cache_data;

fn my_number() -> u8 {
    5
}

// `persist` takes a `Persist` or an `Option<Persist>`, not a number.
#[cache_data(persist = my_number())]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
