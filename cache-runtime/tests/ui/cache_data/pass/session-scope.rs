#![deny(warnings)]

use cache_runtime::session::{InSessionExt, SessionScope, end_session};
use cache_runtime::{cache_data, cache_resource};

#[derive(Clone)]
struct Row(u32);

#[cache_data(scope = "session", ttl = "1m", max_entries = 100)]
fn rows(filter: &str, limit: u32) -> Vec<Row> {
    (0..limit).map(|i| Row(i + filter.len() as u32)).collect()
}

#[cache_data(scope = "global")]
fn shared(n: u8) -> u8 {
    n
}

#[cache_data(scope = "session")]
async fn fetch(id: u64) -> Result<String, std::io::Error> {
    Ok(id.to_string())
}

struct Conn;
fn close(_: &Conn) {}

#[cache_resource(scope = "session", on_release = close)]
fn connection(user: &str) -> Conn {
    let _ = user;
    Conn
}

struct Repo;

impl Repo {
    #[cache_data(scope = "session")]
    fn find(#[cache(skip)] &self, _verbose: bool, id: u32) -> u32 {
        id
    }
}

fn main() {
    let scope = SessionScope::new("tab");
    scope.run(|| {
        let _ = rows("a", 2).len() + usize::from(shared(1));
        let _ = connection("ann");
        let _ = Repo.find(false, 1);
        rows::invalidate("a", 2);
        rows::clear();
        Repo::find_cache_clear();
    });
    let _fetching = fetch(1).in_current_session();
    let _ = scope.run_async(fetch(2));
    end_session("tab");
}
