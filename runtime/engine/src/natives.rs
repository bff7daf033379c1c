//! The natives: small Rust functions the polyfills call where JavaScript would be slow or hard
//! to get right (WHATWG URL parsing, UTF-8, base64, random bytes, clocks, the host log).
//! They are installed on a hidden `__wisp_native` object that `polyfills/00-internal.js`
//! captures and removes from the global scope.

use crate::host;
use crate::props::Text;
use crate::raw_native::{self, RawGetter};
use rquickjs::{Ctx, Error, Exception, Function, IntoJs, Object, Result, TypedArray, Value, qjs};
use std::cell::Cell;
use std::ffi::{CString, c_int};
use wisp_abi::LogLevel;

pub fn install(ctx: &Ctx<'_>) -> Result<()> {
    let native = Object::new(ctx.clone())?;
    native.set("log", Function::new(ctx.clone(), log)?)?;
    native.set("utf8Encode", Function::new(ctx.clone(), utf8_encode)?)?;
    native.set("utf8Decode", Function::new(ctx.clone(), utf8_decode)?)?;
    native.set("base64EncodeLatin1", Function::new(ctx.clone(), btoa)?)?;
    native.set("base64DecodeLatin1", Function::new(ctx.clone(), atob)?)?;
    native.set("randomBytes", Function::new(ctx.clone(), random_bytes)?)?;
    native.set(
        "monotonicMs",
        Function::new(ctx.clone(), host::monotonic_ms)?,
    )?;
    native.set(
        "msSinceStart",
        Function::new(ctx.clone(), host::ms_since_start)?,
    )?;
    native.set("timeOrigin", Function::new(ctx.clone(), host::time_origin)?)?;
    native.set(
        "noteWaitUntil",
        Function::new(ctx.clone(), crate::event_loop::note_wait_until)?,
    )?;
    raw_native::install::<UrlParse>(ctx, &native)?;
    raw_native::install::<UrlConstructor>(ctx, &native)?;
    native.set("urlSet", Function::new(ctx.clone(), url_set)?)?;
    native.set("urlHeader", wisp_url::HEADER)?;
    native.set("urlGetters", Function::new(ctx.clone(), url_getters)?)?;
    native.set(
        "urlOrigin",
        Function::new(ctx.clone(), |href: String| wisp_url::origin(&href))?,
    )?;
    native.set(
        "percentDecodeLossy",
        Function::new(ctx.clone(), percent_decode_lossy)?,
    )?;
    crate::storage::install(ctx, &native)?;
    crate::fetch::install(ctx, &native)?;
    crate::headers::install(ctx, &native)?;
    crate::response::install(ctx, &native)?;
    crate::field_getters::install(ctx, &native)?;
    crate::json::install(ctx)?;
    crate::date::install(ctx)?;
    crate::subtle::install(ctx, &native)?;
    crate::compression::install(ctx, &native)?;
    ctx.globals().set("__wisp_native", native)?;
    Ok(())
}

fn log(level: i32, message: String) {
    host::log(LogLevel::from_i32(level), &message);
}

fn utf8_encode<'js>(ctx: Ctx<'js>, s: String) -> Result<TypedArray<'js, u8>> {
    TypedArray::new(ctx, s.into_bytes())
}

/// The bytes of a Uint8Array (or any view the polyfill normalised to one).
fn view_bytes<'a>(view: &'a TypedArray<'_, u8>) -> &'a [u8] {
    // SAFETY: the slice borrows the typed array, which keeps its buffer alive; nothing runs JS
    // (which could detach or resize the buffer) while the slice is in use.
    unsafe { view.as_bytes() }.unwrap_or(&[])
}

fn utf8_decode(bytes: TypedArray<'_, u8>, fatal: bool, ignore_bom: bool) -> Option<String> {
    let mut b = view_bytes(&bytes);
    if !ignore_bom && b.starts_with(&[0xEF, 0xBB, 0xBF]) {
        b = &b[3..];
    }
    if fatal {
        std::str::from_utf8(b).ok().map(str::to_owned)
    } else {
        Some(String::from_utf8_lossy(b).into_owned())
    }
}

fn random_bytes<'js>(ctx: Ctx<'js>, n: usize) -> Result<TypedArray<'js, u8>> {
    let mut buf = vec![0u8; n.min(1 << 20)];
    host::random_bytes(&mut buf);
    TypedArray::new(ctx, buf)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `btoa`: the string's code units must all be Latin-1; `None` otherwise.
