use cache_runtime::cache_data;

#[derive(Clone)]
struct Report {
    total: u64,
}

#[cache_data(persist = "disk")]
fn report(id: u64) -> Report {
    Report { total: id }
}

fn main() {}
