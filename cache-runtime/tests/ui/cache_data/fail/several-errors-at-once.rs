use cache_runtime::cache_data;

#[cache_data(expiry = 10, ttl = "10")]
fn push_and_len(items: &mut Vec<u32>) -> usize {
    items.push(1);
    items.len()
}

fn main() {}
