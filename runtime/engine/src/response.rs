//! A `Response`'s state, natively at both ends of its life: made from its init
//! (`new Response(body, { status, headers })`, and the WasmEdge article's
//! `new EdgeResponse({ status, headers, body })`) in one native call, and read for sending
//! ([`plain_parts`]) without the dispatcher's JS.
//!
//! In the interpreter, the init's checks (its members read, the status range, an empty
//! `statusText`, the body's kind) and the response's state object cost about 10,000 Wasm
//! instructions, and telling the article's spec form apart about 5,000 more: each JS statement
//! is about a hundred, each property made about 700. `polyfills/61-response.js` keeps every
//! case this file hands back (a stream or bytes body, a `Headers` init, a `statusText`, an
//! invalid status) and throws the errors; `polyfills/90-dispatch.js` (`finish`) takes apart
//! every response [`plain_parts`] leaves.

use crate::headers::{header_wire, is_plain_object};
use crate::props::Text;
use crate::raw_native::{self, Args, RawNative};
use rquickjs::{Array, Ctx, Error, Object, Result, Value, qjs};
use std::cell::Cell;
use std::ffi::{CStr, c_int};

/// The names this file reads and writes, as atoms made once (QuickJS keeps an atom for as long
/// as a reference to it is held; these are never released, so they live in the snapshot too).
#[derive(Clone, Copy)]
struct Atoms {
    status: qjs::JSAtom,
    status_text: qjs::JSAtom,
    headers: qjs::JSAtom,
    web_socket: qjs::JSAtom,
    body: qjs::JSAtom,
    wire: qjs::JSAtom,
    src: qjs::JSAtom,
    x: qjs::JSAtom,
}

thread_local! {
    static ATOMS: Cell<Option<Atoms>> = const { Cell::new(None) };
    /// What [`plain_parts`] needs of the polyfill (`knowResponses`): the symbol a response's
    /// state is kept under, the body a sent response is left with, and `Response`. One
    /// reference to each is held for the engine's whole life.
    static KNOWN: Cell<Option<Known>> = const { Cell::new(None) };
}

#[derive(Clone, Copy)]
struct Known {
    brand: qjs::JSAtom,
    sent: qjs::JSValue,
    response_class: qjs::JSValue,
}

fn atom(ctx: &Ctx<'_>, name: &CStr) -> Result<qjs::JSAtom> {
    // SAFETY: the context is alive and `name` is NUL-terminated.
    let atom = unsafe { qjs::JS_NewAtom(ctx.as_raw().as_ptr(), name.as_ptr()) };
    if atom == qjs::JS_ATOM_NULL {
        return Err(Error::Exception);
    }
    Ok(atom)
}

pub fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    ATOMS.with(|a| -> Result<()> {
        a.set(Some(Atoms {
            status: atom(ctx, c"status")?,
            status_text: atom(ctx, c"statusText")?,
            headers: atom(ctx, c"headers")?,
            web_socket: atom(ctx, c"webSocket")?,
            body: atom(ctx, c"body")?,
            wire: atom(ctx, c"wire")?,
            src: atom(ctx, c"src")?,
            x: atom(ctx, c"x")?,
        }));
        Ok(())
    })?;
    raw_native::install::<ResponseInit>(ctx, native)?;
    raw_native::install::<EdgeInit>(ctx, native)?;
    raw_native::install::<KnowResponses>(ctx, native)?;
    crate::response_ctor::install(ctx, native)
}

fn atoms() -> Atoms {
    ATOMS
        .with(Cell::get)
        .expect("response::install runs before any response is made")
}

/// `object[atom]`, getters run.
fn get<'js>(ctx: &Ctx<'js>, object: &Value<'js>, atom: qjs::JSAtom) -> Result<Value<'js>> {
    // SAFETY: the object and the atom are alive; the result is a new reference `from_raw` owns.
    let value = unsafe {
        let raw = qjs::JS_GetProperty(ctx.as_raw().as_ptr(), object.as_raw(), atom);
        Value::from_raw(ctx.clone(), raw)
    };
    if value.is_exception() {
        return Err(Error::Exception);
    }
    Ok(value)
}

