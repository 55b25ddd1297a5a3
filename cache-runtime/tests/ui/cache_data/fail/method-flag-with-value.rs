use cache_runtime::cache_data;

struct Db;

impl Db {
    #[cache_data(method = true)]
    fn version(build: u32) -> String {
        format!("v{build}")
    }
}

fn main() {}
