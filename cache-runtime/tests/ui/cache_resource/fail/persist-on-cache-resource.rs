use cache_runtime::cache_resource;

struct Connection;

#[cache_resource(persist = "disk")]
fn connect(url: &str) -> Connection {
    let _ = url;
    Connection
}

fn main() {}
