use cache_runtime::cache_data;

#[cache_data]
fn double<T: Clone + std::ops::Add<Output = T>>(x: T) -> T {
    x.clone() + x
}

fn main() {}
