//! Unhandled promise rejections. QuickJS's rejection tracker reports a promise rejected with no
//! handler, and again if a handler is attached later; what is still unhandled when the request
//! (or the top-level code) finishes is logged with its message and JS stack, as Workers and Node
//! report it. The request itself is not failed by a promise it did not wait for.

use crate::{errors, host};
use rquickjs::{Ctx, Persistent, Runtime, Value};
use std::cell::RefCell;
use wisp_abi::LogLevel;

thread_local! {
    /// Rejected promises without a handler, with the text to log for each.
    static PENDING: RefCell<Vec<(Persistent<Value<'static>>, String)>> =
        const { RefCell::new(Vec::new()) };
}

pub fn install(runtime: &Runtime) {
    runtime.set_host_promise_rejection_tracker(Some(Box::new(track)));
}

fn track<'js>(ctx: Ctx<'js>, promise: Value<'js>, reason: Value<'js>, is_handled: bool) {
    if is_handled {
        PENDING.with(|p| {
            p.borrow_mut()
                .retain(|(saved, _)| saved.clone().restore(&ctx).is_ok_and(|v| v != promise))
        });
        return;
    }
    let f = errors::from_value(&ctx, &reason);
    let text = if f.stack.is_empty() {
        f.message
    } else {
        format!("{}\n{}", f.message, f.stack.trim_end())
    };
    PENDING.with(|p| p.borrow_mut().push((Persistent::save(&ctx, promise), text)));
}

/// Logs what is still unhandled, except `reported` (a promise whose rejection the caller reports
/// itself, such as the handler's), and forgets it all.
pub fn report<'js>(ctx: &Ctx<'js>, reported: Option<&Value<'js>>) {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    for (saved, text) in pending {
        let promise = saved.restore(ctx).ok();
        if let (Some(p), Some(r)) = (&promise, reported)
            && p == r
        {
            continue;
        }
        host::log(
            LogLevel::Error,
            &format!("Unhandled promise rejection: {text}"),
        );
    }
}

/// Forgets what is pending without logging it (a failed initialisation, which is reported as a
/// load error). Must run before the runtime is freed: the saved promises belong to it.
pub fn forget() {
    PENDING.with(|p| p.borrow_mut().clear());
}
