use cache_runtime::cache_data;

// A type parameter must meet what a key and a value need (`Serialize`;
// `Clone + Send + Sync`): said where the bounds are missing.
#[cache_data]
fn double<T: Clone + std::ops::Add<Output = T>>(x: T) -> T {
    x.clone() + x
}

struct Grid;

impl Grid {
    #[cache_data]
    fn cell<T: Default>(&self, #[cache(skip)] _hint: u8) -> u32 {
        0
    }
}

#[cache_data]
fn fixed<const N: usize>(x: u32) -> u32 {
    x + N as u32
}

fn main() {
    let _ = double(1u32);
    let _ = Grid.cell::<u8>(0);
    let _ = fixed::<2>(1);
}
