use cache_runtime::cache_data;

struct Connection {
    url: String,
}

struct Url(String);

fn url_of(conn: &&Connection) -> Url {
    Url(conn.url.clone())
}

#[cache_data]
fn count_rows(#[cache(hash_with = url_of)] conn: &Connection) -> usize {
    conn.url.len()
}

fn main() {}
