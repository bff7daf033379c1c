//! The Wisp engine: QuickJS (through `rquickjs`) compiled to `wasm32-wasip1`.
//!
//! This crate is the guest half of Wisp. The host never links it natively: it is built for
//! WebAssembly by `runtime/host/build.rs`, pre-initialised with a function's code under Wizer,
//! and instantiated afresh for every request. The calls it exports and the bytes they carry are
//! defined once, in [`wisp_abi`]; this file only implements them.
//!
//! Life of an engine:
//! 1. `wisp_init` (under Wizer, once per function version): create the QuickJS runtime and
//!    context, install the natives and the polyfills, evaluate the user's code, check that it
//!    registered a fetch handler. The memory that results is the snapshot.
//! 2. `wisp_handle` (on a fresh copy of that snapshot, once per request): decode the request,
//!    call the JS dispatcher, run the event loop until the response settles, encode it.

mod bump;
mod compression;
mod date;
mod errors;
mod event_loop;
mod fetch;
mod field_getters;
mod headers;
mod host;
mod init;
mod js_alloc;
mod json;
mod kinds;
mod natives;
mod props;
mod raw_native;
mod rejections;
mod request_arena;
mod response;
mod response_ctor;
mod storage;
mod subtle;

use rquickjs::{Context, Function, Persistent, Runtime};
use std::borrow::Cow;
use std::cell::RefCell;
use wisp_abi::{Failure, FailureKind, INPUT_BUFFER_SIZE, pack_output};

/// What survives from `wisp_init` into every request (it lives in the snapshot).
struct Engine {
    // Field order matters: the context must be dropped before the runtime.
    dispatch: Persistent<Function<'static>>,
    timers_next: Persistent<Function<'static>>,
    timers_fire: Persistent<Function<'static>>,
    timers_collect: Persistent<Function<'static>>,
    /// `() -> Promise | null`: the request's `waitUntil` work (`polyfills/90-dispatch.js`).
    pending_work: Persistent<Function<'static>>,
    /// `(answer) -> parts | Promise<parts>`: what a handler answered (its `Response`, or what
    /// its promise settled to), checked and taken apart, when `response::plain_parts` leaves it.
    finish_response: Persistent<Function<'static>>,
    context: Context,
    /// Never read, but it owns the heap everything above lives in.
    #[allow(dead_code)]
    runtime: Runtime,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    /// The output of the last call; the host reads it at the address `wisp_handle` returns.
    static RESULT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Where the host writes inputs that fit (see `wisp_abi::INPUT_BUFFER_SIZE`).
struct InputBuffer(std::cell::UnsafeCell<[u8; INPUT_BUFFER_SIZE]>);
// SAFETY: the engine is single-threaded (wasm32-wasip1 has no threads); the host only writes
// the buffer between calls.
unsafe impl Sync for InputBuffer {}
static INPUT: InputBuffer = InputBuffer(std::cell::UnsafeCell::new([0; INPUT_BUFFER_SIZE]));

/// Stores `bytes` as the call's output and returns the packed output word.
fn output(bytes: Vec<u8>, failure: bool) -> i64 {
    RESULT.with(|r| {
        let mut r = r.borrow_mut();
        *r = bytes;
        pack_output(r.as_ptr() as u32, r.len() as u32, failure)
    })
}

fn fail(failure: Failure) -> i64 {
    output(failure.encode(), true)
}

/// Takes the input the host wrote: in place in the static buffer, or the buffer from
/// `wisp_alloc`.
///
/// # Safety
/// `ptr` and `len` must be the static input buffer with `len <= INPUT_BUFFER_SIZE`, or exactly
/// what a previous `wisp_alloc(len)` returned and was given (that buffer is consumed). The
/// static buffer is borrowed: the result must be dropped before the call returns.
unsafe fn take_input(ptr: *mut u8, len: usize) -> Cow<'static, [u8]> {
    if len == 0 {
        return Cow::Borrowed(&[]);
    }
    if std::ptr::eq(ptr, INPUT.0.get().cast::<u8>()) {
        // SAFETY: the static buffer is only written by the host between calls, and
        // `len <= INPUT_BUFFER_SIZE` by contract.
        return Cow::Borrowed(unsafe {
            std::slice::from_raw_parts(ptr, len.min(INPUT_BUFFER_SIZE))
        });
    }
    // SAFETY: the caller guarantees the buffer came from `wisp_alloc(len)`, which leaked a
    // `Vec<u8>` of exactly this length and capacity.
    Cow::Owned(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

/// The static input buffer's address.
#[unsafe(no_mangle)]
pub extern "C" fn wisp_input_buffer() -> *mut u8 {
    INPUT.0.get().cast::<u8>()
}

/// Reserves `len` bytes of guest memory for the host to write an input into.
#[unsafe(no_mangle)]
pub extern "C" fn wisp_alloc(len: usize) -> *mut u8 {
    if len == 0 {
        return std::ptr::NonNull::dangling().as_ptr();
    }
    let mut buf = vec![0u8; len];
    // `vec![0; len]` has capacity == len, which `take_input` relies on.
    debug_assert_eq!(buf.capacity(), len);
    let ptr = buf.as_mut_ptr();
    std::mem::forget(buf);
    ptr
}

/// Pre-initialisation: evaluates the polyfills and the user's code. Runs under Wizer.
///
/// # Safety
/// `ptr`/`len` must satisfy [`take_input`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wisp_init(ptr: *mut u8, len: usize) -> i64 {
    // SAFETY: forwarded from this function's contract.
    let input = unsafe { take_input(ptr, len) };
    let input = match wisp_abi::InitInput::decode(&input) {
        Ok(i) => i,
        Err(e) => return fail(Failure::new(FailureKind::BadInput, e.to_string(), "")),
    };
    host::start_request_clock();
    match init::initialise(&input) {
        Ok(engine) => {
            ENGINE.with(|e| *e.borrow_mut() = Some(engine));
            output(Vec::new(), false)
        }
        Err(failure) => fail(failure),
    }
}

/// Handles one request on this (fresh) instance.
///
/// # Safety
/// `ptr`/`len` must satisfy [`take_input`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wisp_handle(ptr: *mut u8, len: usize) -> i64 {
    bump::start_request();
    // SAFETY: forwarded from this function's contract.
    let input = unsafe { take_input(ptr, len) };
    let request = match wisp_abi::RequestView::decode(&input) {
        Ok(r) => r,
        Err(e) => return fail(Failure::new(FailureKind::BadInput, e.to_string(), "")),
    };
    let outcome = ENGINE.with(|e| {
        let engine = e.borrow();
        match engine.as_ref() {
            Some(engine) => event_loop::handle(engine, request),
            None => Err(Failure::new(
                FailureKind::NoHandler,
                "the engine was not initialised (wisp_init did not run before the snapshot)",
                "",
            )),
        }
    });
    drop(input);
    match outcome {
        Ok(response) => output(response, false),
        Err(failure) => fail(failure),
    }
}