/// Defines `object[atom] = value` as a literal's field is (writable, enumerable, configurable),
/// so that the object shares the shape of those the polyfill makes.
fn define<'js>(
    ctx: &Ctx<'js>,
    object: &Object<'js>,
    atom: qjs::JSAtom,
    value: Value<'js>,
) -> Result<()> {
    // SAFETY: the object and the atom are alive; QuickJS takes the duplicate's reference, and
    // `value` releases its own when it drops.
    let status = unsafe {
        qjs::JS_DefinePropertyValue(
            ctx.as_raw().as_ptr(),
            object.as_raw(),
            atom,
            qjs::JS_DupValue(ctx.as_raw().as_ptr(), value.as_raw()),
            qjs::JS_PROP_C_W_E as c_int,
        )
    };
    if status < 0 {
        return Err(Error::Exception);
    }
    Ok(())
}

/// A status the fast path takes: an integer from 200 to 599 (`undefined` is 200).
fn plain_status(status: &Value<'_>) -> Option<i32> {
    if status.is_undefined() {
        return Some(200);
    }
    let n = match status.as_int() {
        Some(n) => n,
        None => {
            let f = status.as_float()?;
            if f.fract() != 0.0 || !(200.0..=599.0).contains(&f) {
                return None;
            }
            f as i32
        }
    };
    (200..=599).contains(&n).then_some(n)
}

/// The statuses from 200 up whose responses have no body (the Fetch standard's "null body
/// status" also has 101 and 103, which no `Response` can have).
fn null_body_status(status: i32) -> bool {
    matches!(status, 204 | 205 | 304)
}

/// `responseInit(r, body, init, bodyType, brand, plain, spare)`: reads `init`'s `status`,
/// `statusText`, `headers` and `webSocket`, each once and in that order. When the body is a
/// string or absent, the status an integer from 200 to 599, `statusText` absent,
/// `headers` absent or a plain record ([`header_wire`]) and `webSocket` absent, sets
/// `r[brand]` to the response's state (`{ status, headers: null, wire, body: null, src, x:
/// plain }`, the polyfill's own shape; `spare` filled in, when it is the snapshot's spare state)
/// and returns `null`. Otherwise returns what it read, `[status, statusText, headers,
/// webSocket, walked]` (`walked`: the headers record was read and needs the general path), for
/// the polyfill's general path.
struct ResponseInit;

impl RawNative for ResponseInit {
    const NAME: &'static CStr = c"responseInit";
    const LENGTH: c_int = 7;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>> {
        init_state(ctx, &Target::from_args(&args, 3), args.get(1), &args.get(2))
    }
}

/// Where [`init_state`] puts the state it makes, and what with.
pub(crate) struct Target<'js> {
    /// The response being made, and the symbol its state goes under.
    pub r: Value<'js>,
    pub brand: Value<'js>,
    /// The content type a text body gets when the headers name none.
    pub body_type: Value<'js>,
    /// The polyfill's shared `x` for a plain response.
    pub plain: Value<'js>,
    /// The snapshot's spare state, or `null`.
    pub spare: Value<'js>,
}

impl<'js> Target<'js> {
    /// The response is the first argument; `bodyType, brand, plain, spare` follow from `at`.
    fn from_args(args: &Args<'_, 'js>, at: usize) -> Self {
        Target {
            r: args.get(0),
            body_type: args.get(at),
            brand: args.get(at + 1),
            plain: args.get(at + 2),
            spare: args.get(at + 3),
        }
    }
}

