//! One request on a fresh instance: hand the request to the JS dispatcher, then run the event
//! loop (promise jobs, then due timers) until the handler's promise settles.
//!
//! Sleeping for a timer is `std::thread::sleep`, a WASI `poll_oneoff` that the host serves
//! asynchronously: a request waiting on a timer holds no host thread. The wall-clock limit is the
//! host's (it drops the instance), so this loop need not count time itself.

use crate::props::Text;
use crate::{Engine, errors, host};
use rquickjs::{Array, Ctx, Function, Promise, TypedArray, Value, promise::PromiseState};
use wisp_abi::hostcall::HostCall;
use wisp_abi::{Failure, FailureKind, RequestView, Response};

thread_local! {
    /// Set by `waitUntil` (through [`note_wait_until`]): the request has work to finish after
    /// its response. Without it, the dispatcher's `pendingWork` is not called at all.
    static WAIT_UNTIL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The native behind `waitUntil`'s first promise of a request (`polyfills/90-dispatch.js`).
pub fn note_wait_until() {
    WAIT_UNTIL.with(|w| w.set(true));
}

/// Serves `request`; the response comes back encoded, ready to hand to the host.
pub fn handle(engine: &Engine, request: RequestView<'_>) -> Result<Vec<u8>, Failure> {
    host::start_request_clock();
    WAIT_UNTIL.with(|w| w.set(false));
    engine.context.with(|ctx| {
        let served = respond(engine, &ctx, request);
        if served.is_err() {
            // A handler that failed may have handed work to `waitUntil` first (an error
            // reporter, say): it runs before the failure is answered.
            finish_work_after_failure(engine, &ctx);
        }
        served
    })
}

/// Runs the request's `waitUntil` work, if any, to its end (within the time limit), logging
/// how it failed; for a request whose handler failed, whose answer is the host's.
fn finish_work_after_failure(engine: &Engine, ctx: &Ctx<'_>) {
    let (Ok(Some(work)), Ok(timers)) = (pending_work(engine, ctx), timers(engine, ctx)) else {
        return;
    };
    if let Err(failure) = drive(ctx, &timers, work) {
        host::log(
            wisp_abi::LogLevel::Error,
            &format!(
                "waitUntil work failed: {}\n{}",
                failure.message, failure.stack
            ),
        );
    }
    crate::rejections::report(ctx, None);
}

/// The handler's response to `request`, encoded; its `waitUntil` work done, or (when the host
/// can answer early) under way after the response was sent.
fn respond<'js>(
    engine: &Engine,
    ctx: &Ctx<'js>,
    request: RequestView<'_>,
) -> Result<Vec<u8>, Failure> {
    {
        let ctx = ctx.clone();
        let call = || -> rquickjs::Result<Value<'_>> {
            let dispatch = engine.dispatch.clone().restore(&ctx)?;
            // Headers travel as one string, "name\nvalue\nname\nvalue", as the host sent them:
            // one JS value instead of two per header, split only if the handler reads them.
            let headers = latin1(request.headers);
            let body: Value = if request.body.is_empty()
                && request.body_rest.is_none()
                && (request.method == "GET" || request.method == "HEAD")
            {
                Value::new_null(ctx.clone())
            } else {
                TypedArray::<u8>::new_copy(ctx.clone(), request.body)?.into_value()
            };
            dispatch.call((
                request.method,
                request.url,
                headers.as_ref(),
                body,
                request.client_addr,
                // The rest of a body still arriving: its id for `fetchRead`, else -1.
                request.body_rest.map_or(-1, i64::from),
            ))
        };
        let value = match call() {
            Ok(value) => value,
            Err(e) => {
                let failure = errors::from_error(&ctx, e);
                crate::rejections::report(&ctx, None);
                return Err(failure);
            }
        };
        // What the handler answered, as the dispatcher returned it: an asynchronous handler's
        // promise is settled here (sparing the dispatcher a `Promise.resolve`, or a `.then` and
        // its promise and job, on every such request), to what may be anything.
        let answer = match crate::kinds::promise(&value).cloned() {
            None => {
                crate::rejections::report(&ctx, None);
                value
            }
            Some(promise) => {
                // Most handlers' promises have settled by now, or do once the pending jobs run:
                // the timer functions are only needed (restored, a reference taken on each)
                // for one that waits on a timer or a fetch.
                let settled = match settle_ready(&ctx, &promise) {
                    Some(settled) => settled,
                    None => drive(&ctx, &timers(engine, &ctx)?, promise.clone()),
                };
                crate::rejections::report(&ctx, Some(promise.as_value()));
                settled?
            }
        };
        // The common response is read here; any other goes through `finishResponse`, which
        // checks it and takes it apart (a stream, a `Headers` object, a body to read first…).
        let plain = crate::response::plain_parts(&ctx, &answer)
            .map_err(|e| errors::from_error(&ctx, e))?;
        let settled = match plain {
            Some((status, wire, body)) => {
                let response = encode_whole(&ctx, status, &wire, body)
                    .map_err(|e| errors::from_error(&ctx, e))?;
                return finish_pending_work(engine, &ctx, response, false);
            }
            None => {
                let finished = engine
                    .finish_response
                    .clone()
                    .restore(&ctx)
                    .and_then(|finish| finish.call::<_, Value>((answer,)));
                let finished = match finished {
                    Ok(finished) => finished,
                    Err(e) => {
                        let failure = errors::from_error(&ctx, e);
                        crate::rejections::report(&ctx, None);
                        return Err(failure);
                    }
                };
                // A body that must be read first makes the parts a promise too (one already used
                // is the only such body the polyfills make, and its promise rejects).
                match crate::kinds::promise(&finished).cloned() {
                    None => finished,
                    Some(parts) => {
                        let settled = drive(&ctx, &timers(engine, &ctx)?, parts.clone());
                        crate::rejections::report(&ctx, Some(parts.as_value()));
                        settled?
                    }
                }
            }
        };
        let (response, answered) = match read_response(&ctx, settled)? {
            Parts::Whole(response) => (response, false),
            Parts::Stream {
                status,
                headers,
                next,
            } => {
                let streamed = stream_body(&ctx, &timers(engine, &ctx)?, status, headers, next);
                crate::rejections::report(&ctx, None);
                streamed?
            }
        };
        finish_pending_work(engine, &ctx, response, answered)
    }
}

