// Not caught by the macro (it cannot see the `impl`'s generics): the
// generated `static` cannot name the impl's type parameter.
use cache_runtime::cache_data;
use serde::Serialize;

#[derive(Serialize)]
struct Wrapper<T>(T);

impl<T: Serialize + Clone + Send + Sync + 'static> Wrapper<T> {
    #[cache_data]
    fn get(&self) -> T {
        self.0.clone()
    }
}

fn main() {}
