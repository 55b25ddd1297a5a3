//! `async fn`, plain and returning `Result` with `?` in the body.
#![deny(warnings)]
use cache_runtime::cache_data;

#[cache_data(ttl = 60)]
async fn fetch(id: u32) -> String {
    format!("item-{id}")
}

#[cache_data]
async fn parse(text: String) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = text.parse()?;
    Ok(n * 2)
}

#[derive(serde::Serialize)]
struct Api {
    base: String,
}

impl Api {
    #[cache_data]
    async fn get(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(fetch(1).await, "item-1");
        assert_eq!(fetch(1).await, "item-1");
        assert_eq!(fetch::stats().hits, 1);
        assert_eq!(parse(String::from("21")).await, Ok(42));
        assert!(parse(String::from("x")).await.is_err());
        let api = Api {
            base: String::from("b"),
        };
        assert_eq!(api.get("p").await, "b/p");
        assert!(api.get_cache_invalidate("p"));
    });
}