/// Runs the request's `waitUntil` work, if any, after the client has its response: the
/// response goes to the host first (a streamed one already has), then the loop runs until the
/// work settles, within the request's time limit. Errors in the work were logged as they
/// happened (`waitUntil` catches them). Where the host cannot answer early (in-process calls),
/// the work still runs to its end before the response is returned.
fn finish_pending_work<'js>(
    engine: &Engine,
    ctx: &Ctx<'js>,
    response: Vec<u8>,
    answered: bool,
) -> Result<Vec<u8>, Failure> {
    let Some(work) = pending_work(engine, ctx)? else {
        return Ok(response);
    };
    let answered = answered || {
        let whole = Response::decode(&response)
            .map_err(|e| Failure::new(FailureKind::BadResponse, e.to_string(), ""))?;
        host::call(&HostCall::Respond(whole)).is_ok()
    };
    let waited = drive(ctx, &timers(engine, ctx)?, work);
    crate::rejections::report(ctx, None);
    match waited {
        Ok(_) => Ok(response),
        Err(failure) if answered => Err(failure),
        Err(failure) => {
            host::log(
                wisp_abi::LogLevel::Error,
                &format!(
                    "waitUntil work failed: {}\n{}",
                    failure.message, failure.stack
                ),
            );
            Ok(response)
        }
    }
}

/// The promise of the request's `waitUntil` work, taken once (the flag is cleared); `None` when
/// there is none. Work added while it is awaited joins the same promise, so one look suffices.
fn pending_work<'js>(engine: &Engine, ctx: &Ctx<'js>) -> Result<Option<Promise<'js>>, Failure> {
    if !WAIT_UNTIL.with(|w| w.replace(false)) {
        return Ok(None);
    }
    let pending: Value = engine
        .pending_work
        .clone()
        .restore(ctx)
        .and_then(|f| f.call(()))
        .map_err(|e| errors::from_error(ctx, e))?;
    Ok(crate::kinds::promise(&pending).cloned())
}

fn timers<'js>(engine: &Engine, ctx: &Ctx<'js>) -> Result<Timers<'js>, Failure> {
    let restore = |f: &rquickjs::Persistent<Function<'static>>| {
        f.clone()
            .restore(ctx)
            .map_err(|e| errors::from_error(ctx, e))
    };
    Ok(Timers {
        next: restore(&engine.timers_next)?,
        fire: restore(&engine.timers_fire)?,
        collect: restore(&engine.timers_collect)?,
    })
}

