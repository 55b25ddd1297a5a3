//! Per-browser session state with compile-time checked keys.
