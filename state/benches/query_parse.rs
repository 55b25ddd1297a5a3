//! Parsing one 20-parameter query string into the same typed struct with
//! `state::query::from_str`, `serde_html_form::from_str` and
//! `serde_qs::from_str`, in one run.
//!
//! Run with: `cargo bench -p state --bench query_parse`

use criterion::{Criterion, criterion_group, criterion_main};
use serde::Deserialize;
use std::hint::black_box;

/// Twenty parameters: strings, numbers, booleans, options and one repeated key.
#[derive(Debug, Deserialize, PartialEq)]
struct Search {
    q: String,
    lang: String,
    region: Vec<String>,
    page: u32,
    per_page: u32,
    sort: String,
    order: String,
    show_all: bool,
    archived: bool,
    min_price: f64,
    max_price: f64,
    currency: String,
    category: Option<String>,
    brand: Option<String>,
    rating: Option<u8>,
    in_stock: bool,
    color: String,
    size: String,
    session: String,
    utm_source: Option<String>,
}

/// `region` appears once, so that serde_qs (which reads repeated keys only in
/// its `region[]=` / `region[0]=` forms) parses the same string.
const QUERY: &str = "q=red+running+shoes&lang=en-US&region=europe&page=3&per_page=50\
&sort=price&order=asc&show_all=true&archived=false&min_price=10.5&max_price=199.99\
&currency=EUR&category=sports%20%26%20outdoors&brand=acme&rating=4&in_stock=true\
&color=red&size=42&session=8f14e45fceea167a5a36dedd4bea2543&utm_source=newsletter";

fn bench(c: &mut Criterion) {
    let ours: Search = state::query::from_str(QUERY).expect("state parses");
    let html: Search = serde_html_form::from_str(QUERY).expect("serde_html_form parses");
    let qs: Search = serde_qs::from_str(QUERY).expect("serde_qs parses");
    assert_eq!(ours, html);
    assert_eq!(ours, qs);

    let mut group = c.benchmark_group("query_parse_20_params");
    group.bench_function("state::query", |b| {
        b.iter(|| state::query::from_str::<Search>(black_box(QUERY)))
    });
    group.bench_function("serde_html_form", |b| {
        b.iter(|| serde_html_form::from_str::<Search>(black_box(QUERY)))
    });
    group.bench_function("serde_qs", |b| {
        b.iter(|| serde_qs::from_str::<Search>(black_box(QUERY)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
