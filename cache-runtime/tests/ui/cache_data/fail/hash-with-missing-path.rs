use cache_runtime::cache_data;

#[cache_data]
fn shout(#[cache(hash_with)] text: String) -> String {
    text.to_uppercase()
}

fn main() {}
