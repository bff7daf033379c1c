//! Header names and values checked in Rust: the common `{ 'content-type': …, … }` record of
//! `new Response(body, { headers })` becomes the validated `name\nvalue\n…` string the engine
//! sends, and that of `new Headers({ … })` validated wire pairs, in one native call. In the
//! interpreter, the same checks (a name lookup, a token test, three scans of the value per
//! header) cost about 3.5 µs per header on a fresh instance; here they are a loop over bytes.
//! `polyfills/40-headers.js` keeps every other case (iterables, Headers, duplicate names,
//! `set-cookie`). Both natives answer `null` for anything but a plain object (one whose
//! prototype is `Object.prototype`), so the polyfills call them on any object without a check
//! of their own: in the interpreter, `Object.getPrototypeOf(x) === Object.prototype` alone
//! costs about 1,700 Wasm instructions.

use crate::props::{OwnKeys, Text};
use crate::raw_native::{self, Args, RawNative};
use rquickjs::{Array, Ctx, Exception, IntoJs, Object, Result, Value, qjs};
use std::borrow::Cow;
use std::cell::Cell;

thread_local! {
    /// Where `Object.prototype` lives. The context keeps it alive, and QuickJS never moves an
    /// object, so its address identifies it for the engine's whole life (snapshot included).
    static OBJECT_PROTOTYPE: Cell<usize> = const { Cell::new(0) };
}

pub fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    let prototype: Object = ctx.globals().get::<_, Object>("Object")?.get("prototype")?;
    OBJECT_PROTOTYPE.with(|p| p.set(address(&prototype)));
    raw_native::install::<HeaderRecord>(ctx, native)?;
    raw_native::install::<HeaderWire>(ctx, native)?;
    raw_native::install::<WireGet>(ctx, native)
}

/// `wireGet(wire, name)`: the value of header `name` (lower-case) in a `name\nvalue\n…` wire
/// string ([`wisp_abi::header_value`]: several values joined with `, `, as `Headers.get` joins
/// them); `null` when the wire has none. Lets `request.headers.get(…)` answer without building
/// the `Headers` map. The wires the engine and the polyfills make are valid UTF-8; for any other,
/// `undefined` sends the caller to the map.
struct WireGet;

impl RawNative for WireGet {
    const NAME: &'static std::ffi::CStr = c"wireGet";
    const LENGTH: std::ffi::c_int = 2;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>> {
        let (wire, name) = (args.get(0), args.get(1));
        let (wire, name) = (Text::of(ctx, &wire)?, Text::of(ctx, &name)?);
        match wisp_abi::header_value(wire.bytes(), name.bytes()) {
            None => Ok(Value::new_null(ctx.clone())),
            Some(value) => match std::str::from_utf8(&value) {
                Ok(text) => text.into_js(ctx),
                Err(_) => Ok(Value::new_undefined(ctx.clone())),
            },
        }
    }
}

/// `headerRecord(record)`: see [`header_record`].
struct HeaderRecord;

impl RawNative for HeaderRecord {
    const NAME: &'static std::ffi::CStr = c"headerRecord";
    const LENGTH: std::ffi::c_int = 1;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>> {
        header_record(ctx.clone(), args.get(0))
    }
}

/// `headerWire(record, bodyType)`: see [`header_wire`].
struct HeaderWire;

impl RawNative for HeaderWire {
    const NAME: &'static std::ffi::CStr = c"headerWire";
    const LENGTH: std::ffi::c_int = 2;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>> {
        header_wire(ctx, args.get(0), &args.get(1))
    }
}

/// Where an object lives, to tell it by identity.
fn address(object: &Object<'_>) -> usize {
    // SAFETY: `JS_VALUE_GET_PTR` only takes the pointer bits of an object value; the pointer
    // is compared, never dereferenced.
    unsafe { qjs::JS_VALUE_GET_PTR(object.as_raw()) as usize }
}

/// `value` as an object if it is a plain one (`{ … }`, made by a literal or `new Object`), not
/// an array, a class instance, a Headers, a Map or a null-prototype object.
pub(crate) fn is_plain_object<'js>(value: &Value<'js>) -> Option<Object<'js>> {
    let object = crate::kinds::object(value)?;
    let prototype = object.get_prototype()?;
    (address(&prototype) == OBJECT_PROTOTYPE.with(Cell::get)).then(|| object.clone())
}

/// One valid header of a record, as [`walk_record`] hands it on.
struct Header<'a, 'js> {
    /// Where the record has it.
    index: usize,
    /// The name, lower-cased; `renamed` when that changed it.
    name: &'a str,
    renamed: bool,
    /// The value, trimmed; its JS string when that is a string the trimming left alone.
    value: &'a str,
    js_value: Option<Value<'js>>,
}

/// `record`'s own enumerable properties as `[name, value, …]`, names lower-cased and values
/// trimmed of HTTP whitespace, in the order `Object.keys` gives; `null` when the general path
/// must decide (see [`walk_record`]). Throws the TypeError the JS path throws for an invalid
/// name or value.
fn header_record<'js>(ctx: Ctx<'js>, record: Value<'js>) -> Result<Value<'js>> {
    let Some(record) = is_plain_object(&record) else {
        return Ok(Value::new_null(ctx));
    };
    let flat = Array::new(ctx.clone())?;
    let complete = walk_record(&ctx, &record, |keys, header| {
        let at = flat.len();
        // Names and values that need no change go back as the JS strings they are: making new
        // ones would cost an allocation and a UTF-8 round trip each.
        if header.renamed {
            flat.set(at, header.name)?;
        } else {
            flat.set(at, keys.name_value(header.index)?)?;
        }
        match header.js_value {
            Some(js) => flat.set(at + 1, js),
            None => flat.set(at + 1, header.value),
        }
    })?;
    Ok(if complete {
        flat.into_value()
    } else {
        Value::new_null(ctx)
    })
}

