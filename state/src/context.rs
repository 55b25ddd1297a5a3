//! The read-only request context.
