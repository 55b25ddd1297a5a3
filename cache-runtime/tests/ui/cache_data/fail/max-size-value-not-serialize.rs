use cache_runtime::cache_data;

#[derive(Clone)]
struct Frame {
    pixels: Vec<u32>,
}

#[cache_data(max_size = "64MiB")]
fn render(seed: u32) -> Frame {
    Frame { pixels: vec![seed; 16] }
}

fn main() {
    let _ = render(1);
}
