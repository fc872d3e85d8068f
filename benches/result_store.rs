//! Result-store benchmark (being written).
fn main() {}
