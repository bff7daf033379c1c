//! The natives behind `fetch` (`polyfills/75-fetch.js`). An outbound request is started with a
//! [`HostCall::Fetch`] and performed by the host in the background (allowlist, limits,
//! redirects, TLS), so that several run at once and JS keeps running meanwhile; the event loop
//! (`event_loop::drive`) collects them with [`HostCall::FetchWait`] when it has nothing else to
//! do, and `fetchWait` hands each outcome to JS, which settles the promise. A refusal or failure
//! becomes a JS `TypeError`, as `fetch` specifies.
//!
//! A body that had not all arrived with the head streams: JS asks for each further piece with
//! `fetchRead` ([`HostCall::FetchRead`]) and the piece comes back through `fetchWait` like any
//! other outcome, so reading it waits in the event loop with the timers and other fetches. The
//! incoming request's body, when it had not all arrived, is read the same way.
//!
//! A request body that JS gives as a stream is sent piece by piece with `fetchSend`
//! ([`HostCall::FetchSend`]); `fetchWait` reports when each piece has gone upstream, so that
//! waiting for room there holds up neither timers nor the reading of the response.

use rquickjs::{Array, Ctx, Exception, Function, Object, Result, TypedArray, Value};
use std::cell::RefCell;
use wisp_abi::hostcall::{FetchBody, FetchRequest, FetchResponse, HostCall, HostReply, Redirect};

thread_local! {
    /// One entry per outcome still to collect, by fetch id: a response, a piece of a body
    /// being read, a piece of a request body being sent (a fetch may have two at once, and the
    /// host reports each: a failed response does not stand for a pending send); cancelled
    /// fetches leave.
    static WAITING: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// Whether an outcome is still to come, for the event loop.
pub fn in_flight() -> bool {
    WAITING.with(|w| !w.borrow().is_empty())
}

fn waiting(id: u32) {
    WAITING.with(|w| w.borrow_mut().push(id));
}

/// One outcome of `id` came.
fn collected(id: u32) {
    WAITING.with(|w| {
        let mut w = w.borrow_mut();
        if let Some(at) = w.iter().position(|&other| other == id) {
            w.swap_remove(at);
        }
    });
}

/// Nothing more will come for `id`.
fn not_waiting(id: u32) {
    WAITING.with(|w| w.borrow_mut().retain(|&other| other != id));
}

pub fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    native.set("fetchStart", Function::new(ctx.clone(), fetch_start)?)?;
    native.set("fetchWait", Function::new(ctx.clone(), fetch_wait)?)?;
    native.set("fetchCancel", Function::new(ctx.clone(), fetch_cancel)?)?;
    native.set("fetchRead", Function::new(ctx.clone(), fetch_read)?)?;
    native.set("fetchSend", Function::new(ctx.clone(), fetch_send)?)?;
    Ok(())
}

fn wrong_reply<T>(ctx: &Ctx<'_>) -> Result<T> {
    Err(Exception::throw_internal(
        ctx,
        "Wisp: the host answered a fetch call with the wrong reply",
    ))
}

/// `fetchStart(method, url, flatHeaders, body | null, redirect, streamed)` → the fetch's id.
/// A header value's bytes: each character is one byte (Latin-1), as JS reads them from the
/// wire (`request.headers.get` of a raw UTF-8 value gives one character per byte), so that a
/// value passed on goes out as it came in. A character past U+00FF has no byte: such a value is
/// sent as UTF-8.
fn header_bytes(value: String) -> Vec<u8> {
    if value.is_ascii() || value.chars().any(|c| u32::from(c) > 0xff) {
        return value.into_bytes();
    }
    value.chars().map(|c| u32::from(c) as u8).collect()
}

/// Headers travel as `[name, value, …]`; `streamed`: the body follows through `fetchSend`.
fn fetch_start<'js>(
    ctx: Ctx<'js>,
    method: String,
    url: String,
    flat_headers: Array<'js>,
    body: Option<TypedArray<'js, u8>>,
    redirect: String,
    streamed: bool,
) -> Result<u32> {
    let mut headers = Vec::with_capacity(flat_headers.len() / 2);
    let mut items = flat_headers.iter::<String>();
    while let (Some(name), Some(value)) = (items.next(), items.next()) {
        headers.push((name?, header_bytes(value?)));
    }
    let redirect = match redirect.as_str() {
        "manual" => Redirect::Manual,
        "error" => Redirect::Error,
        _ => Redirect::Follow,
    };
    let body = match body {
        _ if streamed => FetchBody::Stream,
        None => FetchBody::None,
        Some(b) => FetchBody::Bytes(bytes_of(&b)),
    };
    let call = HostCall::Fetch(FetchRequest {
        method,
        url,
        headers,
        body,
        redirect,
    });
    match crate::host::call(&call).map_err(|message| Exception::throw_type(&ctx, &message))? {
        HostReply::FetchStarted(id) => {
            waiting(id);
            Ok(id)
        }
        _ => wrong_reply(&ctx),
    }
}

