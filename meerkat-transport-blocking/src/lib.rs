//! The Meerkat Rust SDK over blocking (in progress; see DESIGN.md).
mod process;
