use cache_runtime::cache_data;

#[cache_data(refresh_mode = "background")]
fn no_ttl(x: u64) -> u64 {
    x
}

#[cache_data(ttl = "5m", refresh_mode = "background", persist = "disk")]
fn persisted(x: u64) -> u64 {
    x
}

#[cache_data(ttl = "5m", max_stale = "1h")]
fn stale_in_foreground(x: u64) -> u64 {
    x
}

fn main() {
    let _ = (no_ttl(1), persisted(1), stale_in_foreground(1));
}
