//! Typed session state, typed query parameters and a read-only request context
//! for axum/tower apps: the Rust counterpart of Streamlit's `st.session_state`,
//! `st.query_params` and `st.context`.

pub mod context;
pub mod query;
pub mod session;
