//! The global `Response` and `EdgeResponse`: C constructors in front of
//! `polyfills/61-response.js`'s class and function, for the response nearly every request
//! makes.
//!
//! As JS, `new Response(text)` cost about 7,000 Wasm instructions, most of it the interpreter
//! constructing a class instance (a frame, `new.target`'s prototype, the default parameters)
//! and adding the brand property; `new EdgeResponse(spec)` was a JS call around `edgeInit`.
//! Here the object is made of `new.target.prototype` and its state as `responseInit` and
//! `edgeInit` make it (`response.rs`). What they leave goes, with the object, to the
//! polyfill's own `general` (the init's members already read) or `init` (any other body and
//! init); a call without `new`, or a `new.target` whose prototype is not an object, goes to the
//! class or function itself. Either way the response's prototype stays the polyfill's, whose
//! `constructor` is the global.
//!
//! The spare state (a text response's state made while the snapshot is, see 61-response.js)
//! is held here, since the constructors hand it out: the polyfill's own paths take it and give
//! it back with `swapResponseSpare`.

use crate::raw_native::{self, Args, RawNative};
use crate::response::{Target, edge_state, init_state, make_state};
use rquickjs::{Array, Ctx, Error, Object, Result, Value, qjs};
use std::cell::Cell;
use std::ffi::{CStr, c_int};

/// What the constructors use of the polyfill; one reference to each, never released.
#[derive(Clone, Copy)]
struct Polyfill {
    response_class: qjs::JSValue,
    edge_function: qjs::JSValue,
    /// `init(r, body, init, label, bodyType)` and `general(r, body, read, label, bodyType)`.
    init: qjs::JSValue,
    general: qjs::JSValue,
    /// A text body's content type, the symbol a response's state is kept under, the shared
    /// `x` of a plain response, and the label of errors (`'Response'`).
    text: qjs::JSValue,
    brand: qjs::JSValue,
    plain: qjs::JSValue,
    label: qjs::JSValue,
}

thread_local! {
    static POLYFILL: Cell<Option<Polyfill>> = const { Cell::new(None) };
    /// The spare state: one reference, or `JS_UNDEFINED` while there is none.
    static SPARE: Cell<qjs::JSValue> = const { Cell::new(qjs::JS_UNDEFINED) };
    /// Whether a spare state was handed out: it then keeps a reference of its own, never
    /// released (see 00-internal.js `spares`).
    static SPENT: Cell<bool> = const { Cell::new(false) };
}

pub fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    raw_native::install::<ResponseConstructors>(ctx, native)?;
    raw_native::install::<SwapResponseSpare>(ctx, native)
}

/// `value` as a handle of its own (a new reference).
fn handle<'js>(ctx: &Ctx<'js>, value: qjs::JSValue) -> Value<'js> {
    // SAFETY: the value is held for the engine's life; the duplicate is the handle's.
    unsafe { Value::from_raw(ctx.clone(), qjs::JS_DupValue(ctx.as_raw().as_ptr(), value)) }
}

fn polyfill() -> Polyfill {
    POLYFILL
        .with(Cell::get)
        .expect("61-response.js installs the constructors before any response is made")
}

/// Takes the spare state (`undefined` when there is none): the caller owns it.
fn take_spare<'js>(ctx: &Ctx<'js>) -> Value<'js> {
    let raw = SPARE.with(|s| s.replace(qjs::JS_UNDEFINED));
    // SAFETY: the slot's reference moves to the handle.
    let spare = unsafe { Value::from_raw(ctx.clone(), raw) };
    if spare.is_object() && !SPENT.with(|s| s.replace(true)) {
        // SAFETY: a reference of the state's own, never released: the instance ends first.
        unsafe { qjs::JS_DupValue(ctx.as_raw().as_ptr(), raw) };
    }
    spare
}

/// Puts `spare` (an unused spare state, or nothing) back in the slot.
fn give_back(ctx: &Ctx<'_>, spare: &Value<'_>) {
    if spare.is_object() {
        // SAFETY: the duplicate is the reference the slot holds.
        let raw = unsafe { qjs::JS_DupValue(ctx.as_raw().as_ptr(), spare.as_raw()) };
        let old = SPARE.with(|s| s.replace(raw));
        // SAFETY: a reference the slot held (none when it was `undefined`), released once.
        unsafe { qjs::JS_FreeValue(ctx.as_raw().as_ptr(), old) };
    }
}

/// `responseConstructors(Response, EdgeResponse, init, general, bodyType, brand, plain,
/// label)`: keeps what the constructors use and answers `[Response, EdgeResponse]`, the C
/// constructors. Once, while the snapshot is made.
struct ResponseConstructors;

