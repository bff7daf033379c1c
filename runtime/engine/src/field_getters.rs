//! Getters that read one field of a polyfill object's internal state, as C functions:
//! `request.url` is `this[brand].url`, `event.request` is `this[REQUEST]`.
//!
//! A getter written in JS is a JS call: about 1,600 Wasm instructions for two property reads. A
//! handler reads `event.request`, `request.url` and `request.method` on nearly every request.
//! As a C getter the interpreter calls, the same reads cost about 1,000 (most of it QuickJS's
//! own call of a C function).

use crate::raw_native;
use rquickjs::{Ctx, Error, Exception, Function, Object, Result, Value, qjs};
use std::cell::RefCell;
use std::ffi::{CString, c_int};

/// A getter's path: the state's key, then the field's (`None`: the state itself).
#[derive(Clone, Copy)]
struct Path {
    state: qjs::JSAtom,
    field: Option<qjs::JSAtom>,
}

thread_local! {
    /// Every path a getter was made for; a getter's `magic` is its index. Made while the
    /// snapshot is, and kept (with their atoms) for the engine's life.
    static PATHS: RefCell<Vec<Path>> = const { RefCell::new(Vec::new()) };
}

pub fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    native.set("fieldGetter", Function::new(ctx.clone(), field_getter)?)
}

/// A key as an atom that is never released (the getter made for it may run at any time).
fn kept_atom(ctx: &Ctx<'_>, key: &Value<'_>) -> Result<qjs::JSAtom> {
    // SAFETY: the context and the key are alive; the atom returned is a new reference, never
    // released.
    let atom = unsafe { qjs::JS_ValueToAtom(ctx.as_raw().as_ptr(), key.as_raw()) };
    if atom == qjs::JS_ATOM_NULL {
        return Err(Error::Exception);
    }
    Ok(atom)
}

/// `fieldGetter(stateKey, field, name)`: a getter (named `get <name>`) that returns
/// `this[stateKey][field]`, or `this[stateKey]` when `field` is `undefined`. Reading a field of
/// something that is not an object (`this`, or a state it lacks) is a TypeError, as in the JS
/// getter it replaces.
fn field_getter<'js>(
    ctx: Ctx<'js>,
    state: Value<'js>,
    field: Value<'js>,
    name: String,
) -> Result<Value<'js>> {
    let path = Path {
        state: kept_atom(&ctx, &state)?,
        field: if field.is_undefined() {
            None
        } else {
            Some(kept_atom(&ctx, &field)?)
        },
    };
    let magic = PATHS.with(|p| {
        let mut paths = p.borrow_mut();
        paths.push(path);
        paths.len() - 1
    });
    let function_name = CString::new(format!("get {name}")).expect("no NUL in a name");
    raw_native::c_getter(
        &ctx,
        read_field,
        &function_name,
        c_int::try_from(magic).expect("a few getters"),
    )
}

/// The getter itself, on QuickJS's values: a field read costs two property lookups and no
/// more (no context or value handles, each a reference count taken and given back).
unsafe extern "C" fn read_field(
    ctx: *mut qjs::JSContext,
    this: qjs::JSValue,
    magic: c_int,
) -> qjs::JSValue {
    let index = usize::try_from(magic).expect("made with an index");
    let path = PATHS.with(|p| p.borrow()[index]);
    // SAFETY: QuickJS calls a getter with its live context and a live `this`, and the atoms are
    // kept for the engine's life. `JS_GetProperty` returns a
    // new reference, released here or handed to the interpreter.
    unsafe {
        if !qjs::JS_IsObject(this) {
            return illegal_invocation(ctx);
        }
        let state = qjs::JS_GetProperty(ctx, this, path.state);
        let Some(field) = path.field else {
            return state;
        };
        if qjs::JS_IsException(state) {
            return state;
        }
        if !qjs::JS_IsObject(state) {
            qjs::JS_FreeValue(ctx, state);
            return illegal_invocation(ctx);
        }
        let value = qjs::JS_GetProperty(ctx, state, field);
        qjs::JS_FreeValue(ctx, state);
        value
    }
}

/// Throws the TypeError a getter called on the wrong object gives.
fn illegal_invocation(ctx: *mut qjs::JSContext) -> qjs::JSValue {
    // SAFETY: the context is the live one QuickJS called the getter with.
    let ctx = unsafe { Ctx::from_raw(std::ptr::NonNull::new_unchecked(ctx)) };
    let _ = Exception::throw_type(&ctx, "Illegal invocation");
    qjs::JS_EXCEPTION
}
