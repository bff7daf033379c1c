//! The native behind `fetch` (`polyfills/75-fetch.js`): one outbound request as a
//! [`HostCall::Fetch`], performed by the host (allowlist, limits, redirects, TLS). The engine
//! waits without running JS while the host works; the instance's fiber is suspended, so no host
//! thread is held. A refusal or failure becomes a JS `TypeError`, as `fetch` specifies.

use rquickjs::{Array, Ctx, Exception, Function, Object, Result, TypedArray};
use wisp_abi::hostcall::{FetchRequest, HostCall, HostReply, Redirect};

pub fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    native.set("fetch", Function::new(ctx.clone(), fetch)?)?;
    Ok(())
}

/// `fetch(method, url, flatHeaders, body | null, redirect)` → `[status, statusText, url,
/// redirected, flatHeaders, Uint8Array body]`. Headers travel as `[name, value, …]`.
fn fetch<'js>(
    ctx: Ctx<'js>,
    method: String,
    url: String,
    flat_headers: Array<'js>,
    body: Option<TypedArray<'js, u8>>,
    redirect: String,
) -> Result<Array<'js>> {
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
    let reply =
        crate::host::call(&call).map_err(|message| Exception::throw_type(&ctx, &message))?;
    let HostReply::Fetch(res) = reply else {
        return Err(Exception::throw_internal(
            &ctx,
            "Wisp: the host answered fetch with the wrong reply",
        ));
    };
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
