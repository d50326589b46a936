//! Extensible structs: a struct the caller allocates (on its stack, usually) that a later
//! version may lengthen starts with `size_t struct_size`, the size of the struct the caller
//! was compiled with. Its `*_init(&s, sizeof s)` function writes `struct_size` and the
//! defaults; rpcx then reads exactly `struct_size` bytes. A struct from an older header
//! (smaller, but at least the first version) gets defaults for the fields it lacks; one from a
//! newer header (larger) is accepted when every byte rpcx does not know is zero (those fields
//! left unset), and refused otherwise — as Linux's `openat2`/`clone3` treat their `size`.

use crate::error::Failure;
use crate::guard::{invalid_arg, null_arg};

/// Larger `struct_size` values are not sizes: an uninitialised struct.
const MAX_STRUCT_SIZE: usize = 4096;

/// A `#[repr(C)]` plain-data struct whose first field is `struct_size: usize`.
///
/// # Safety
/// Implementors are `#[repr(C)]`, start with a `usize` field, and every byte pattern is a
/// valid value of them (integers only, no pointers, references, enums or bools).
pub(crate) unsafe trait Extensible: Copy {
    /// The C name, for error messages.
    const NAME: &'static str;
    /// The size of the first version: a smaller `struct_size` is refused.
    const MIN_SIZE: usize;
    /// The defaults, with `struct_size` = `size_of::<Self>()`.
    fn defaults() -> Self;
}

fn check_size<T: Extensible>(struct_size: usize) -> Result<(), Failure> {
    if struct_size < T::MIN_SIZE || struct_size > MAX_STRUCT_SIZE {
        return Err(invalid_arg(format!(
            "rpcx: {name}.struct_size is {struct_size}: initialise the struct with \
             {name}_init(&s, sizeof s)",
            name = T::NAME
        )));
    }
    Ok(())
}

/// Writes the defaults into the caller's struct of `struct_size` bytes (zeroing the bytes of
/// fields this version does not know) and sets its `struct_size`.
///
/// # Safety
/// `ptr` is NULL or points to `struct_size` writable bytes, aligned for `T`.
pub(crate) unsafe fn init<T: Extensible>(ptr: *mut T, struct_size: usize) -> Result<(), Failure> {
    if ptr.is_null() {
        return Err(null_arg(T::NAME));
    }
    check_size::<T>(struct_size)?;
    let defaults = T::defaults();
    let known = struct_size.min(size_of::<T>());
    let dst = ptr.cast::<u8>();
    // SAFETY: `dst` has `struct_size` writable bytes (caller's contract) and `known` is at
    // most that; `defaults` is a `T` of `size_of::<T>()` bytes, at least `known`. The tail
    // `known..struct_size` is inside the caller's bytes as well.
    unsafe {
        std::ptr::copy_nonoverlapping((&raw const defaults).cast::<u8>(), dst, known);
        std::ptr::write_bytes(dst.add(known), 0, struct_size - known);
        // The first field, a usize (`Extensible`), at offset 0 and aligned.
        ptr.cast::<usize>().write(struct_size);
    }
    Ok(())
}

/// Reads the caller's struct: its first `struct_size` bytes over the defaults.
///
/// # Safety
/// `ptr` is NULL or points to an initialised struct whose `struct_size` field is readable
/// and, when it is a size in range, tells how many bytes are readable at `ptr`.
pub(crate) unsafe fn read<T: Extensible>(ptr: *const T) -> Result<T, Failure> {
    if ptr.is_null() {
        return Err(null_arg(T::NAME));
    }
    // SAFETY: a valid pointer to a struct starting with an aligned `usize` (caller's contract).
    let struct_size = unsafe { ptr.cast::<usize>().read() };
    check_size::<T>(struct_size)?;
    let known = struct_size.min(size_of::<T>());
    let src = ptr.cast::<u8>();
    // SAFETY: `struct_size` bytes are readable at `ptr` (caller's contract), so are the
    // `struct_size - known` bytes after the first `known`.
    let unknown = unsafe { std::slice::from_raw_parts(src.add(known), struct_size - known) };
    if unknown.iter().any(|&b| b != 0) {
        return Err(invalid_arg(format!(
            "rpcx: {} sets fields this librpcx ({}) does not know",
            T::NAME,
            env!("CARGO_PKG_VERSION")
        )));
    }
    let mut value = T::defaults();
    // SAFETY: `known` bytes are readable at `src` and fit in `value`; any byte pattern is a
    // valid `T` (`Extensible`).
    unsafe { std::ptr::copy_nonoverlapping(src, (&raw mut value).cast::<u8>(), known) };
    Ok(value)
}
