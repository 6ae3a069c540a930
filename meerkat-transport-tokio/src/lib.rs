//! The Meerkat Rust SDK over tokio (in progress; see DESIGN.md).
