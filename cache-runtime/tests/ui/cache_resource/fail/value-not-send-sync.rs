use cache_runtime::cache_resource;
use std::rc::Rc;

#[cache_resource]
fn shared_names() -> Rc<Vec<String>> {
    Rc::new(vec![String::from("a")])
}

fn main() {}
