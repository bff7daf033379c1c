//! The engine's Rust allocations during a request come from one contiguous arena.
//!
//! Rust's allocator here is wasi-libc's `malloc` (QuickJS has its own, `js_alloc.rs`, built the
//! same way). After
//! pre-initialisation its free lists hold chunks all over the snapshot's heap (the scratch that
//! compiling the polyfills freed), so the dozens of small buffers a request makes in Rust (the
//! decoded request, header strings, call arguments, the encoded response) land on pages
//! scattered over that heap, and freeing them writes chunk headers there too. Every page a
//! request writes is copied back from the image when its slot is reset, and the slot keeps
//! copying it for every later request (`runtime/host/src/slot_runs.rs`).
//!
//! While a request runs, [`RequestArena`] hands these allocations out of a static arena in
//! order, so that they write a few adjacent pages, and frees them by doing nothing (the last one
//! is given back, so that a growing buffer grows in place). The instance is discarded after the
//! request, which frees the lot. Allocations larger than [`LARGEST`], or past the arena's end,
//! go to `malloc` as before; so does everything at pre-initialisation, whose allocations live
//! on in the snapshot.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, UnsafeCell};

/// The arena's size. Untouched pages of it cost nothing (they are zero in the image).
const ARENA_BYTES: usize = 256 * 1024;
/// Larger allocations (a request body, say) go to `malloc`.
const LARGEST: usize = 32 * 1024;
/// The arena's alignment; allocations that need more go to `malloc`.
const ALIGN: usize = 16;

#[repr(C, align(16))]
struct Bytes([u8; ARENA_BYTES]);

pub struct RequestArena {
    bytes: UnsafeCell<Bytes>,
    /// Offset of the first free byte.
    next: Cell<usize>,
    /// Whether a request is running (set by [`start_request`]).
    serving: Cell<bool>,
}

// SAFETY: the engine is single-threaded (wasm32-wasip1 has no threads), so the cells are never
// accessed concurrently.
unsafe impl Sync for RequestArena {}

#[global_allocator]
static ARENA: RequestArena = RequestArena {
    bytes: UnsafeCell::new(Bytes([0; ARENA_BYTES])),
    next: Cell::new(0),
    serving: Cell::new(false),
};

/// From now on (for the rest of this instance's life, which is one request), Rust allocations
/// come from the arena.
pub fn start_request() {
    ARENA.serving.set(true);
}

impl RequestArena {
    fn base(&self) -> usize {
        self.bytes.get().addr()
    }

    /// The arena's offset of `ptr`, if it is in the arena.
    fn offset_of(&self, ptr: *mut u8) -> Option<usize> {
        ptr.addr()
            .checked_sub(self.base())
            .filter(|&o| o < ARENA_BYTES)
    }

    /// `size` bytes from the arena, or null.
    fn bump(&self, layout: Layout) -> *mut u8 {
        if !self.serving.get() || layout.size() > LARGEST || layout.align() > ALIGN {
            return std::ptr::null_mut();
        }
        let start = self.next.get().next_multiple_of(layout.align());
        match start.checked_add(layout.size()) {
            Some(end) if end <= ARENA_BYTES => {
                self.next.set(end);
                // SAFETY: `start < ARENA_BYTES`, so the pointer stays inside the arena.
                unsafe { self.bytes.get().cast::<u8>().add(start) }
            }
            _ => std::ptr::null_mut(),
        }
    }
}

// SAFETY: every block handed out is either a `System` block (and goes back to `System`) or a
// range of the arena that no other live block overlaps: `next` only moves back over the block
// that ends at it, which is then no longer live.
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
        match self.offset_of(ptr) {
            // The last block given out is taken back; the others stay until the instance goes.
            Some(offset) => {
                if offset + layout.size() == self.next.get() {
                    self.next.set(offset);
                }
            }
            // SAFETY: a block outside the arena came from `System` with this layout.
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(offset) = self.offset_of(ptr) else {
            // SAFETY: a block outside the arena came from `System` with this layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        // A block shrinks where it is; the last one also grows there when the arena has room.
        if new_size <= layout.size() {
            if offset + layout.size() == self.next.get() {
                self.next.set(offset + new_size);
            }
            return ptr;
        }
        if offset + layout.size() == self.next.get()
            && new_size <= LARGEST
            && offset + new_size <= ARENA_BYTES
        {
            self.next.set(offset + new_size);
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
            // SAFETY: `ptr` is a live arena block with this layout.
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }
}
