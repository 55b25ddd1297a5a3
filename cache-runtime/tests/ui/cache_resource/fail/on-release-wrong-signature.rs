use cache_runtime::cache_resource;

struct Connection;

fn close(_: &mut Connection) {}

#[cache_resource(on_release = close)]
fn connect(url: &str) -> Connection {
    let _ = url;
    Connection
}

fn main() {}
