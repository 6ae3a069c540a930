//! Placeholder: the fake rkat-rpc comes next.

fn main() {}
