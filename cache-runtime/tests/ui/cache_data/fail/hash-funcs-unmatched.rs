use cache_runtime::cache_data;

mod db {
    pub struct Connection {
        pub url: String,
    }
}
use db::Connection;

fn conn_key(conn: &Connection) -> String {
    conn.url.clone()
}

// A typo.
#[cache_data(hash_funcs(Conection = conn_key))]
fn count(conn: &Connection) -> usize {
    conn.url.len()
}

// More segments than the parameter writes: the macro cannot know that
// `Connection` is `db::Connection`.
#[cache_data(hash_funcs(db::Connection = conn_key))]
fn size(conn: Option<&Connection>) -> usize {
    conn.map_or(0, |c| c.url.len())
}

fn by_url(conn: &&Connection) -> String {
    conn.url.clone()
}

// The only `Connection` has its own `hash_with`, which wins.
#[cache_data(hash_funcs(Connection = conn_key))]
fn width(#[cache(hash_with = by_url)] conn: &Connection, _other: &Connection) -> usize {
    conn.url.len()
}

struct Pool {
    url: String,
}

fn pool_key(pool: &Pool) -> String {
    pool.url.clone()
}

impl Pool {
    // `self` is never matched.
    #[cache_data(hash_funcs(Pool = pool_key))]
    fn tables(&self, limit: u32) -> usize {
        self.url.len() + limit as usize
    }
}

fn main() {
    let conn = Connection { url: String::new() };
    let _ = count(&conn) + size(Some(&conn)) + width(&conn, &conn);
    let pool = Pool { url: String::new() };
    let _ = pool.tables(1);
}
