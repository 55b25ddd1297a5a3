use cache_runtime::cache_data;
use serde::Serialize;

#[derive(Serialize)]
struct Counter {
    count: u64,
}

impl Counter {
    #[cache_data]
    fn bump(&mut self) -> u64 {
        self.count += 1;
        self.count
    }
}

fn main() {}
