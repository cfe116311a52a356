//! Placeholder so the workspace manifest parses; the CEL engineer replaces it with the real benchmark.
fn main() {}