impl RawNative for ResponseConstructors {
    const NAME: &'static CStr = c"responseConstructors";
    const LENGTH: c_int = 8;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>> {
        let keep = |i: usize| {
            // SAFETY: the duplicate is the reference the thread-local keeps, never released.
            unsafe { qjs::JS_DupValue(ctx.as_raw().as_ptr(), args.get(i).as_raw()) }
        };
        POLYFILL.with(|p| {
            p.set(Some(Polyfill {
                response_class: keep(0),
                edge_function: keep(1),
                init: keep(2),
                general: keep(3),
                text: keep(4),
                brand: keep(5),
                plain: keep(6),
                label: keep(7),
            }))
        });
        let both = Array::new(ctx.clone())?;
        both.set(0, raw_native::constructor::<NewResponse>(ctx)?)?;
        both.set(1, raw_native::constructor::<NewEdgeResponse>(ctx)?)?;
        Ok(both.into_value())
    }
}

/// `swapResponseSpare(state)`: holds `state` (an object, or `null` for none) as the spare and
/// answers the one held before (`null` for none).
struct SwapResponseSpare;

impl RawNative for SwapResponseSpare {
    const NAME: &'static CStr = c"swapResponseSpare";
    const LENGTH: c_int = 1;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>> {
        let before = take_spare(ctx);
        give_back(ctx, &args.get(0));
        Ok(if before.is_object() {
            before
        } else {
            Value::new_null(ctx.clone())
        })
    }
}

/// Where a constructor's state goes: `r`, with the polyfill's text type, brand and plain
/// extras, and the spare state (taken: a state made from it is `r`'s; the caller gives it back
/// if none was).
fn target<'js>(ctx: &Ctx<'js>, r: &Value<'js>) -> Target<'js> {
    let p = polyfill();
    Target {
        r: r.clone(),
        brand: handle(ctx, p.brand),
        body_type: handle(ctx, p.text),
        plain: handle(ctx, p.plain),
        spare: take_spare(ctx),
    }
}

/// Calls the polyfill's `function(r, body, what, label, bodyType)` (`init` or `general`).
fn call_polyfill<'js>(
    ctx: &Ctx<'js>,
    function: qjs::JSValue,
    r: &Value<'js>,
    body: &Value<'js>,
    what: &Value<'js>,
) -> Result<()> {
    let p = polyfill();
    let mut argv = [
        r.as_raw(),
        body.as_raw(),
        what.as_raw(),
        p.label,
        p.text,
    ];
    // SAFETY: the function and the arguments are alive for the call, which only reads them;
    // its result is a new reference, owned by the handle.
    let result = unsafe {
        let raw = qjs::JS_Call(
            ctx.as_raw().as_ptr(),
            function,
            qjs::JS_UNDEFINED,
            argv.len() as c_int,
            argv.as_mut_ptr(),
        );
        Value::from_raw(ctx.clone(), raw)
    };
    if result.is_exception() {
        return Err(Error::Exception);
    }
    Ok(())
}

/// `new Response(body, init)`.
struct NewResponse;

impl RawNative for NewResponse {
    const NAME: &'static CStr = c"Response";
    const LENGTH: c_int = 0;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>> {
        let p = polyfill();
        let r = match args.constructing(p.response_class, true)? {
            Ok(r) => r,
            Err(made) => return Ok(made),
        };
        let body = args.get(0);
        let body = if body.is_undefined() {
            Value::new_null(ctx.clone())
        } else {
            body
        };
        let init = args.get(1);
        if init.is_undefined() && body.is_string() {
            // `new Response(text)`, the commonest of all.
            make_state(ctx, &target(ctx, &r), 200, None, body)?;
        } else if init.is_object() && !init.is_function() {
            // (A function as the init is `init`'s TypeError, as it was the class's.)
            let target = target(ctx, &r);
            let read = init_state(ctx, &target, body.clone(), &init)?;
            if !read.is_null() {
                give_back(ctx, &target.spare);
                call_polyfill(ctx, p.general, &r, &body, &read)?;
            }
        } else {
            call_polyfill(ctx, p.init, &r, &body, &init)?;
        }
        Ok(r)
    }
}

/// `new EdgeResponse(spec)`, the WasmEdge article's form, and `new EdgeResponse(body, init)`.
struct NewEdgeResponse;

impl RawNative for NewEdgeResponse {
    const NAME: &'static CStr = c"EdgeResponse";
    const LENGTH: c_int = 0;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>> {
        let p = polyfill();
        let spec = args.get(0);
        let init = args.get(1);
        // No spec is the function's (its default is `{}`), as is a call without `new`.
        let r = match args.constructing(p.edge_function, !spec.is_undefined())? {
            Ok(r) => r,
            Err(made) => return Ok(made),
        };
        if init.is_undefined() {
            let target = target(ctx, &r);
            let read = edge_state(ctx, &target, &spec)?;
            if read.is_null() {
                return Ok(r);
            }
            give_back(ctx, &target.spare);
            // The spec form, with what the native left: its members, and the body at 5.
            if let Some(read) = crate::kinds::object(&read) {
                let body: Value = read.get(5)?;
                call_polyfill(ctx, p.general, &r, &body, read.as_value())?;
                return Ok(r);
            }
        }
        // Not the spec form: a body, and maybe an init.
        call_polyfill(ctx, p.init, &r, &spec, &init)?;
        Ok(r)
    }
}
