use cache_runtime::cache_resource;

#[cache_resource(show_spinner = ["Connecting"])]
fn connect(x: u64) -> u64 {
    x
}

#[cache_resource(show_time = 1)]
fn timed(x: u64) -> u64 {
    x
}

fn main() {
    let _ = (connect(1), timed(1));
}
