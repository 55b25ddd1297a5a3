use cache_runtime::cache_data;

#[cache_data(max_entries = 100, max_size = "1MiB")]
fn chunk(x: u64) -> Vec<u8> {
    vec![0; x as usize]
}

fn main() {
    let _ = chunk(1);
}
