use cache_runtime::cache_data;

fn bytes(value: &Vec<u8>) -> usize {
    value.len()
}

#[cache_data(size_with = bytes)]
fn chunk(x: u64) -> Vec<u8> {
    vec![0; x as usize]
}

fn main() {
    let _ = chunk(1);
}