/// `fetchWait(timeoutMs)` (negative: no limit) → `null` when nothing came in time, else
/// `[id, kind, payload]`: kind 0, a response, payload `[status, statusText, url, redirected,
/// flatHeaders, Uint8Array body, more]` (`more`: the body continues, through `fetchRead`);
/// kind 1, a failure of the fetch or of reading its body, payload the message; kind 2, the
/// piece of body a `fetchRead` asked for, payload a `Uint8Array`, or `null` at the end; kind 3,
/// the piece a `fetchSend` gave has gone upstream (payload `null`) or could not (the message).
fn fetch_wait<'js>(ctx: Ctx<'js>, timeout_ms: f64) -> Result<Value<'js>> {
    let timeout_ms = (timeout_ms >= 0.0).then(|| timeout_ms.ceil().min(f64::from(u32::MAX)) as u32);
    let reply = crate::host::call(&HostCall::FetchWait { timeout_ms })
        .map_err(|message| Exception::throw_type(&ctx, &message))?;
    let (id, kind, payload) = match reply {
        HostReply::FetchTimedOut => return Ok(Value::new_null(ctx)),
        HostReply::FetchDone {
            id,
            result: Ok(res),
        } => (id, 0, response(&ctx, res)?.into_value()),
        HostReply::FetchChunk {
            id,
            result: Ok(piece),
        } => {
            let piece = match piece {
                Some(bytes) => TypedArray::new(ctx.clone(), bytes)?.into_value(),
                None => Value::new_null(ctx.clone()),
            };
            (id, 2, piece)
        }
        HostReply::FetchSent { id, result } => {
            let payload = match result {
                Ok(()) => Value::new_null(ctx.clone()),
                Err(message) => rquickjs::String::from_str(ctx.clone(), &message)?.into_value(),
            };
            (id, 3, payload)
        }
        HostReply::FetchDone {
            id,
            result: Err(message),
        }
        | HostReply::FetchChunk {
            id,
            result: Err(message),
        } => (
            id,
            1,
            rquickjs::String::from_str(ctx.clone(), &message)?.into_value(),
        ),
        _ => return wrong_reply(&ctx),
    };
    collected(id);
    let out = Array::new(ctx.clone())?;
    out.set(0, id)?;
    out.set(1, kind)?;
    out.set(2, payload)?;
    Ok(out.into_value())
}

/// `fetchCancel(id)`: the fetch's `AbortSignal` fired, or its body stream was cancelled.
fn fetch_cancel(ctx: Ctx<'_>, id: u32) -> Result<()> {
    crate::host::call(&HostCall::FetchCancel(id))
        .map_err(|message| Exception::throw_type(&ctx, &message))?;
    not_waiting(id);
    Ok(())
}

/// `fetchRead(id)`: asks for the next piece of a streamed body; it comes from `fetchWait`.
fn fetch_read(ctx: Ctx<'_>, id: u32) -> Result<()> {
    crate::host::call(&HostCall::FetchRead(id))
        .map_err(|message| Exception::throw_type(&ctx, &message))?;
    waiting(id);
    Ok(())
}

/// `fetchSend(id, chunk | null)`: sends the next piece of a streamed request body (`null`: its
/// end); `fetchWait` says when it has gone upstream. Throws when the fetch takes no body.
fn fetch_send<'js>(ctx: Ctx<'js>, id: u32, piece: Option<TypedArray<'js, u8>>) -> Result<()> {
    let piece = piece.map(|b| bytes_of(&b));
    crate::host::call(&HostCall::FetchSend { id, piece })
        .map_err(|message| Exception::throw_type(&ctx, &message))?;
    waiting(id);
    Ok(())
}

fn bytes_of(array: &TypedArray<'_, u8>) -> Vec<u8> {
    // SAFETY: the bytes are copied at once; no JS runs while the slice is borrowed.
    unsafe { array.as_bytes() }.unwrap_or(&[]).to_vec()
}

fn response<'js>(ctx: &Ctx<'js>, res: FetchResponse) -> Result<Array<'js>> {
    let out = Array::new(ctx.clone())?;
    out.set(0, res.status)?;
    out.set(1, res.status_text)?;
    out.set(2, res.url)?;
    out.set(3, res.redirected)?;
    let headers = Array::new(ctx.clone())?;
    for (i, (name, value)) in res.headers.into_iter().enumerate() {
        headers.set(2 * i, name)?;
        // Header values are bytes; Latin-1 is how the Fetch standard maps them to strings.
        headers.set(
            2 * i + 1,
            value.iter().map(|&b| b as char).collect::<String>(),
        )?;
    }
    out.set(4, headers)?;
    out.set(5, TypedArray::new(ctx.clone(), res.body)?)?;
    out.set(6, res.more)?;
    Ok(out)
}
