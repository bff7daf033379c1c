//! Header names and values checked in Rust: the common `{ 'content-type': …, … }` record of
//! `new Response(body, { headers })` becomes the validated `name\nvalue\n…` string the engine
//! sends, and that of `new Headers({ … })` validated wire pairs, in one native call. In the
//! interpreter, the same checks (a name lookup, a token test, three scans of the value per
//! header) cost about 3.5 µs per header on a fresh instance; here they are a loop over bytes.
//! `polyfills/40-headers.js` keeps every other case (iterables, Headers, duplicate names,
//! `set-cookie`).

use crate::props::{OwnKeys, Text};
use rquickjs::{Array, Ctx, Exception, Function, IntoJs, Object, Result, Value};
use std::borrow::Cow;

pub fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    native.set("headerRecord", Function::new(ctx.clone(), header_record)?)?;
    native.set("headerWire", Function::new(ctx.clone(), header_wire)?)?;
    Ok(())
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
fn header_record<'js>(ctx: Ctx<'js>, record: Object<'js>) -> Result<Value<'js>> {
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
fn header_wire<'js>(
    ctx: Ctx<'js>,
    record: Object<'js>,
    body_type: Option<String>,
) -> Result<Value<'js>> {
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
        wire.push_str(&body_type);
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
    mut emit: impl FnMut(&OwnKeys<'js>, Header<'_, 'js>) -> Result<()>,
) -> Result<bool> {
    let keys = OwnKeys::of(ctx, record)?;
    let mut names: Vec<String> = Vec::with_capacity(keys.len());
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
        if name == "set-cookie" || names.iter().any(|n| *n == name) {
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
        names.push(name.into_owned());
    }
    Ok(true)
}

/// The value trimmed of HTTP whitespace, or the TypeError the JS path throws for a value with a
/// line break or a NUL in it.
fn valid_value<'a>(ctx: &Ctx<'_>, value: &'a str) -> Result<&'a str> {
    let value = trim_http_whitespace(value);
    if value.contains(['\n', '\r', '\0']) {
        return Err(Exception::throw_type(
            ctx,
            &format!("Headers: invalid header value '{value}'"),
        ));
    }
    Ok(value)
}

/// The lower-cased name (borrowed when it is lower-case already), or `None` if it is not an
/// HTTP token (RFC 9110 `tchar`s).
fn normalise_name(name: &str) -> Option<Cow<'_, str>> {
    let ok = !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
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
                )
        });
    if !ok {
        return None;
    }
    Some(if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    })
}

/// Strips leading and trailing tab, LF, CR and space (the Fetch standard's "normalize").
fn trim_http_whitespace(value: &str) -> &str {
    value.trim_matches(['\t', '\n', '\r', ' '])
}
