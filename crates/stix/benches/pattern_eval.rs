//! Pattern evaluation throughput (filled in below).
fn main() {}