/// [`ResponseInit`]'s work, for it and for [`EdgeInit`]: `null` when the state is made, else
/// the members read, `[status, statusText, headers, webSocket, walked]`.
pub(crate) fn init_state<'js>(
    ctx: &Ctx<'js>,
    target: &Target<'js>,
    body: Value<'js>,
    init: &Value<'js>,
) -> Result<Value<'js>> {
    let atoms = atoms();
    let body_type = target.body_type.clone();
    let status = get(ctx, init, atoms.status)?;
    let status_text = get(ctx, init, atoms.status_text)?;
    let headers = get(ctx, init, atoms.headers)?;
    let web_socket = get(ctx, init, atoms.web_socket)?;
    let text = body.is_string();
    let simple_body = text || body.is_null() || body.is_undefined();
    let simple_rest =
        status_text.is_undefined() && (web_socket.is_undefined() || web_socket.is_null());
    // A text body with a null-body status is the general path's TypeError to throw.
    let quick = plain_status(&status)
        .filter(|&s| simple_body && simple_rest && !(text && null_body_status(s)));
    let wire = match quick {
        None => None,
        Some(_) if headers.is_undefined() || headers.is_null() => Some(if text {
            content_type_wire(ctx, &body_type)?
        } else {
            rquickjs::String::from_str(ctx.clone(), "")?.into_value()
        }),
        Some(_) => {
            let body_type = if text {
                body_type
            } else {
                Value::new_undefined(ctx.clone())
            };
            Some(header_wire(ctx, headers.clone(), &body_type)?).filter(Value::is_string)
        }
    };
    // Whether `header_wire` walked the record already: the general path must not again
    // (a getter in the record would run twice).
    let walked = quick.is_some() && !(headers.is_undefined() || headers.is_null());
    let (Some(status), Some(wire)) = (quick, wire) else {
        let read = Array::new(ctx.clone())?;
        read.set(0, status)?;
        read.set(1, status_text)?;
        read.set(2, headers)?;
        read.set(3, web_socket)?;
        read.set(4, walked)?;
        return Ok(read.into_value());
    };
    let src = if text {
        body
    } else {
        Value::new_null(ctx.clone())
    };
    make_state(ctx, target, status, Some(wire), src)?;
    Ok(Value::new_null(ctx.clone()))
}

/// Makes `target.r`'s state for a response of `status`, headers `wire` (`None`: a text
/// response's, `content-type` the body type) and body source `src` (a string, or null), from
/// the spare state when there is one, and puts it under the brand.
pub(crate) fn make_state<'js>(
    ctx: &Ctx<'js>,
    target: &Target<'js>,
    status: i32,
    wire: Option<Value<'js>>,
    src: Value<'js>,
) -> Result<()> {
    let atoms = atoms();
    let state = if let Some(spare) = crate::kinds::object(&target.spare) {
        // The snapshot's spare state, made as a fresh text response's (status 200, the text
        // wire): `headers`, `body` and `x` are already what they must be.
        if status != 200 {
            put(
                ctx,
                spare,
                atoms.status,
                Value::new_int(ctx.clone(), status),
            )?;
        }
        if let Some(wire) = wire {
            put(ctx, spare, atoms.wire, wire)?;
        }
        put(ctx, spare, atoms.src, src)?;
        spare.clone()
    } else {
        let wire = match wire {
            Some(wire) => wire,
            None => content_type_wire(ctx, &target.body_type)?,
        };
        let state = Object::new(ctx.clone())?;
        define(
            ctx,
            &state,
            atoms.status,
            Value::new_int(ctx.clone(), status),
        )?;
        define(ctx, &state, atoms.headers, Value::new_null(ctx.clone()))?;
        define(ctx, &state, atoms.wire, wire)?;
        define(ctx, &state, atoms.body, Value::new_null(ctx.clone()))?;
        define(ctx, &state, atoms.src, src)?;
        define(ctx, &state, atoms.x, target.plain.clone())?;
        state
    };
    set(ctx, &target.r, &target.brand, state.into_value())
}

