//! The binary's global allocator, mimalloc, and asking it to give freed
//! memory back to the system now.
//!
//! mimalloc returns freed pages after a short delay, but only when some
//! thread next calls into it past that delay. After a burst that frees a
//! great deal at once (compiling plugins: hundreds of MiB) an idle gateway
//! makes no such call, and kept that memory resident for as long as it
//! stayed idle.
//!
//! This module is allowed `unsafe` for the foreign calls.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};

/// The alignment every mimalloc block of this size or more has
/// (`MI_MAX_ALIGN_SIZE`, that of `max_align_t`); smaller blocks are
/// aligned to their own size class (8 bytes).
const NATURAL_ALIGNMENT: usize = 16;

/// mimalloc, asked for alignment only where its plain calls would not give
/// it. Its aligned calls take their fast path only for blocks of up to 1
/// KiB, and past that over-allocate and align by hand, even for an
/// alignment of 8: about 180 instructions more for every boxed future and
/// header table of a request, five or six a request.
pub struct Allocator;

/// Whether a plain mimalloc call already gives a block of `size` bytes
/// the alignment `align`: up to 16 bytes for a block at least that large.
fn naturally_aligned(align: usize, size: usize) -> bool {
    align <= NATURAL_ALIGNMENT && align <= size
}

// SAFETY: every block comes from mimalloc and goes back to it; a plain
// call is used only where mimalloc's blocks are aligned as `layout` asks
// (`naturally_aligned`), the aligned call everywhere else.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if naturally_aligned(layout.align(), layout.size()) {
            unsafe { mi_malloc(layout.size()).cast() }
        } else {
            unsafe { mi_malloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if naturally_aligned(layout.align(), layout.size()) {
            unsafe { mi_zalloc(layout.size()).cast() }
        } else {
            unsafe { mi_zalloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let ptr = ptr.cast::<c_void>();
        // The new block must have the alignment at its new size.
        if naturally_aligned(layout.align(), new_size) {
            unsafe { mi_realloc(ptr, new_size).cast() }
        } else {
            unsafe { mi_realloc_aligned(ptr, new_size, layout.align()).cast() }
        }
    }
}

/// Return the pages every thread's heap has freed, now. Cheap when there
/// is nothing to return; a no-op in effect where mimalloc is not the
/// global allocator (the library's own tests).
pub fn return_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any
    // thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of every size and alignment a program asks for come back
    /// aligned as asked, from fresh allocations and from growing and
    /// shrinking ones, zeroed where asked.
    #[test]
    fn every_block_has_the_alignment_its_layout_asks_for() {
        let allocator = Allocator;
        let sizes = [
            1, 2, 7, 8, 9, 15, 16, 17, 24, 40, 100, 1024, 1248, 4096, 70_000,
        ];
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
            for &size in &sizes {
                let layout = Layout::from_size_align(size, align).expect("a layout");
                // SAFETY: the layouts have a non-zero size; each block is
                // used within its size and freed once.
                unsafe {
                    let zeroed = allocator.alloc_zeroed(layout);
                    assert!(!zeroed.is_null());
                    assert_eq!(zeroed as usize % align, 0, "zeroed {size} by {align}");
                    assert!(
                        std::slice::from_raw_parts(zeroed, size)
                            .iter()
                            .all(|&b| b == 0)
                    );
                    allocator.dealloc(zeroed, layout);

                    let mut block = allocator.alloc(layout);
                    assert_eq!(block as usize % align, 0, "{size} by {align}");
                    block.write(7);
                    let mut current = layout;
                    for &new_size in sizes.iter().rev() {
                        block = allocator.realloc(block, current, new_size);
                        assert_eq!(block as usize % align, 0, "{size} to {new_size} by {align}");
                        assert_eq!(block.read(), 7, "contents kept");
                        current = Layout::from_size_align(new_size, align).expect("a layout");
                    }
                    allocator.dealloc(block, current);
                }
            }
        }
    }
}
