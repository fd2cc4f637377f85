//! Asking the allocator (mimalloc, the binary's global allocator) to give
//! freed memory back to the system now.
//!
//! mimalloc returns freed pages after a short delay, but only when some
//! thread next calls into it past that delay. After a burst that frees a
//! great deal at once (compiling plugins: hundreds of MiB) an idle gateway
//! makes no such call, and kept that memory resident for as long as it
//! stayed idle.
//!
//! This module is allowed `unsafe` for the one foreign call.
#![allow(unsafe_code)]

/// Return the pages every thread's heap has freed, now. Cheap when there
/// is nothing to return; a no-op in effect where mimalloc is not the
/// global allocator (the library's own tests).
pub fn return_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any
    // thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
