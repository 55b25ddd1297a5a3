use cache_runtime::cache_data;

#[cache_data]
struct Settings {
    verbose: bool,
}

fn main() {}