/// Sends a `ReadableStream` body to the client as it is produced (and says whether it did): the head first, then each
/// chunk as the stream yields it (the loop runs the jobs and timers that produce them). Where
/// the host cannot stream (an in-process call with nobody to send to), the chunks are gathered
/// and returned as a whole response instead.
fn stream_body<'js>(
    ctx: &Ctx<'js>,
    timers: &Timers<'js>,
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    next: Function<'js>,
) -> Result<(Vec<u8>, bool), Failure> {
    let js = |e| errors::from_error(ctx, e);
    let head = HostCall::ResponseHead {
        status,
        headers: headers.clone(),
    };
    let streaming = host::call(&head).is_ok();
    let mut gathered = Vec::new();
    loop {
        let chunk: Promise = next.call(()).map_err(js)?;
        let chunk = drive(ctx, timers, chunk)?;
        if chunk.is_null() {
            break;
        }
        let bytes = TypedArray::<u8>::from_value(chunk).map_err(js)?;
        // SAFETY: no JS runs while the slice is borrowed.
        let bytes = unsafe { bytes.as_bytes() }.unwrap_or(&[]);
        if !streaming {
            gathered.extend_from_slice(bytes);
            continue;
        }
        if bytes.is_empty() {
            continue;
        }
        if let Err(gone) = host::call(&HostCall::ResponseChunk(bytes.to_vec())) {
            // The client went away: tell the stream's source, and stop.
            let cancel: Function = next.get("cancel").map_err(js)?;
            cancel.call::<_, ()>((gone,)).map_err(js)?;
            while ctx.execute_pending_job() {}
            break;
        }
    }
    if streaming {
        // The body is complete: the client has its end now, not once `waitUntil` work is done.
        let _ = host::call(&HostCall::ResponseEnd);
    }
    let response = Response {
        status,
        headers: if streaming { Vec::new() } else { headers },
        body: gathered,
    };
    Ok((response.encode(), streaming))
}

/// The two entry points of `polyfills/70-timers.js` the loop needs.
pub struct Timers<'js> {
    /// `() -> number`: when the next timer is due (monotonic ms), or -1.
    pub next: Function<'js>,
    /// `() -> undefined`: runs the timers that are due.
    pub fire: Function<'js>,
    /// `(timeoutMs) -> boolean`: waits at most that long (negative: no limit) for a running
    /// `fetch` to finish and settles its promise; false if none finished in time
    /// (`polyfills/75-fetch.js`).
    pub collect: Function<'js>,
}

/// Runs the pending jobs; then, if `promise` has settled, its value or its rejection as a
/// failure.
fn settle_ready<'js>(ctx: &Ctx<'js>, promise: &Promise<'js>) -> Option<Result<Value<'js>, Failure>> {
    while ctx.execute_pending_job() {}
    match promise.state() {
        PromiseState::Resolved => Some(
            promise
                .result::<Value>()
                .expect("a resolved promise has a result")
                .map_err(|e| errors::from_error(ctx, e)),
        ),
        PromiseState::Rejected => {
            let err = promise
                .result::<Value>()
                .expect("a rejected promise has a result")
                .expect_err("a rejected promise yields an error");
            Some(Err(errors::from_error(ctx, err)))
        }
        PromiseState::Pending => None,
    }
}

/// Runs jobs and timers until `promise` settles; its value, or its rejection as a failure.
pub fn drive<'js>(
    ctx: &Ctx<'js>,
    timers: &Timers<'js>,
    promise: Promise<'js>,
) -> Result<Value<'js>, Failure> {
    let Timers {
        next,
        fire,
        collect,
    } = timers;
    loop {
        if let Some(settled) = settle_ready(ctx, &promise) {
            return settled;
        }
        let due: f64 = next.call(()).map_err(|e| errors::from_error(ctx, e))?;
        if crate::fetch::in_flight() {
            // Wait for a fetch, but no longer than the next timer.
            let timeout = if due < 0.0 {
                -1.0
            } else {
                (due - host::monotonic_ms()).max(0.0)
            };
            let settled: bool = collect
                .call((timeout,))
                .map_err(|e| errors::from_error(ctx, e))?;
            if settled || due < 0.0 {
                continue;
            }
            // None finished before the timer: fire it.
        } else if due < 0.0 {
            return Err(Failure::new(
                FailureKind::NeverSettled,
                "the handler's promise never settled: no pending jobs or timers are left \
                 (was a resolve function dropped?)",
                "",
            ));
        } else {
            let wait = due - host::monotonic_ms();
            if wait > 0.0 {
                std::thread::sleep(std::time::Duration::from_secs_f64(wait / 1000.0));
            }
        }
        if let Err(e) = fire.call::<_, ()>(()) {
            // An exception in a timer callback is uncaught: log it, keep serving the request.
            let failure = errors::from_error(ctx, e);
            host::log(
                wisp_abi::LogLevel::Error,
                &format!("Uncaught in timer: {}\n{}", failure.message, failure.stack),
            );
        }
    }
}

