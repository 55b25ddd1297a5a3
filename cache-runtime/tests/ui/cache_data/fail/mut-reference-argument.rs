use cache_runtime::cache_data;

#[cache_data]
fn push_and_len(items: &mut Vec<u32>) -> usize {
    items.push(1);
    items.len()
}

fn main() {}