/// `'content-type\n' + bodyType`: the wire of a text response whose init names no headers.
fn content_type_wire<'js>(ctx: &Ctx<'js>, body_type: &Value<'js>) -> Result<Value<'js>> {
    let text = Text::of(ctx, body_type)?;
    const PREFIX: &[u8] = b"content-type\n";
    let mut wire = Vec::with_capacity(PREFIX.len() + text.bytes().len());
    wire.extend_from_slice(PREFIX);
    wire.extend_from_slice(text.bytes());
    // The polyfill's body types are ASCII constants: the bytes are the text.
    let len = wire.len() as qjs::size_t;
    // SAFETY: the context is alive; QuickJS copies the bytes.
    let raw = unsafe { qjs::JS_NewStringLen(ctx.as_raw().as_ptr(), wire.as_ptr().cast(), len) };
    // SAFETY: a new reference, owned by the value.
    let value = unsafe { Value::from_raw(ctx.clone(), raw) };
    if value.is_exception() {
        return Err(Error::Exception);
    }
    Ok(value)
}

/// `object[atom] = value`, as an assignment does.
fn put<'js>(
    ctx: &Ctx<'js>,
    object: &Value<'js>,
    atom: qjs::JSAtom,
    value: Value<'js>,
) -> Result<()> {
    let c = ctx.as_raw().as_ptr();
    // SAFETY: object, atom and value are alive; `JS_SetProperty` takes the duplicate's
    // reference, and `value` releases its own when it drops.
    let status = unsafe {
        qjs::JS_SetProperty(
            c,
            object.as_raw(),
            atom,
            qjs::JS_DupValue(c, value.as_raw()),
        )
    };
    if status < 0 {
        return Err(Error::Exception);
    }
    Ok(())
}

/// `object[key] = value`, as the polyfill's assignment does.
fn set<'js>(
    ctx: &Ctx<'js>,
    object: &Value<'js>,
    key: &Value<'js>,
    value: Value<'js>,
) -> Result<()> {
    let c = ctx.as_raw().as_ptr();
    // SAFETY: the key is alive; the atom made from it is released below.
    let atom = unsafe { qjs::JS_ValueToAtom(c, key.as_raw()) };
    if atom == qjs::JS_ATOM_NULL {
        return Err(Error::Exception);
    }
    let result = put(ctx, object, atom, value);
    // SAFETY: the atom `JS_ValueToAtom` gave, released once.
    unsafe { qjs::JS_FreeAtom(c, atom) };
    result
}

/// Whether `new EdgeResponse(spec)` is the article's form, a plain object naming at least one
/// of `status`, `body` and `headers` (`'status' in spec`: inherited or own, no getter run),
/// rather than a body.
fn is_edge_spec(ctx: &Ctx<'_>, spec: &Value<'_>) -> Result<bool> {
    let Some(object) = is_plain_object(spec) else {
        return Ok(false);
    };
    let atoms = atoms();
    for atom in [atoms.status, atoms.body, atoms.headers] {
        // SAFETY: the object and the atom are alive.
        let has = unsafe { qjs::JS_HasProperty(ctx.as_raw().as_ptr(), object.as_raw(), atom) };
        if has < 0 {
            return Err(Error::Exception);
        }
        if has > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `edgeInit(r, spec, bodyType, brand, plain, spare)`: `new EdgeResponse(spec)` in one call.
/// `false` when `spec` is not the article's form (see [`is_edge_spec`]: it is then the body);
/// otherwise reads `spec.body` and goes on as [`ResponseInit`] with `spec` as the init,
/// answering `null` when the state is made, or what it read with the body at index 5.
struct EdgeInit;

impl RawNative for EdgeInit {
    const NAME: &'static CStr = c"edgeInit";
    const LENGTH: c_int = 6;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>> {
        edge_state(ctx, &Target::from_args(&args, 2), &args.get(1))
    }
}

/// [`EdgeInit`]'s work, for it and for the `EdgeResponse` constructor (`response_ctor.rs`):
/// `false` when `spec` is not the article's form, `null` when the state is made, else what
/// [`init_state`] read with the body at index 5.
pub(crate) fn edge_state<'js>(
    ctx: &Ctx<'js>,
    target: &Target<'js>,
    spec: &Value<'js>,
) -> Result<Value<'js>> {
    if !is_edge_spec(ctx, spec)? {
        return Ok(Value::new_bool(ctx.clone(), false));
    }
    let body = get(ctx, spec, atoms().body)?;
    let body = if body.is_undefined() {
        Value::new_null(ctx.clone())
    } else {
        body
    };
    let read = init_state(ctx, target, body.clone(), spec)?;
    if let Some(read) = crate::kinds::object(&read) {
        read.set(5, body)?;
    }
    Ok(read)
}

