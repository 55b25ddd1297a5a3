use cache_runtime::cache_data;

#[derive(serde::Serialize)]
struct Db;

impl Db {
    #[cache_data(method = true)]
    fn version(build: u32) -> String {
        format!("v{build}")
    }

    #[cache_data(generic = "yes")]
    fn name(&self) -> String {
        String::new()
    }
}

trait Named {
    fn label(&self) -> String;
}

impl Named for Db {
    #[cache_data(trait_impl(true))]
    fn label(&self) -> String {
        String::new()
    }
}

fn main() {}
