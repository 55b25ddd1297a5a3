use cache_runtime::cache_data;

#[cache_data]
fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or("")
}

fn main() {}
