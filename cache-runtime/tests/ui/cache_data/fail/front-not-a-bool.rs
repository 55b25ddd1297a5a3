use cache_runtime::cache_data;

#[cache_data(front = "off")]
fn frame(day: u32) -> Vec<u8> {
    vec![day as u8; 1 << 20]
}

fn main() {
    frame(1);
    frame::clear();
}
