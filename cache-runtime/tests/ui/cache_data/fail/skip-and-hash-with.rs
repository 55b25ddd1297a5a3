use cache_runtime::cache_data;

fn len(text: &String) -> usize {
    text.len()
}

#[cache_data]
fn shout(#[cache(skip, hash_with = len)] text: String) -> String {
    text.to_uppercase()
}

fn main() {}
