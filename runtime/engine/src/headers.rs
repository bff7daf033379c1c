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
    for prop in record.props::<String, Value>() {
        let (name, value) = prop?;
        let name = match normalise_name(&name) {
            Some(n) => n,
            None => {
                return Err(Exception::throw_type(
                    &ctx,
                    &format!("Headers: invalid header name '{name}'"),
                ));
            }
        };
        if name == "set-cookie" || names.contains(&name) {
            return Ok(Value::new_null(ctx));
        }
        let value = if let Some(s) = value.as_string() {
            // A lone surrogate has no UTF-8 form (rquickjs refuses the bytes QuickJS gives for
            // it): such a value goes to the JS path, which keeps it as it is.
            match s.to_string() {
                Ok(s) => s,
                Err(_) => return Ok(Value::new_null(ctx)),
            }
        } else if value.is_number() {
            // JS's own number-to-string (`1e21`, `0.1`, …), not Rust's.
            value.get::<rquickjs::Coerced<String>>()?.0
        } else if let Some(b) = value.as_bool() {
            b.to_string()
        } else {
            return Ok(Value::new_null(ctx));
        };
        let value = trim_http_whitespace(&value);
        if value.contains(['\n', '\r', '\0']) {
            return Err(Exception::throw_type(
                &ctx,
                &format!("Headers: invalid header value '{value}'"),
            ));
        }
        let at = flat.len();
        flat.set(at, name.as_str())?;
        flat.set(at + 1, value)?;
        names.push(name);
    }
    Ok(flat.into_value())
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
