//! The guest side of the host imports: Wisp's own (`wisp.log`, `wisp.call`/`wisp.take`) and the
//! one WASI call that the standard library does not wrap for us (`random_get`). Names match
//! [`wisp_abi`].

use wisp_abi::hostcall::{HostCall, HostReply};

#[link(wasm_import_module = "wisp")]
unsafe extern "C" {
    #[link_name = "log"]
    fn wisp_log(level: i32, ptr: *const u8, len: usize);
    #[link_name = "call"]
    fn wisp_call(ptr: *const u8, len: usize) -> i64;
    #[link_name = "take"]
    fn wisp_take(ptr: *mut u8, len: usize);
}

/// Performs a host call (KV, SQL, Redis). The host suspends this instance while it works, so
/// from here the call is synchronous. `Err` carries the host's message for a JS `Error`.
pub fn call(call: &HostCall) -> Result<HostReply, String> {
    let request = call.encode();
    // SAFETY: the pointer and length describe a live, initialised buffer; the host only reads
    // it during the call.
    let output = unsafe { wisp_call(request.as_ptr(), request.len()) };
    drop(request);
    let (_, len, failure) = wisp_abi::unpack_output(output);
    let mut reply = vec![0u8; len as usize];
    // SAFETY: `reply` is a live, writable buffer of exactly the length the host announced; the
    // host writes the pending reply into it during the call.
    unsafe { wisp_take(reply.as_mut_ptr(), reply.len()) };
    if failure {
        return Err(String::from_utf8_lossy(&reply).into_owned());
    }
    HostReply::decode(&reply).map_err(|e| e.to_string())
}

#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    #[link_name = "random_get"]
    fn wasi_random_get(buf: *mut u8, len: usize) -> u16;
}

/// Sends one console line to the host's log.
pub fn log(level: wisp_abi::LogLevel, message: &str) {
    // SAFETY: the pointer and length describe a live, initialised UTF-8 buffer; the host only
    // reads it during the call.
    unsafe { wisp_log(level as i32, message.as_ptr(), message.len()) }
}

/// Fills `buf` from the host's cryptographically secure random source.
pub fn random_bytes(buf: &mut [u8]) {
    if buf.is_empty() {
        return;
    }
    // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes for the whole call.
    let errno = unsafe { wasi_random_get(buf.as_mut_ptr(), buf.len()) };
    // The host's random source failing is not something a request can recover from.
    assert_eq!(errno, 0, "random_get failed with WASI errno {errno}");
}

thread_local! {
    /// When the current request (or, before the snapshot, the initialisation) started, on
    /// [`monotonic_ms`]'s clock.
    static REQUEST_START: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
    /// `performance.timeOrigin` for the current request, once asked for (a wall-clock read
    /// is a host call most requests never need).
    static TIME_ORIGIN: std::cell::Cell<Option<f64>> = const { std::cell::Cell::new(None) };
}

/// Starts the clock `performance.now()` reads: at initialisation, then at every request.
/// Kept here rather than in JS, so that a request that never reads it pays one clock read and
/// no call into JavaScript.
pub fn start_request_clock() {
    REQUEST_START.with(|s| s.set(monotonic_ms()));
    TIME_ORIGIN.with(|t| t.set(None));
}

/// Milliseconds since [`start_request_clock`] (`performance.now()`).
pub fn ms_since_start() -> f64 {
    monotonic_ms() - REQUEST_START.with(|s| s.get())
}

/// The wall-clock time, in ms since the Unix epoch, at which the request started
/// (`performance.timeOrigin`): the same value for every read within one request.
pub fn time_origin() -> f64 {
    TIME_ORIGIN.with(|t| {
        if let Some(origin) = t.get() {
            return origin;
        }
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let origin = wall - ms_since_start();
        t.set(Some(origin));
        origin
    })
}

/// Milliseconds on the host's monotonic clock (fractional).
pub fn monotonic_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    // The epoch of this clock is irrelevant: JS only ever subtracts two readings taken in one
    // request. A snapshot may carry an Instant from init time; it is only used as an origin.
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    let now = Instant::now();
    if now >= origin {
        (now - origin).as_secs_f64() * 1000.0
    } else {
        // The snapshot was taken in another process whose monotonic clock was ahead.
        -((origin - now).as_secs_f64() * 1000.0)
    }
}
