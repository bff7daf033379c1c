//! Header names and values checked in Rust: the common `{ 'content-type': …, … }` record of
//! `new Response(body, { headers })` and `new Headers({ … })` becomes validated wire pairs in
//! one native call. In the interpreter, the same checks (a name lookup, a token test, three
//! scans of the value per header) cost about 3.5 µs per header on a fresh instance; here they
//! are a loop over bytes. `polyfills/40-headers.js` keeps every other case (iterables, Headers,
//! duplicate names, `set-cookie`).

use rquickjs::{Array, Ctx, Exception, Function, Object, Result, Value};

pub fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    native.set("headerRecord", Function::new(ctx.clone(), header_record)?)?;
    Ok(())
}

/// `record`'s own enumerable properties as `[name, value, …]`, names lower-cased and values
/// trimmed of HTTP whitespace, in the order `Object.keys` gives; `null` when the general path
/// must decide: a `set-cookie` (kept apart, not combined), two keys naming the same header
/// (their values are combined), a value that is not a string, number or boolean (its
/// `toString` is the JS path's to call), or a string with a lone surrogate. Throws the
/// TypeError the JS path throws for an invalid name or value.
fn header_record<'js>(ctx: Ctx<'js>, record: Object<'js>) -> Result<Value<'js>> {
    let flat = Array::new(ctx.clone())?;
    let mut names: Vec<String> = Vec::new();
    for prop in record.props::<rquickjs::String, Value>() {
        let (js_name, value) = prop?;
        let given = js_name.to_string()?;
        let name = match normalise_name(&given) {
            Some(n) => n,
            None => {
                return Err(Exception::throw_type(
                    &ctx,
                    &format!("Headers: invalid header name '{given}'"),
                ));
            }
        };
        if name == "set-cookie" || names.contains(&name) {
            return Ok(Value::new_null(ctx));
        }
        let at = flat.len();
        // Names and values that need no change go back as the JS strings they are: making new
        // ones would cost an allocation and a UTF-8 round trip each.
        if name == given {
            flat.set(at, js_name)?;
        } else {
            flat.set(at, name.as_str())?;
        }
        if let Some(s) = value.as_string() {
            // A lone surrogate has no UTF-8 form (rquickjs refuses the bytes QuickJS gives for
            // it): such a value goes to the JS path, which keeps it as it is.
            let Ok(text) = s.to_string() else {
                return Ok(Value::new_null(ctx));
            };
            let trimmed = valid_value(&ctx, &text)?;
            if trimmed.len() == text.len() {
                flat.set(at + 1, value)?;
            } else {
                flat.set(at + 1, trimmed)?;
            }
        } else {
            let text = if value.is_number() {
                // JS's own number-to-string (`1e21`, `0.1`, …), not Rust's.
                value.get::<rquickjs::Coerced<String>>()?.0
            } else if let Some(b) = value.as_bool() {
                b.to_string()
            } else {
                return Ok(Value::new_null(ctx));
            };
            flat.set(at + 1, valid_value(&ctx, &text)?)?;
        }
        names.push(name);
    }
    Ok(flat.into_value())
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

/// The lower-cased name, or `None` if it is not an HTTP token (RFC 9110 `tchar`s).
fn normalise_name(name: &str) -> Option<String> {
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
    ok.then(|| name.to_ascii_lowercase())
}

/// Strips leading and trailing tab, LF, CR and space (the Fetch standard's "normalize").
fn trim_http_whitespace(value: &str) -> &str {
    value.trim_matches(['\t', '\n', '\r', ' '])
}
