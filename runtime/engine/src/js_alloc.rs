//! QuickJS's allocator: during a request, its blocks come in order from one region
//! (`bump.rs`), and freeing them does nothing.
//!
//! QuickJS's own small-block arenas, and wasi-libc's `malloc` behind them, reuse free blocks
//! spread over the snapshot's heap: a request's objects, and the free-list updates when they
//! die, landed on pages all over it, each copied back at the slot's reset. Here (QuickJS is
//! built without its arenas: `runtime/host/build.rs`) a request's blocks are cut from a
//! [`Region`]; a block of the snapshot's freed during the request is left as it is too (its
//! free would write `malloc`'s lists). What does not fit in the region comes from `malloc` and
//! is freed for real, so a request that allocates a lot is bounded by the memory limit as
//! before, having wasted at most the region and the snapshot's blocks. Before the first request
//! (pre-initialisation), everything is `malloc`'s.

use crate::bump::{self, Region};
use rquickjs::allocator::Allocator;
use std::alloc::{GlobalAlloc, Layout, System};

/// The region's size. Its untouched pages cost nothing: they are zero in the image.
const REGION_BYTES: usize = 256 * 1024;
/// Every block starts with its size and how it must be freed.
const HEADER: usize = 8;
/// QuickJS's blocks hold doubles and pointers: 8-byte alignment (wasm32).
const ALIGN: usize = 8;
/// The header's flag for a block `malloc` gave during a request: freed for real.
const FREE_FOR_REAL: u32 = 1;

static REGION: Region<REGION_BYTES> = Region::new();

/// The allocator handed to QuickJS's runtime.
pub struct JsAlloc;

impl JsAlloc {
    /// A block of `size` bytes from the region, and how many of its first bytes may be
    /// non-zero; `None` when it does not fit.
    fn bump(size: usize) -> Option<(*mut u8, usize)> {
        let (start, dirty) = REGION.take(HEADER.checked_add(size)?, ALIGN)?;
        // SAFETY: the region gave `HEADER + size` bytes at `start`.
        unsafe {
            write_header(start, size, 0);
            Some((start.add(HEADER), dirty.saturating_sub(HEADER)))
        }
    }

    /// A block of `size` bytes from `malloc`, freed for real if `real_free`.
    fn from_malloc(size: usize, real_free: bool) -> *mut u8 {
        let Some(total) = size.checked_add(HEADER) else {
            return std::ptr::null_mut();
        };
        let Ok(layout) = Layout::from_size_align(total, ALIGN) else {
            return std::ptr::null_mut();
        };
        // SAFETY: the layout has a non-zero size.
        let block = unsafe { System.alloc(layout) };
        if block.is_null() {
            return block;
        }
        // SAFETY: `block` has room for the header and `size` bytes.
        unsafe {
            write_header(block, size, if real_free { FREE_FOR_REAL } else { 0 });
            block.add(HEADER)
        }
    }

    /// A block of `size` bytes, and how many of its first bytes may be non-zero.
    fn allocate(size: usize) -> (*mut u8, usize) {
        if !bump::serving() {
            // The snapshot's own blocks: freed for real only before the snapshot is taken.
            return (Self::from_malloc(size, false), size);
        }
        Self::bump(size).unwrap_or_else(|| (Self::from_malloc(size, true), size))
    }
}

/// Writes a block's header: its size, and how it is freed.
///
/// # Safety
/// `block` must have room for the header.
unsafe fn write_header(block: *mut u8, size: usize, flags: u32) {
    // SAFETY: forwarded; the header is 8-aligned like every block.
    unsafe {
        block.cast::<u32>().write(size as u32);
        block.cast::<u32>().add(1).write(flags);
    }
}

/// The header of a block this allocator gave: its size and flags.
///
/// # Safety
/// `ptr` must be a live block from [`JsAlloc`].
unsafe fn header(ptr: *mut u8) -> (usize, u32) {
    // SAFETY: forwarded: the header sits just before the block.
    unsafe {
        let h = ptr.sub(HEADER).cast::<u32>();
        (h.read() as usize, h.add(1).read())
    }
}

// SAFETY: every block is 8-aligned, at least `size` bytes, and not handed out twice while live
// (see `Region::take` and `from_malloc`); `usable_size` reads the size its header recorded.
unsafe impl Allocator for JsAlloc {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        Self::allocate(size).0
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            return std::ptr::null_mut();
        };
        let (block, dirty) = Self::allocate(total);
        if !block.is_null() {
            // The region is zero in a fresh instance: only what a block taken back wrote, or a
            // block from `malloc`, needs clearing.
            // SAFETY: the block has `total >= dirty` bytes.
            unsafe { block.write_bytes(0, dirty.min(total)) };
        }
        block
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        // SAFETY: a live block from this allocator.
        let (size, flags) = unsafe { header(ptr) };
        // SAFETY: the header sits just before the block.
        let start = unsafe { ptr.sub(HEADER) };
        if REGION.contains(start) {
            REGION.give_back(start, HEADER + size);
            return;
        }
        if bump::serving() && flags & FREE_FOR_REAL == 0 {
            // The snapshot's block: the instance is discarded after the request.
            return;
        }
        // SAFETY: the block came from `System.alloc` with this layout.
        unsafe {
            System.dealloc(
                start,
                Layout::from_size_align_unchecked(size + HEADER, ALIGN),
            )
        };
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return Self::allocate(new_size).0;
        }
        // SAFETY: a live block from this allocator.
        let (size, _) = unsafe { header(ptr) };
        // SAFETY: the header sits just before the block.
        let start = unsafe { ptr.sub(HEADER) };
        if REGION.contains(start) {
            // A region block shrinks where it is, and the last one grows there too.
            if new_size <= size {
                return ptr;
            }
            if REGION.resize_last(start, HEADER + size, HEADER + new_size) {
                // SAFETY: the block's header, inside the region.
                unsafe { write_header(start, new_size, 0) };
                return ptr;
            }
        }
        let new = Self::allocate(new_size).0;
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct, each at least this long.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, size.min(new_size)) };
            // SAFETY: `ptr` is a live block, no longer used.
            unsafe { self.dealloc(ptr) };
        }
        new
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: forwarded from the caller's contract.
        unsafe { header(ptr).0 }
    }
}