/// A response's headers record as the engine sends it: one `name\nvalue\n…` string (see
/// [`header_record`] for the rules), with `content-type: body_type` added when the record has
/// no content type and `body_type` is given; `null` when the general path must decide. One
/// string instead of two per header, and nothing to join when the response is sent.
/// `body_type` is the content type's string, or any other value for none.
pub(crate) fn header_wire<'js>(
    ctx: &Ctx<'js>,
    record: Value<'js>,
    body_type: &Value<'js>,
) -> Result<Value<'js>> {
    let Some(record) = is_plain_object(&record) else {
        return Ok(Value::new_null(ctx.clone()));
    };
    let body_type = body_type
        .is_string()
        .then(|| Text::of(ctx, body_type))
        .transpose()?;
    let body_type = match &body_type {
        Some(text) => Some(text.as_str().ok_or_else(|| {
            Exception::throw_type(ctx, "Response: the body type has a lone surrogate")
        })?),
        None => None,
    };
    let ctx = ctx.clone();
    let mut wire = String::with_capacity(128);
    let mut typed = false;
    let complete = walk_record(&ctx, &record, |_, header| {
        typed |= header.name == "content-type";
        for part in [header.name, header.value] {
            if !wire.is_empty() {
                wire.push('\n');
            }
            wire.push_str(part);
        }
        Ok(())
    })?;
    if !complete {
        return Ok(Value::new_null(ctx));
    }
    if let (Some(body_type), false) = (body_type, typed) {
        if !wire.is_empty() {
            wire.push('\n');
        }
        wire.push_str("content-type\n");
        wire.push_str(body_type);
    }
    wire.into_js(&ctx)
}

/// Validates each of `record`'s own enumerable properties as a header and hands it to `emit`.
/// `Ok(false)` when the general path must decide: a `set-cookie` (kept apart, not combined),
/// two keys naming the same header (their values are combined), a value that is not a string,
/// number or boolean (its `toString` is the JS path's to call), or a key or string with a lone
/// surrogate. Throws the TypeError the JS path throws for an invalid name or value.
fn walk_record<'js>(
    ctx: &Ctx<'js>,
    record: &Object<'js>,
    mut emit: impl FnMut(&OwnKeys<'_, 'js>, Header<'_, 'js>) -> Result<()>,
) -> Result<bool> {
    let keys = OwnKeys::of(ctx, record)?;
    // Two keys can name one header ('Accept' and 'accept'). Names are compared by a hash: a
    // false match only sends the record down the general path, which combines real ones.
    let mut names: Vec<u64> = Vec::with_capacity(keys.len());
    for index in 0..keys.len() {
        let key = keys.name(index)?;
        let Some(given) = key.as_str() else {
            return Ok(false);
        };
        let Some(name) = normalise_name(given) else {
            return Err(Exception::throw_type(
                ctx,
                &format!("Headers: invalid header name '{given}'"),
            ));
        };
        let hash = fnv1a(name.as_bytes());
        if name == "set-cookie" || names.contains(&hash) {
            return Ok(false);
        }
        let value = keys.value(index)?;
        let coerced;
        let text;
        let given_value = if value.is_string() {
            text = Text::of(ctx, &value)?;
            match text.as_str() {
                Some(t) => t,
                None => return Ok(false),
            }
        } else if value.is_number() {
            // JS's own number-to-string (`1e21`, `0.1`, …), not Rust's.
            coerced = value.get::<rquickjs::Coerced<String>>()?.0;
            &coerced
        } else if let Some(b) = value.as_bool() {
            if b { "true" } else { "false" }
        } else {
            return Ok(false);
        };
        let trimmed = valid_value(ctx, given_value)?;
        let unchanged = value.is_string() && trimmed.len() == given_value.len();
        emit(
            &keys,
            Header {
                index,
                name: &name,
                renamed: name != given,
                value: trimmed,
                js_value: unchanged.then_some(value.clone()),
            },
        )?;
        names.push(hash);
    }
    Ok(true)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The value trimmed of HTTP whitespace, or the TypeError the JS path throws for a value with a
/// line break or a NUL in it.
fn valid_value<'a>(ctx: &Ctx<'_>, value: &'a str) -> Result<&'a str> {
    let value = trim_http_whitespace(value);
    if value.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0)) {
        return Err(Exception::throw_type(
            ctx,
            &format!("Headers: invalid header value '{value}'"),
        ));
    }
    Ok(value)
}

/// The bytes RFC 9110 allows in a token (`tchar`): ASCII letters and digits, and
/// ``!#$%&'*+-.^_`|~``.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// The lower-cased name (borrowed when it is lower-case already), or `None` if it is not an
/// HTTP token.
fn normalise_name(name: &str) -> Option<Cow<'_, str>> {
    let mut upper = false;
    for &b in name.as_bytes() {
        if !TCHAR[usize::from(b)] {
            return None;
        }
        upper |= b.is_ascii_uppercase();
    }
    if name.is_empty() {
        return None;
    }
    Some(if upper {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    })
}

/// Strips leading and trailing tab, LF, CR and space (the Fetch standard's "normalize").
fn trim_http_whitespace(value: &str) -> &str {
    let space = |b: &u8| matches!(b, b'\t' | b'\n' | b'\r' | b' ');
    let bytes = value.as_bytes();
    let start = bytes.iter().position(|b| !space(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !space(b))
        .map_or(start, |i| i + 1);
    // Both ends are next to an ASCII byte or at the string's ends: char boundaries.
    &value[start..end]
}
