use cache_runtime::cache_resource;

struct Connection;

#[cache_resource(ttl = "1h", validate_with = is_alive)]
fn connect(url: &str) -> Connection {
    let _ = url;
    Connection
}

fn main() {}
