//! Implementation detail of the `cache-runtime` crate: the `#[cache_data]` and
//! `#[cache_resource]` attribute macros. Depend on `cache-runtime`, which
//! re-exports them with their documentation.
//!
//! Each macro runs in three phases: `args` and `item` parse the attribute
//! and the function into spanned models, `valid` checks rules that span
//! several parts (collecting every error), and `expand` generates code that
//! cannot fail. On any error the user's function is emitted unchanged next to
//! the errors, so callers and IDEs keep working.

mod args;
mod bytes;
mod duration;
mod expand;
mod item;
mod keys;
mod valid;

use proc_macro::TokenStream;

/// Memoizes a function; every caller gets its own clone of the value.
///
/// See the `cache-runtime` crate documentation for the full guide.
///
/// ```
/// # use cache_runtime::cache_data;
/// #[cache_data(ttl = "10m", max_entries = 1000)]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
/// assert_eq!(square(4), 16);
/// square::clear();
/// ```
#[proc_macro_attribute]
pub fn cache_data(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::cache(args::Macro::Data, args.into(), item.into()).into()
}

/// Memoizes a function returning a shared resource; every caller gets the same
/// `Arc<T>`.
///
/// See the `cache-runtime` crate documentation for the full guide.
///
/// ```
/// # use cache_runtime::cache_resource;
/// # use std::sync::Arc;
/// struct Model(Vec<f32>);
///
/// #[cache_resource]
/// fn model() -> Model {
///     Model(vec![0.0; 4])
/// }
/// assert!(Arc::ptr_eq(&model(), &model()));
/// ```
#[proc_macro_attribute]
pub fn cache_resource(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::cache(args::Macro::Resource, args.into(), item.into()).into()
}
