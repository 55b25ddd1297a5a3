// Known limitation: an associated function that neither takes `self` nor
// mentions `Self` looks like a free function to the macro, which then
// generates a companion struct inside the `impl`. Workaround: mention `Self`
// (e.g. `where Self: Sized`), see `pass/methods.rs`.
use cache_runtime::cache_data;

struct Client;

impl Client {
    #[cache_data]
    fn version() -> String {
        String::from("1.0")
    }
}

fn main() {}
