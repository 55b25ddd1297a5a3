use cache_runtime::cache_data;

#[cache_data(scope = "user")]
fn per_user(x: u64) -> u64 {
    x
}

#[cache_data(scope = session)]
fn unquoted(x: u64) -> u64 {
    x
}

#[cache_data(scope = "session", persist = "disk")]
fn persisted(x: u64) -> u64 {
    x
}

fn main() {
    let _ = (per_user(1), unquoted(1), persisted(1));
}
