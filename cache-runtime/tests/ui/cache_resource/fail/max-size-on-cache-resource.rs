use cache_runtime::cache_resource;

struct Model {
    weights: Vec<f32>,
}

#[cache_resource(max_size = "1GiB")]
fn model(name: &str) -> Model {
    Model { weights: vec![name.len() as f32] }
}

fn main() {
    let _ = model("small").weights.len();
}
