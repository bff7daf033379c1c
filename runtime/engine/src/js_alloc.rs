//! QuickJS's allocator: during a request, its blocks come in order from one region and freeing
//! them does nothing.
//!
//! Every page a request writes is copied back from the snapshot when its slot is reset, and a
//! slot keeps copying it for every later request (`runtime/host/src/slot_runs.rs`). QuickJS's
//! own small-block arenas, and wasi-libc's `malloc` behind them, reuse free blocks spread over
//! the snapshot's heap: a request's objects, and the free-list updates when they die, landed
//! on pages all over it. Here (QuickJS is built without its arenas: `runtime/host/build.rs`)
//! a request's blocks are cut one after the other from [`REGION`], which is zero in every
//! fresh instance, so they write a few adjacent pages; a block freed during the request is
//! simply left there (the instance is discarded after the request), and so is a block of the
//! snapshot's (its free would write `malloc`'s lists). What does not fit in the region comes
//! from `malloc` and is freed for real, so a request that allocates a lot is bounded by the
//! memory limit as before, having wasted at most the region and the snapshot's blocks.
//! Before the first request (pre-initialisation), everything is `malloc`'s.

use rquickjs::allocator::Allocator;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, UnsafeCell};

/// The region's size. Its untouched pages cost nothing: they are zero in the image.
const REGION_BYTES: usize = 256 * 1024;
/// Every block starts with its size and how it must be freed.
const HEADER: usize = 8;
/// QuickJS's blocks hold doubles and pointers: 8-byte alignment (wasm32).
const ALIGN: usize = 8;
/// The header's flag for a block `malloc` gave during a request: freed for real.
const FREE_FOR_REAL: u32 = 1;

#[repr(C, align(8))]
struct Bytes([u8; REGION_BYTES]);

struct Region {
    bytes: UnsafeCell<Bytes>,
    /// Offset of the first free byte.
    next: Cell<usize>,
    /// Offset past which the region has never been handed out: still zero. Below it, a block
    /// freed last and taken back may have been reused.
    high: Cell<usize>,
    /// Whether a request is running (set by [`start_request`]).
    serving: Cell<bool>,
}

// SAFETY: the engine is single-threaded (wasm32-wasip1 has no threads).
unsafe impl Sync for Region {}

static REGION: Region = Region {
    bytes: UnsafeCell::new(Bytes([0; REGION_BYTES])),
    next: Cell::new(0),
    high: Cell::new(0),
    serving: Cell::new(false),
};

/// From now on (the rest of this instance's life: one request), blocks come from the region.
pub fn start_request() {
    REGION.serving.set(true);
}

/// The allocator handed to QuickJS's runtime.
pub struct JsAlloc;

impl JsAlloc {
    fn in_region(block: *mut u8) -> bool {
        let base = REGION.bytes.get().addr();
        block.addr() >= base && block.addr() < base + REGION_BYTES
    }

    /// A block of `size` bytes from the region, or null when it does not fit.
    fn bump(size: usize) -> *mut u8 {
        let start = REGION.next.get();
        let Some(end) = (start + HEADER)
            .checked_add(size)
            .map(|e| e.next_multiple_of(ALIGN))
        else {
            return std::ptr::null_mut();
        };
        if end > REGION_BYTES {
            return std::ptr::null_mut();
        }
        REGION.next.set(end);
        REGION.high.set(REGION.high.get().max(end));
        // SAFETY: `start + HEADER + size <= REGION_BYTES`: the header and the block are inside
        // the region, and no other live block overlaps them (`next` only grows, or moves back
        // over the last block once it is freed).
        unsafe {
            let block = REGION.bytes.get().cast::<u8>().add(start);
            write_header(block, size, 0);
            block.add(HEADER)
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

    fn allocate(size: usize) -> *mut u8 {
        if !REGION.serving.get() {
            // The snapshot's own blocks: freed for real only before the snapshot is taken.
            return Self::from_malloc(size, false);
        }
        let block = Self::bump(size);
        if !block.is_null() {
            return block;
        }
        Self::from_malloc(size, true)
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
// (see `bump` and `from_malloc`); `usable_size` reads the size its header recorded.
unsafe impl Allocator for JsAlloc {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        Self::allocate(size)
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            return std::ptr::null_mut();
        };
        let high = REGION.high.get();
        let block = Self::allocate(total);
        if block.is_null() {
            return block;
        }
        // The region is zero in a fresh instance: a block cut from it needs clearing only where
        // an earlier block (taken back since) was.
        let dirty = if Self::in_region(block) {
            let start = block.addr() - REGION.bytes.get().addr();
            high.saturating_sub(start).min(total)
        } else {
            total
        };
        // SAFETY: the block has `total >= dirty` bytes.
        unsafe { block.write_bytes(0, dirty) };
        block
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        if Self::in_region(ptr) {
            // The last block given out is taken back (a growing buffer then grows in place);
            // the others stay until the instance goes.
            // SAFETY: a live block of the region.
            let (size, _) = unsafe { header(ptr) };
            let start = ptr.addr() - REGION.bytes.get().addr() - HEADER;
            if (start + HEADER + size).next_multiple_of(ALIGN) == REGION.next.get() {
                REGION.next.set(start);
            }
            return;
        }
        // SAFETY: a live block from `malloc`, with this allocator's header.
        let (size, flags) = unsafe { header(ptr) };
        if REGION.serving.get() && flags & FREE_FOR_REAL == 0 {
            // The snapshot's block: the instance is discarded after the request.
            return;
        }
        // SAFETY: the block came from `System.alloc` with this layout.
        unsafe {
            System.dealloc(
                ptr.sub(HEADER),
                Layout::from_size_align_unchecked(size + HEADER, ALIGN),
            )
        };
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return Self::allocate(new_size);
        }
        // SAFETY: a live block from this allocator.
        let (size, _) = unsafe { header(ptr) };
        if Self::in_region(ptr) {
            if new_size <= size {
                return ptr;
            }
            // The last block grows where it is when the region has room.
            let start = ptr.addr() - REGION.bytes.get().addr() - HEADER;
            let end = (start + HEADER + size).next_multiple_of(ALIGN);
            let new_end = (start + HEADER)
                .saturating_add(new_size)
                .next_multiple_of(ALIGN);
            if end == REGION.next.get() && new_end <= REGION_BYTES {
                REGION.next.set(new_end);
                REGION.high.set(REGION.high.get().max(new_end));
                // SAFETY: the block's header, inside the region.
                unsafe { write_header(ptr.sub(HEADER), new_size, 0) };
                return ptr;
            }
        }
        let new = Self::allocate(new_size);
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
