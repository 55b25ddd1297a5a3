use cache_runtime::cache_resource;

struct Connection;

#[cache_resource(refresh_mode = "background")]
fn connect(url: &str) -> Connection {
    let _ = url;
    Connection
}

fn main() {
    let _ = connect("db://main");
}
