use cache_runtime::cache_data;

#[derive(Clone)]
struct Frame {
    pixels: Vec<u32>,
}

fn frame_bytes(frame: Frame) -> u64 {
    frame.pixels.len() as u64 * 4
}

#[cache_data(max_size = "64MiB", size_with = frame_bytes)]
fn render(seed: u32) -> Frame {
    Frame { pixels: vec![seed; 16] }
}

fn main() {
    let _ = render(1);
}
