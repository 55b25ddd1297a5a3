use cache_runtime::cache_data;

// A type parameter must meet what a key needs (`Serialize`): said where the
// bound is missing.
#[cache_data]
fn double<T: Clone + std::ops::Add<Output = T>>(x: T) -> T {
    x.clone() + x
}

// What a value needs (`Clone + Send + Sync`) is checked per instantiation:
// one error, at the call that uses a type that falls short.
#[cache_data]
fn wrap<T: serde::Serialize + Clone>(x: T) -> Vec<T> {
    vec![x]
}

#[cache_data]
fn fixed<const N: usize>(x: u32) -> u32 {
    x + N as u32
}

fn main() {
    let _ = double(1u32);
    let _ = wrap(1u32);
    let _ = wrap(std::cell::Cell::new(1u32));
    let _ = fixed::<2>(1);
}
