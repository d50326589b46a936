//! Gives the shared library a stable SONAME so programs linked against an installed copy
//! record `librpcx.so` rather than the path it was linked from.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" || os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librpcx.so");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
