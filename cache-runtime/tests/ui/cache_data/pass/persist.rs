#![deny(warnings)]
use cache_runtime::cache_data;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
struct Report {
    total: u64,
}

#[cache_data(persist = "disk", ttl = "1d", name = "reports::by_id")]
fn report(id: u64) -> Result<Report, String> {
    Ok(Report { total: id })
}

#[cache_data(persist = "disk")]
async fn thumbnail(path: String, width: u32) -> Vec<u8> {
    format!("{path}@{width}").into_bytes()
}

fn main() {
    let _ = report(1);
    let _ = thumbnail("a.png".into(), 64);
    report::clear();
}
