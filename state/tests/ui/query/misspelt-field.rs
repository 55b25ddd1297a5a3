use serde::Deserialize;
use state::Query;

#[derive(Deserialize)]
struct Filters {
    page: Option<u32>,
}

async fn handler(Query(filters): Query<Filters>) -> String {
    format!("{:?}", filters.pgae)
}

fn main() {
    let _ = handler;
}
