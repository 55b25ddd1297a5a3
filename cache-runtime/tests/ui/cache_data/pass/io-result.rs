//! `io::Result<T>` (an alias named `Result`) caches only `Ok` values.
#![deny(warnings)]
use cache_runtime::cache_data;
use std::io;

#[cache_data]
fn read_config(path: &str) -> io::Result<String> {
    if path.is_empty() {
        return Err(io::Error::other("empty path"));
    }
    Ok(format!("config of {path}"))
}

#[cache_data]
fn unit_result(flag: bool) -> Result<(), String> {
    if flag {
        Ok(())
    } else {
        Err(String::from("no"))
    }
}

fn main() {
    assert!(read_config("").is_err());
    assert_eq!(read_config("a").unwrap(), "config of a");
    assert_eq!(read_config::stats().entries, 1);
    assert!(unit_result(true).is_ok());
}
