use cache_runtime::cache_resource;

#[cache_resource(scope = "tab")]
fn per_tab(x: u64) -> u64 {
    x
}

#[cache_resource(scope = true)]
fn flag(x: u64) -> u64 {
    x
}

fn main() {
    let _ = (per_tab(1), flag(1));
}
