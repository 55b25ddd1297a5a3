use cache_runtime::cache_data;

struct Client {
    base: String,
}

impl Client {
    #[cache_data]
    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }
}

fn main() {}
