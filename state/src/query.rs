//! Typed query parameters and a Streamlit-like query map.
