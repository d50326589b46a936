//! Link arguments of the shared library (ELF targets):
//! - a versioned SONAME, `librpcx.so.<major>` from the crate version, so that programs linked
//!   against an installed copy record the ABI they were built for; `make install` installs
//!   the file as `librpcx.so.<version>` with the symlinks `librpcx.so.<major>` and
//!   `librpcx.so`;
//! - `-z nodelete`: `dlclose` never unmaps librpcx, whose runtime threads keep running
//!   its code until the process exits;
//! - `-z start-stop-visibility=hidden`: linker-defined section bounds are not exported.
//!
//! Exports need no version script: rustc already exports only the `#[no_mangle] extern "C"`
//! functions of a cdylib (`tests/c/check_abi.sh` checks that they are all `rpcx_*`).
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" || os.ends_with("bsd") {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librpcx.so.{major}");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
        // Section bounds the linker defines (`__start_*`/`__stop_*` of the `linkme` slices a
        // dependency of the ZooKeeper client uses) stay inside the library instead of being
        // exported (GNU ld 2.37+, lld).
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,start-stop-visibility=hidden");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
