use cache_runtime::cache_data;

struct Report {
    lines: Vec<String>,
}

#[cache_data]
fn report(day: u32) -> Report {
    Report {
        lines: vec![day.to_string()],
    }
}

fn main() {}
