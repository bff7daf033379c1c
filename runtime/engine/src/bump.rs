//! A region of the engine's memory handed out in order while a request runs: the mechanism
//! behind both request-time allocators, Rust's (`request_arena.rs`) and QuickJS's
//! (`js_alloc.rs`).
//!
//! Every page a request writes is copied back from the snapshot when its slot is reset, and the
//! slot keeps copying it for every later request (`runtime/host/src/slot_runs.rs`). Blocks cut
//! one after the other write a few adjacent pages; blocks reused from free lists spread over
//! the snapshot's heap write pages all over it. A region is part of the engine's static data,
//! zero in the snapshot (nothing uses it before the first request) and so in every fresh
//! instance. Freeing a block does nothing, except that the last block handed out is taken back,
//! so that a growing buffer grows in place: the instance, discarded after its one request,
//! frees the lot.

use std::cell::{Cell, UnsafeCell};

/// The largest alignment a region serves.
pub const MAX_ALIGN: usize = 16;

thread_local! {
    /// Whether a request is running: before it (pre-initialisation, whose allocations live on
    /// in the snapshot), the allocators use `malloc` only.
    static SERVING: Cell<bool> = const { Cell::new(false) };
}

/// From now on (the rest of this instance's life, which is one request), the allocators cut
/// their blocks from their regions.
pub fn start_request() {
    SERVING.with(|s| s.set(true));
}

pub fn serving() -> bool {
    SERVING.with(Cell::get)
}

#[repr(C, align(16))]
struct Bytes<const N: usize>([u8; N]);

/// `N` bytes handed out in order.
pub struct Region<const N: usize> {
    bytes: UnsafeCell<Bytes<N>>,
    /// Offset of the first free byte.
    next: Cell<usize>,
    /// Offset past which nothing was ever handed out: still zero. Below it, a block taken back
    /// may have been written.
    high: Cell<usize>,
}

// SAFETY: the engine is single-threaded (wasm32-wasip1 has no threads), so the cells are never
// accessed concurrently.
unsafe impl<const N: usize> Sync for Region<N> {}

impl<const N: usize> Region<N> {
    pub const fn new() -> Self {
        Region {
            bytes: UnsafeCell::new(Bytes([0; N])),
            next: Cell::new(0),
            high: Cell::new(0),
        }
    }

    fn base(&self) -> usize {
        self.bytes.get().addr()
    }

    /// The offset of `ptr` in the region, if it is in it.
    fn offset_of(&self, ptr: *const u8) -> Option<usize> {
        ptr.addr().checked_sub(self.base()).filter(|&o| o < N)
    }

    pub fn contains(&self, ptr: *const u8) -> bool {
        self.offset_of(ptr).is_some()
    }

    /// `size` bytes aligned to `align` (at most [`MAX_ALIGN`]), and how many of their first
    /// bytes may be non-zero (written by a block taken back since); `None` when they do not fit.
    pub fn take(&self, size: usize, align: usize) -> Option<(*mut u8, usize)> {
        debug_assert!(align <= MAX_ALIGN);
        let start = self.next.get().next_multiple_of(align);
        let end = start.checked_add(size).filter(|&end| end <= N)?;
        self.next.set(end);
        let dirty = self.high.get().saturating_sub(start).min(size);
        self.high.set(self.high.get().max(end));
        // SAFETY: `start + size <= N`: the block is inside the region, and no live block
        // overlaps it (`next` only moves back over the last block, once it is given back).
        Some((unsafe { self.bytes.get().cast::<u8>().add(start) }, dirty))
    }

    /// Takes back the block of `size` bytes at `ptr` if it is the last one handed out; the
    /// others stay until the instance goes.
    pub fn give_back(&self, ptr: *const u8, size: usize) {
        if let Some(offset) = self.offset_of(ptr)
            && offset + size == self.next.get()
        {
            self.next.set(offset);
        }
    }

    /// Resizes the block of `old` bytes at `ptr` in place to `new` bytes, if it is the last one
    /// handed out and the region has room; whether it did.
    pub fn resize_last(&self, ptr: *const u8, old: usize, new: usize) -> bool {
        match self.offset_of(ptr) {
            Some(offset) if offset + old == self.next.get() && offset + new <= N => {
                self.next.set(offset + new);
                self.high.set(self.high.get().max(offset + new));
                true
            }
            _ => false,
        }
    }
}
