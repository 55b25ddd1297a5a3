use cache_runtime::cache_data;

#[cache_data]
fn describe(value: impl std::fmt::Display) -> String {
    value.to_string()
}

fn main() {}