/// `knowResponses(brand, sent, Response)`: tells the engine how to read a response's state
/// (`polyfills/90-dispatch.js`), once, while the snapshot is made.
struct KnowResponses;

impl RawNative for KnowResponses {
    const NAME: &'static CStr = c"knowResponses";
    const LENGTH: c_int = 3;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>> {
        let c = ctx.as_raw().as_ptr();
        // SAFETY: the arguments are alive for the call; the atom and the duplicated values are
        // the references the thread-local keeps, never released.
        let known = unsafe {
            Known {
                brand: qjs::JS_ValueToAtom(c, args.get(0).as_raw()),
                sent: qjs::JS_DupValue(c, args.get(1).as_raw()),
                response_class: qjs::JS_DupValue(c, args.get(2).as_raw()),
            }
        };
        if known.brand == qjs::JS_ATOM_NULL {
            return Err(Error::Exception);
        }
        KNOWN.with(|k| k.set(Some(known)));
        Ok(Value::new_undefined(ctx.clone()))
    }
}

/// What a response sends, read straight from its state, when it is the common kind: a status
/// (not `Response.error()`'s), headers still as the wire string, and a body that is text, bytes
/// or none, not yet read or made into a `Body`. `Some((status, wire, body))`, the response
/// then marked sent as the dispatcher's `finish` marks it; `None` for the dispatcher to decide
/// (which also adopts a thenable, and throws for anything else that is not a `Response`).
/// `value` is checked to be a `Response` here (`instanceof`, natively).
///
/// Reading five fields here spares the dispatcher's JS `finish`, its call to make the header
/// string, and the `[status, headers, body]` array it answered with.
pub fn plain_parts<'js>(
    ctx: &Ctx<'js>,
    value: &Value<'js>,
) -> Result<Option<(u16, Value<'js>, Value<'js>)>> {
    let Some(known) = KNOWN.with(Cell::get) else {
        return Ok(None);
    };
    if !value.is_object() {
        return Ok(None);
    }
    let c = ctx.as_raw().as_ptr();
    // SAFETY: the value and the class are alive (the class for the engine's life).
    let is = unsafe { qjs::JS_IsInstanceOf(c, value.as_raw(), known.response_class) };
    if is < 0 {
        return Err(Error::Exception);
    }
    if is == 0 {
        return Ok(None);
    }
    let atoms = atoms();
    let state = get(ctx, value, known.brand)?;
    if !state.is_object() {
        return Ok(None);
    }
    let status = match get(ctx, &state, atoms.status)?.as_int() {
        Some(n) if n != 0 => match u16::try_from(n) {
            Ok(n) => n,
            Err(_) => return Ok(None),
        },
        _ => return Ok(None),
    };
    if !get(ctx, &state, atoms.headers)?.is_null() || !get(ctx, &state, atoms.body)?.is_null() {
        return Ok(None);
    }
    let src = get(ctx, &state, atoms.src)?;
    let plain_body = src.is_null()
        || src.is_string()
        || rquickjs::TypedArray::<u8>::from_value(src.clone()).is_ok();
    let wire = get(ctx, &state, atoms.wire)?;
    if !plain_body || !wire.is_string() {
        return Ok(None);
    }
    // SAFETY: `sent` is alive for the engine's life; `from_raw` owns the duplicate.
    let sent = unsafe { Value::from_raw(ctx.clone(), qjs::JS_DupValue(c, known.sent)) };
    put(ctx, &state, atoms.body, sent)?;
    Ok(Some((status, wire, src)))
}