fn btoa(s: String) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    for c in s.chars() {
        bytes.push(u8::try_from(u32::from(c)).ok()?);
    }
    Some(base64_encode(&bytes))
}

pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        out.push(B64[(n >> 18) as usize & 63] as char);
        out.push(B64[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            B64[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            B64[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// `atob`: the WHATWG "forgiving-base64 decode", to a Latin-1 string; `None` on failure.
fn atob(s: String) -> Option<String> {
    base64_decode(&s).map(|b| b.into_iter().map(char::from).collect())
}

pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut data: Vec<u8> = s
        .bytes()
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' '))
        .collect();
    if !s.is_ascii() {
        return None;
    }
    if data.len().is_multiple_of(4) {
        if data.ends_with(b"==") {
            data.truncate(data.len() - 2);
        } else if data.ends_with(b"=") {
            data.truncate(data.len() - 1);
        }
    }
    if data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in data {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `urlParse(input, base)`: the packed URL (see [`packed_url`]); `base` a string or
/// `undefined`. A C function: `new URL(request.url)` is in most handlers.
struct UrlParse;

impl raw_native::RawNative for UrlParse {
    const NAME: &'static std::ffi::CStr = c"urlParse";
    const LENGTH: c_int = 2;
    fn call<'js>(ctx: &Ctx<'js>, args: raw_native::Args<'_, 'js>) -> Result<Value<'js>> {
        let input = args.get(0);
        let input = Text::of(ctx, &input)?;
        let base = args.get(1);
        let base = if base.is_undefined() {
            None
        } else {
            Some(Text::of(ctx, &base)?)
        };
        let base = base.as_ref().map(Text::to_str_lossy);
        let url = wisp_url::parse_packed(&input.to_str_lossy(), base.as_deref());
        packed_url(ctx.clone(), url)
    }
}

thread_local! {
    /// The `URL` class as `polyfills/30-url.js` writes it, held for the engine's life: the
    /// native constructor hands it every call it does not finish itself.
    static URL_CLASS: Cell<qjs::JSValue> = const { Cell::new(qjs::JS_UNDEFINED) };
}

/// `urlConstructor(URL)`: the global `URL`, a C constructor ([`NewUrl`]) in front of the class
/// `URL`, which stays the owner of `URL.prototype` (30-url.js wires the two together).
struct UrlConstructor;

impl raw_native::RawNative for UrlConstructor {
    const NAME: &'static std::ffi::CStr = c"urlConstructor";
    const LENGTH: c_int = 1;
    fn call<'js>(ctx: &Ctx<'js>, args: raw_native::Args<'_, 'js>) -> Result<Value<'js>> {
        raw_native::keep(ctx, &args.get(0), &URL_CLASS);
        raw_native::constructor::<NewUrl>(ctx)
    }
}

/// `new URL(input)` with a string and no base, the call nearly every handler makes: parsed and
/// made here, as the class would make it (an object of `new.target.prototype` with the packed
/// URL under the components key). Any other call (a base, an input to convert, a URL that does
/// not parse, one too long to pack, a call without `new`) is the class's, errors included. As a
/// class, the constructor was a JS call, two checks and a property lookup around the parse:
/// about 6,000 of the 12,000 Wasm instructions a `new URL(request.url)` cost.
struct NewUrl;

impl raw_native::RawNative for NewUrl {
    const NAME: &'static std::ffi::CStr = c"URL";
    const LENGTH: c_int = 1;
    fn call<'js>(ctx: &Ctx<'js>, args: raw_native::Args<'_, 'js>) -> Result<Value<'js>> {
        let input = args.get(0);
        let packed = if input.is_string() && args.get(1).is_undefined() {
            let text = Text::of(ctx, &input)?;
            match wisp_url::parse_packed(&text.to_str_lossy(), None) {
                Some(wisp_url::Packed::Text(packed)) => Some(packed),
                _ => None,
            }
        } else {
            None
        };
        let url = match args.constructing(URL_CLASS.with(Cell::get), packed.is_some())? {
            Ok(url) => url,
            Err(made) => return Ok(made),
        };
        let packed = packed.expect("only a packed URL is made here").into_js(ctx)?;
        let c = ctx.as_raw().as_ptr();
        // SAFETY: the object and the atom are alive; QuickJS takes the duplicate's reference. The
        // flags are an assignment's, as the class's `this[C] = c`: the objects share a shape.
        let status = unsafe {
            qjs::JS_DefinePropertyValue(
                c,
                url.as_raw(),
                URL_COMPONENTS.with(Cell::get),
                qjs::JS_DupValue(c, packed.as_raw()),
                qjs::JS_PROP_C_W_E as c_int,
            )
        };
        if status < 0 {
            return Err(Error::Exception);
        }
        Ok(url)
    }
}

