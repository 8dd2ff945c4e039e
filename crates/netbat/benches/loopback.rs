//! Loopback benchmark (filled in later).
fn main() {}
