//! Turning JavaScript exceptions into [`Failure`]s the host can log and report.

use rquickjs::{Ctx, Object, Value};
use wisp_abi::{Failure, FailureKind};

/// The pending exception of `ctx` (after an `Error::Exception`), or a description of a Rust-side
/// error, as a failure.
pub fn from_error(ctx: &Ctx<'_>, err: rquickjs::Error) -> Failure {
    match err {
        rquickjs::Error::Exception => from_value(ctx, &ctx.catch()),
        other => Failure::new(FailureKind::Exception, other.to_string(), ""),
    }
}

/// A thrown (or rejected) JS value as a failure: `Name: message` and the JS stack.
pub fn from_value<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Failure {
    let Some(obj) = value.as_object() else {
        return Failure::new(
            FailureKind::Exception,
            format!("Uncaught {}", crate::natives::describe(ctx, value)),
            "",
        );
    };
    let kind = match obj.get::<_, Option<i32>>("wispFailure").ok().flatten() {
        Some(2) => FailureKind::BadResponse,
        Some(3) => FailureKind::NoHandler,
        _ => FailureKind::Exception,
    };
    let name = string_prop(obj, "name").unwrap_or_else(|| "Error".into());
    let message =
        string_prop(obj, "message").unwrap_or_else(|| crate::natives::describe(ctx, value));
    let stack = string_prop(obj, "stack").unwrap_or_default();
    let message = if kind == FailureKind::Exception {
        format!("{name}: {message}")
    } else {
        message
    };
    Failure::new(kind, message, stack)
}

fn string_prop(obj: &Object<'_>, key: &str) -> Option<String> {
    obj.get::<_, Option<rquickjs::Coerced<String>>>(key)
        .ok()
        .flatten()
        .map(|c| c.0)
}
