//! The engine's Rust allocations during a request come in order from one region (`bump.rs`).
//!
//! Rust's allocator here is wasi-libc's `malloc`. After pre-initialisation its free lists hold
//! chunks all over the snapshot's heap (the scratch that compiling the polyfills freed), so the
//! dozens of small buffers a request makes in Rust (the decoded request, header strings, call
//! arguments, the encoded response) would land on pages scattered over that heap, and freeing
//! them would write chunk headers there too.
//!
//! While a request runs, [`RequestArena`] cuts them from a [`Region`] instead. Allocations
//! larger than [`LARGEST`], or past the region's end, go to `malloc` as before; so does
//! everything at pre-initialisation, whose allocations live on in the snapshot.

use crate::bump::{self, MAX_ALIGN, Region};
use std::alloc::{GlobalAlloc, Layout, System};

/// The region's size. Untouched pages of it cost nothing (they are zero in the image).
const ARENA_BYTES: usize = 256 * 1024;
/// Larger allocations (a request body, say) go to `malloc`.
const LARGEST: usize = 32 * 1024;

pub struct RequestArena(Region<ARENA_BYTES>);

#[global_allocator]
static ARENA: RequestArena = RequestArena(Region::new());

impl RequestArena {
    /// A block from the region, or null.
    fn bump(&self, layout: Layout) -> *mut u8 {
        if !bump::serving() || layout.size() > LARGEST || layout.align() > MAX_ALIGN {
            return std::ptr::null_mut();
        }
        self.0
            .take(layout.size(), layout.align())
            .map_or(std::ptr::null_mut(), |(block, _)| block)
    }
}

// SAFETY: every block handed out is either a `System` block (and goes back to `System`) or a
// range of the region that no other live block overlaps (`Region::take`).
unsafe impl GlobalAlloc for RequestArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = self.bump(layout);
        if !ptr.is_null() {
            return ptr;
        }
        // SAFETY: forwarded from this function's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if self.0.contains(ptr) {
            self.0.give_back(ptr, layout.size());
        } else {
            // SAFETY: a block outside the region came from `System` with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.0.contains(ptr) {
            // SAFETY: a block outside the region came from `System` with this layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // The last block shrinks or grows where it is when the region has room; any other
        // shrinks where it is.
        if (new_size <= LARGEST && self.0.resize_last(ptr, layout.size(), new_size))
            || new_size <= layout.size()
        {
            return ptr;
        }
        // SAFETY: `layout.align()` is valid and `new_size` is non-zero, by this function's
        // contract.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as in `alloc`.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct, and at least this long.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            // SAFETY: `ptr` is a live region block with this layout.
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }
}