/// Applies one WHATWG setter to `href` (see [`wisp_url::set`]).
fn url_set<'js>(ctx: Ctx<'js>, href: String, which: String, value: String) -> Result<Value<'js>> {
    packed_url(
        ctx,
        wisp_url::set(&href, &which, &value).map(wisp_url::pack),
    )
}

/// A URL as the `URL` class stores it: one packed string, or for a URL too long to pack its
/// ten components (see [`wisp_url::pack`]); null when it did not parse.
fn packed_url<'js>(ctx: Ctx<'js>, url: Option<wisp_url::Packed>) -> Result<Value<'js>> {
    match url {
        None => Ok(Value::new_null(ctx)),
        Some(wisp_url::Packed::Text(text)) => text.into_js(&ctx),
        Some(wisp_url::Packed::Parts(parts)) => Vec::from(*parts).into_js(&ctx),
    }
}

thread_local! {
    /// The key (a symbol) under which a `URL` keeps its packed components
    /// (`polyfills/30-url.js`), as an atom held for the engine's life.
    static URL_COMPONENTS: Cell<qjs::JSAtom> = const { Cell::new(0) };
}

/// The URL components' names, in [`wisp_url::Components`]'s order.
const URL_PARTS: [&str; 10] = [
    "href", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search",
    "hash",
];

/// `urlGetters(key)`: the getters of `URL`'s ten components by name, as C functions that read
/// `this[key]`. A getter written in JS made three calls to slice a packed
/// URL (two `charCodeAt`s and a `slice`) besides its own: about 5,000 Wasm instructions for a
/// `pathname`.
fn url_getters<'js>(ctx: Ctx<'js>, key: Value<'js>) -> Result<Object<'js>> {
    // SAFETY: the context and the key are alive; the atom returned is a new reference, which
    // the thread-local keeps.
    let atom = unsafe { qjs::JS_ValueToAtom(ctx.as_raw().as_ptr(), key.as_raw()) };
    URL_COMPONENTS.with(|c| c.set(atom));
    let getters = Object::new(ctx.clone())?;
    for (i, name) in URL_PARTS.iter().enumerate() {
        let function_name = CString::new(format!("get {name}")).expect("no NUL in a name");
        getters.set(
            *name,
            raw_native::getter::<UrlPart>(&ctx, &function_name, i as c_int)?,
        )?;
    }
    Ok(getters)
}

/// The getter of URL component `magic` (see [`url_getters`]).
struct UrlPart;

impl RawGetter for UrlPart {
    fn get<'js>(ctx: &Ctx<'js>, this: Value<'js>, magic: c_int) -> Result<Value<'js>> {
        let index = usize::try_from(magic).expect("made with an index");
        let components = match crate::kinds::object(&this) {
            // SAFETY: the object and the atom are alive; the value returned is ours, and
            // `from_raw` owns it.
            Some(object) => unsafe {
                let raw = qjs::JS_GetProperty(
                    ctx.as_raw().as_ptr(),
                    object.as_raw(),
                    URL_COMPONENTS.with(Cell::get),
                );
                Value::from_raw(ctx.clone(), raw)
            },
            None => Value::new_undefined(ctx.clone()),
        };
        if components.is_exception() {
            return Err(Error::Exception);
        }
        if components.is_string() {
            let text = Text::of(ctx, &components)?;
            if let Some(part) = text.as_str().and_then(|t| wisp_url::component(t, index)) {
                return Ok(rquickjs::String::from_str(ctx.clone(), part)?.into_value());
            }
        } else if let Some(parts) = crate::kinds::array(&components) {
            // A URL too long to pack keeps its ten components.
            return parts.get(index);
        }
        Err(Exception::throw_type(
            ctx,
            &format!(
                "URL: 'get {}' called on an object that is not a URL",
                URL_PARTS[index]
            ),
        ))
    }
}

/// Percent-decodes what `decodeURIComponent` refused (invalid UTF-8 becomes U+FFFD).
fn percent_decode_lossy(s: String) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JS value as text, for messages: never throws.
pub fn describe<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> String {
    if let Some(s) = value.as_string() {
        return s.to_string().unwrap_or_default();
    }
    ctx.json_stringify(value.clone())
        .ok()
        .flatten()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_else(|| format!("{:?}", value.type_of()))
}
