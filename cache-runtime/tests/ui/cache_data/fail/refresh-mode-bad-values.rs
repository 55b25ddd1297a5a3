use cache_runtime::cache_data;

#[cache_data(ttl = "5m", refresh_mode = "lazy")]
fn lazy(x: u64) -> u64 {
    x
}

#[cache_data(ttl = "5m", refresh_mode = true)]
fn flag(x: u64) -> u64 {
    x
}

#[cache_data(ttl = "5m", refresh_mode = "background", max_stale = "soon")]
fn bad_stale(x: u64) -> u64 {
    x
}

fn main() {
    let _ = (lazy(1), flag(1), bad_stale(1));
}
