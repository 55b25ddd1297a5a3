use cache_runtime::cache_data;
use serde::Serialize;

#[derive(Serialize)]
struct Filter {
    region: String,
}

// `Filter` is not `Clone`: the refresh cannot keep its own copy.
#[cache_data(ttl = "5m", refresh_mode = "background")]
fn rows(filter: Filter) -> Vec<String> {
    vec![filter.region]
}

// A borrow nested in an owned type cannot be copied for later.
#[cache_data(ttl = "5m", refresh_mode = "background")]
fn names(prefix: Option<&str>) -> Vec<String> {
    prefix.map(str::to_owned).into_iter().collect()
}

#[derive(Serialize)]
struct Repo;

impl Repo {
    #[cache_data(ttl = "5m", refresh_mode = "background")]
    fn find(&self, id: u32) -> String {
        id.to_string()
    }
}

fn main() {}