/// The handler's response as `finishResponse` takes it apart: `[status, headers, body]`.
enum Parts<'js> {
    /// The response, encoded for the host.
    Whole(Vec<u8>),
    /// The body is a stream; `next()` gives a promise of its next chunk (null at the end).
    Stream {
        status: u16,
        headers: Vec<(String, Vec<u8>)>,
        next: Function<'js>,
    },
}

fn read_response<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<Parts<'js>, Failure> {
    let parts = || -> rquickjs::Result<Parts<'js>> {
        let arr: Array = rquickjs::FromJs::from_js(ctx, value)?;
        let status: u16 = arr.get(0)?;
        let wire: Value = arr.get(1)?;
        let payload: Value = arr.get(2)?;
        let Some(next) = crate::kinds::function(&payload) else {
            return Ok(Parts::Whole(encode_whole(ctx, status, &wire, payload)?));
        };
        let wire = Text::of(ctx, &wire)?;
        let headers = header_bytes(ctx, &wire)?;
        let mut pairs = Vec::new();
        for pair in wisp_abi::HeaderLines::new(&headers) {
            let Ok((name, value)) = pair else {
                return Err(rquickjs::Exception::throw_type(
                    ctx,
                    "Response: a header name without a value",
                ));
            };
            pairs.push((String::from_utf8_lossy(name).into_owned(), value.to_vec()));
        }
        Ok(Parts::Stream {
            status,
            headers: pairs,
            next: next.clone(),
        })
    };
    parts().map_err(|e| errors::from_error(ctx, e))
}

/// A whole response in the ABI's encoding: `wire` the header string (`name\nvalue\n…`: neither
/// a name nor a value can hold a newline, and ASCII, as nearly all headers are, goes to the
/// host as it is), `body` a string, a `Uint8Array`, or null for none.
fn encode_whole<'js>(
    ctx: &Ctx<'js>,
    status: u16,
    wire: &Value<'js>,
    body: Value<'js>,
) -> rquickjs::Result<Vec<u8>> {
    let wire = Text::of(ctx, wire)?;
    let headers = header_bytes(ctx, &wire)?;
    Ok(if body.is_null() {
        wisp_abi::encode_response(status, &headers, &[])
    } else if body.is_string() {
        let text = Text::of(ctx, &body)?;
        wisp_abi::encode_response(status, &headers, text.to_str_lossy().as_bytes())
    } else {
        let bytes = TypedArray::<u8>::from_value(body)?;
        // SAFETY: no JS runs while the slice is borrowed.
        let body = unsafe { bytes.as_bytes() }.unwrap_or(&[]);
        wisp_abi::encode_response(status, &headers, body)
    })
}

/// Header bytes from the host as a JS ByteString: each byte one code unit (Latin-1), as fetch
/// does. ASCII, nearly always, is passed as it is.
fn latin1(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(ascii) if bytes.is_ascii() => std::borrow::Cow::Borrowed(ascii),
        _ => std::borrow::Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// The response's header string as bytes: code units up to U+00FF are one byte each
/// (ByteString); a value with anything above is sent as UTF-8, which is what users who write
/// non-Latin-1 header values mean.
fn header_bytes<'a>(
    ctx: &Ctx<'_>,
    wire: &'a Text<'_, '_>,
) -> rquickjs::Result<std::borrow::Cow<'a, [u8]>> {
    let bytes = wire.bytes();
    if bytes.is_ascii() {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let Some(text) = wire.as_str() else {
        return Err(rquickjs::Exception::throw_type(
            ctx,
            "Response: a header holds a lone surrogate",
        ));
    };
    let mut out = Vec::with_capacity(bytes.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        if line.chars().all(|c| u32::from(c) <= 0xFF) {
            out.extend(line.chars().map(|c| c as u8));
        } else {
            out.extend_from_slice(line.as_bytes());
        }
    }
    Ok(std::borrow::Cow::Owned(out))
}
