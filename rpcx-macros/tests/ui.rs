//! Compile-fail tests: the common mistakes with `#[rpcx::service]` and `#[derive(Codable)]`
//! give errors that point at the offending item and say what to do. The expected compiler
//! output is in `ui/*.stderr` (regenerate with `TRYBUILD=overwrite` and review it).
//!
//! The errors the macros write themselves (`compile_error!`) are compared on any compiler.
//! The cases whose output is rustc's own trait-bound diagnostics (`error[E…]`, whose wording
//! and notes change between compiler releases) are compared only on the release the files
//! were generated with, [`GENERATED_WITH`]; on another one the test says it skipped them.

/// The `rustc --version` prefix the `.stderr` files of the rustc-diagnostic cases match.
const GENERATED_WITH: &str = "rustc 1.95.";

/// Cases whose expected output is the macros' own error text.
const MACRO_ERRORS: &[&str] = &[
    "two_arguments",
    "mut_self",
    "client_name_clash",
    "duplicate_name",
];

/// Cases whose expected output includes rustc's trait-bound diagnostics.
const RUSTC_ERRORS: &[&str] = &[
    "non_codable_argument",
    "neither_serde_nor_prost",
    "bad_return",
];

fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[test]
fn ui() {
    // Every case file is in one of the lists.
    let mut files: Vec<String> = std::fs::read_dir("tests/ui")
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    files.sort();
    let mut listed: Vec<String> = MACRO_ERRORS
        .iter()
        .chain(RUSTC_ERRORS)
        .map(|s| s.to_string())
        .collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "tests/ui cases and the lists in ui.rs differ"
    );

    let t = trybuild::TestCases::new();
    for case in MACRO_ERRORS {
        t.compile_fail(format!("tests/ui/{case}.rs"));
    }
    let version = rustc_version();
    if version.starts_with(GENERATED_WITH) {
        for case in RUSTC_ERRORS {
            t.compile_fail(format!("tests/ui/{case}.rs"));
        }
    } else {
        eprintln!(
            "SKIP {RUSTC_ERRORS:?}: their .stderr holds {GENERATED_WITH}x diagnostics, this is {}",
            version.trim()
        );
    }
}
