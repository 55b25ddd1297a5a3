use cache_runtime::cache_data;

#[cache_data(show_spinner = 3)]
fn numbered(x: u64) -> u64 {
    x
}

#[cache_data(show_spinner = "")]
fn empty_text(x: u64) -> u64 {
    x
}

#[cache_data(show_time = "yes")]
fn timed(x: u64) -> u64 {
    x
}

fn main() {
    let _ = (numbered(1), empty_text(1), timed(1));
}
