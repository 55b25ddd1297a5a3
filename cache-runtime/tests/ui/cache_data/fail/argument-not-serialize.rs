use cache_runtime::cache_data;

struct Connection;

#[cache_data]
fn count_rows(table: &str, conn: &Connection) -> u64 {
    let _ = conn;
    table.len() as u64
}

fn main() {}
