use cache_runtime::cache_data;
use serde::Serialize;

#[derive(Clone, Serialize)]
struct Point {
    x: i64,
    y: i64,
}

impl Point {
    #[cache_data]
    fn doubled(&self) -> Self {
        Point {
            x: self.x * 2,
            y: self.y * 2,
        }
    }
}

fn main() {}
