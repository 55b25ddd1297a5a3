use cache_runtime::cache_data;

// Streamlit's `persist=True` spelling.
#[cache_data(persist = true)]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {}
