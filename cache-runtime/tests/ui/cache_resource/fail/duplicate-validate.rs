use cache_runtime::cache_resource;

struct Connection;

fn is_alive(_: &Connection) -> bool {
    true
}

#[cache_resource(validate = is_alive, validate = is_alive)]
fn connect(url: &str) -> Connection {
    let _ = url;
    Connection
}

fn main() {}
