//! The natives behind `fetch` (`polyfills/75-fetch.js`). An outbound request is started with a
//! [`HostCall::Fetch`] and performed by the host in the background (allowlist, limits,
//! redirects, TLS), so that several run at once and JS keeps running meanwhile; the event loop
//! (`event_loop::drive`) collects them with [`HostCall::FetchWait`] when it has nothing else to
//! do, and `fetchWait` hands each outcome to JS, which settles the promise. A refusal or failure
//! becomes a JS `TypeError`, as `fetch` specifies.

use rquickjs::{Array, Ctx, Exception, Function, Object, Result, TypedArray, Value};
use std::cell::Cell;
use wisp_abi::hostcall::{FetchRequest, FetchResponse, HostCall, HostReply, Redirect};

thread_local! {
    /// Fetches started and neither collected nor cancelled.
    static IN_FLIGHT: Cell<u32> = const { Cell::new(0) };
}

/// Whether any fetch is still running, for the event loop.
pub fn in_flight() -> bool {
    IN_FLIGHT.with(Cell::get) > 0
}

pub fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    native.set("fetchStart", Function::new(ctx.clone(), fetch_start)?)?;
    native.set("fetchWait", Function::new(ctx.clone(), fetch_wait)?)?;
    native.set("fetchCancel", Function::new(ctx.clone(), fetch_cancel)?)?;
    Ok(())
}

fn wrong_reply<T>(ctx: &Ctx<'_>) -> Result<T> {
    Err(Exception::throw_internal(
        ctx,
        "Wisp: the host answered a fetch call with the wrong reply",
    ))
}

/// `fetchStart(method, url, flatHeaders, body | null, redirect)` → the fetch's id. Headers
/// travel as `[name, value, …]`.
fn fetch_start<'js>(
    ctx: Ctx<'js>,
    method: String,
    url: String,
    flat_headers: Array<'js>,
    body: Option<TypedArray<'js, u8>>,
    redirect: String,
) -> Result<u32> {
    let mut headers = Vec::with_capacity(flat_headers.len() / 2);
    let mut items = flat_headers.iter::<String>();
    while let (Some(name), Some(value)) = (items.next(), items.next()) {
        headers.push((name?, value?.into_bytes()));
    }
    let redirect = match redirect.as_str() {
        "manual" => Redirect::Manual,
        "error" => Redirect::Error,
        _ => Redirect::Follow,
    };
    let body = body.map(|b| {
        // SAFETY: the bytes are copied at once; no JS runs while the slice is borrowed.
        unsafe { b.as_bytes() }.unwrap_or(&[]).to_vec()
    });
    let call = HostCall::Fetch(FetchRequest {
        method,
        url,
        headers,
        body,
        redirect,
    });
    match crate::host::call(&call).map_err(|message| Exception::throw_type(&ctx, &message))? {
        HostReply::FetchStarted(id) => {
            IN_FLIGHT.with(|n| n.set(n.get() + 1));
            Ok(id)
        }
        _ => wrong_reply(&ctx),
    }
}

/// `fetchWait(timeoutMs)` (negative: no limit) → `null` when none finished in time, else
/// `[id, true, [status, statusText, url, redirected, flatHeaders, Uint8Array body]]` or
/// `[id, false, message]`.
fn fetch_wait<'js>(ctx: Ctx<'js>, timeout_ms: f64) -> Result<Value<'js>> {
    let timeout_ms = (timeout_ms >= 0.0).then(|| timeout_ms.ceil().min(f64::from(u32::MAX)) as u32);
    let reply = crate::host::call(&HostCall::FetchWait { timeout_ms })
        .map_err(|message| Exception::throw_type(&ctx, &message))?;
    let (id, result) = match reply {
        HostReply::FetchTimedOut => return Ok(Value::new_null(ctx)),
        HostReply::FetchDone { id, result } => (id, result),
        _ => return wrong_reply(&ctx),
    };
    IN_FLIGHT.with(|n| n.set(n.get().saturating_sub(1)));
    let out = Array::new(ctx.clone())?;
    out.set(0, id)?;
    match result {
        Ok(res) => {
            out.set(1, true)?;
            out.set(2, response(&ctx, res)?)?;
        }
        Err(message) => {
            out.set(1, false)?;
            out.set(2, message)?;
        }
    }
    Ok(out.into_value())
}

/// `fetchCancel(id)`: the fetch's `AbortSignal` fired.
fn fetch_cancel(ctx: Ctx<'_>, id: u32) -> Result<()> {
    crate::host::call(&HostCall::FetchCancel(id))
        .map_err(|message| Exception::throw_type(&ctx, &message))?;
    IN_FLIGHT.with(|n| n.set(n.get().saturating_sub(1)));
    Ok(())
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
    Ok(out)
}
