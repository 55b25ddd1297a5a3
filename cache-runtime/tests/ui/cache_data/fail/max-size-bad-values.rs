use cache_runtime::cache_data;

#[cache_data(max_size = "500")]
fn no_unit(x: u64) -> u64 {
    x
}

#[cache_data(max_size = "5 parsecs")]
fn unknown_unit(x: u64) -> u64 {
    x
}

#[cache_data(max_size = 0)]
fn zero(x: u64) -> u64 {
    x
}

#[cache_data(max_size = -1)]
fn negative(x: u64) -> u64 {
    x
}

#[cache_data(max_size = true)]
fn flag(x: u64) -> u64 {
    x
}

#[cache_data(max_size = 1.5)]
fn fraction(x: u64) -> u64 {
    x
}

fn main() {
    // The handles still exist: the attribute's error is the only one.
    no_unit::clear();
    let _ = (no_unit(1), unknown_unit(1), zero(1), negative(1), flag(1), fraction(1));
}
