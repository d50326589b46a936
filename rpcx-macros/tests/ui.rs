//! Compile-fail tests: the common mistakes with `#[rpcx::service]` and `#[derive(Codable)]`
//! give errors that point at the offending item and say what to do. The expected compiler
//! output is in `ui/*.stderr` (regenerate with `TRYBUILD=overwrite` and review it).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
