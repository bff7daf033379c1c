//! Natives bound as plain QuickJS C functions, for the few that every request calls.
//!
//! A function made with rquickjs's `Function::new` is an object of rquickjs's callable class:
//! a call goes through the class's call hook, a vtable, a parameter list and a conversion of
//! every argument and of the result, about 1,500 Wasm instructions before the Rust function
//! runs. A C function (`JS_NewCFunction2`) is called by the interpreter directly with its
//! arguments in place. Only what the handlers of nearly every request reach is bound this way
//! (`JSON.stringify`, `toISOString`, a response's init and headers record, `new URL`, the URL
//! and state getters, `Headers.get` on the wire); the other natives keep rquickjs's typed
//! conversions.

use rquickjs::{Ctx, Error, Exception, Object, Result, Value, qjs};
use std::cell::Cell;
use std::ffi::{CStr, c_int};
use std::ptr::NonNull;
use std::thread::LocalKey;

/// A native's body: its arguments (missing ones read as `undefined`) to its result. An
/// `Err(Error::Exception)` means a JS exception is pending, as everywhere in rquickjs; any other
/// error is thrown as an `InternalError` with its message.
pub trait RawNative {
    const NAME: &'static CStr;
    /// The function's `length`.
    const LENGTH: c_int;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>>;
}

/// The arguments of one call, borrowed from the interpreter's stack.
pub struct Args<'a, 'js> {
    ctx: &'a Ctx<'js>,
    this: qjs::JSValue,
    values: &'a [qjs::JSValue],
}

impl<'js> Args<'_, 'js> {
    /// The call's `this`, borrowed.
    pub fn this(&self) -> qjs::JSValue {
        self.this
    }

    /// Calls `function` with this call's `this` and arguments, as they are.
    pub fn forward(&self, function: qjs::JSValue) -> Result<Value<'js>> {
        // SAFETY: the function, `this` and the arguments are alive for the call; `JS_Call` only
        // reads the arguments.
        self.call_with(|c, argc, argv| unsafe { qjs::JS_Call(c, function, self.this, argc, argv) })
    }

    /// Calls `function` as a constructor with `new_target` and this call's arguments.
    pub fn construct(&self, function: qjs::JSValue, new_target: qjs::JSValue) -> Result<Value<'js>> {
        // SAFETY: as in `forward`; `new_target` is alive for the call too.
        self.call_with(|c, argc, argv| unsafe {
            qjs::JS_CallConstructor2(c, function, new_target, argc, argv)
        })
    }

    /// `call(context, argc, argv)` with this call's arguments; its result is a new reference,
    /// owned by the value returned, or the exception marker.
    fn call_with(
        &self,
        call: impl FnOnce(*mut qjs::JSContext, c_int, *mut qjs::JSValue) -> qjs::JSValue,
    ) -> Result<Value<'js>> {
        let argc = c_int::try_from(self.values.len()).expect("QuickJS passed them as an int");
        let raw = call(
            self.ctx.as_raw().as_ptr(),
            argc,
            self.values.as_ptr().cast_mut(),
        );
        // SAFETY: a new reference (or the exception marker), which the value owns.
        let result = unsafe { Value::from_raw(self.ctx.clone(), raw) };
        if result.is_exception() {
            return Err(Error::Exception);
        }
        Ok(result)
    }

    /// For a [`constructor`]: the object it is to fill, of `new.target.prototype`; or, when it
    /// is called without `new` or `new.target`'s prototype is not an object, `Err` with what
    /// `js` (the JS constructor it stands in for) answers to the same call, which is the
    /// constructor's answer. `fill` false: the call is `js`'s in any case.
    pub fn constructing(
        &self,
        js: qjs::JSValue,
        fill: bool,
    ) -> Result<std::result::Result<Value<'js>, Value<'js>>> {
        let new_target = self.this;
        // SAFETY: only reads the value's tag.
        if !unsafe { qjs::JS_IsObject(new_target) } {
            return self.forward(js).map(Err);
        }
        if fill {
            let c = self.ctx.as_raw().as_ptr();
            // SAFETY: `new_target` is alive for the call; the prototype read is a new
            // reference, owned by the value made from it.
            let prototype = unsafe {
                let raw = qjs::JS_GetProperty(c, new_target, qjs::JS_ATOM_prototype as qjs::JSAtom);
                Value::from_raw(self.ctx.clone(), raw)
            };
            if prototype.is_exception() {
                return Err(Error::Exception);
            }
            if prototype.is_object() {
                // SAFETY: the prototype is alive; the new object is a new reference, owned by
                // the value.
                let object = unsafe {
                    Value::from_raw(self.ctx.clone(), qjs::JS_NewObjectProto(c, prototype.as_raw()))
                };
                if object.is_exception() {
                    return Err(Error::Exception);
                }
                return Ok(Ok(object));
            }
        }
        self.construct(js, new_target).map(Err)
    }

    /// The `i`th argument; `undefined` past the last.
    pub fn get(&self, i: usize) -> Value<'js> {
        match self.values.get(i) {
            // SAFETY: the argument is alive for the call; the duplicate made here is owned by
            // the returned value, which releases it.
            Some(&raw) => unsafe {
                Value::from_raw(
                    self.ctx.clone(),
                    qjs::JS_DupValue(self.ctx.as_raw().as_ptr(), raw),
                )
            },
            None => Value::new_undefined(self.ctx.clone()),
        }
    }
}

/// Installs `N` as `object[N::NAME]`: on the natives' object, or in place of a built-in method
/// (an existing writable property keeps its attributes: not enumerable).
pub fn install<'js, N: RawNative>(ctx: &Ctx<'js>, object: &Object<'js>) -> Result<()> {
    object.set(
        N::NAME.to_str().expect("native names are ASCII"),
        function::<N>(ctx)?,
    )
}

/// `N` as a JS function.
fn function<'js, N: RawNative>(ctx: &Ctx<'js>) -> Result<Value<'js>> {
    c_function::<N>(ctx, qjs::JSCFunctionEnum_JS_CFUNC_generic)
}

/// `N` as a JS constructor named `N::NAME`, callable with `new` and without: `N::call` gets
/// `new.target` as `this` (`undefined` without `new`); see [`Args::constructing`].
pub fn constructor<'js, N: RawNative>(ctx: &Ctx<'js>) -> Result<Value<'js>> {
    c_function::<N>(ctx, qjs::JSCFunctionEnum_JS_CFUNC_constructor_or_func)
}

/// `N` as a C function of kind `cproto`: the generic kind, or a constructor one, which QuickJS
/// calls with the same signature (`new.target` in place of `this`).
fn c_function<'js, N: RawNative>(
    ctx: &Ctx<'js>,
    cproto: qjs::JSCFunctionEnum,
) -> Result<Value<'js>> {
    // SAFETY: `trampoline::<N>` has the generic signature, which both kinds declare.
    unsafe { new_c_function(ctx, trampoline::<N>, N::NAME, N::LENGTH, cproto, 0) }
}

type Generic = unsafe extern "C" fn(
    *mut qjs::JSContext,
    qjs::JSValue,
    c_int,
    *mut qjs::JSValue,
) -> qjs::JSValue;

/// A QuickJS C function (its name copied by QuickJS).
///
/// # Safety
/// `f` must have the signature `cproto` declares: QuickJS stores every kind as the generic
/// type and calls it through that one.
unsafe fn new_c_function<'js>(
    ctx: &Ctx<'js>,
    f: Generic,
    name: &CStr,
    length: c_int,
    cproto: qjs::JSCFunctionEnum,
    magic: c_int,
) -> Result<Value<'js>> {
    // SAFETY: the context is alive; `f`'s signature is the caller's to match with `cproto`.
    let function = unsafe {
        let raw = qjs::JS_NewCFunction2(
            ctx.as_raw().as_ptr(),
            Some(f),
            name.as_ptr(),
            length,
            cproto,
            magic,
        );
        Value::from_raw(ctx.clone(), raw)
    };
    if function.is_exception() {
        return Err(Error::Exception);
    }
    Ok(function)
}

/// Holds a reference to `value` in `slot` for the engine's whole life (a function a native
/// calls, say), never released.
pub fn keep(ctx: &Ctx<'_>, value: &Value<'_>, slot: &'static LocalKey<Cell<qjs::JSValue>>) {
    // SAFETY: the duplicate is the reference the slot keeps.
    slot.with(|s| s.set(unsafe { qjs::JS_DupValue(ctx.as_raw().as_ptr(), value.as_raw()) }));
}

/// What the interpreter calls: `N::call` with the arguments in place, its result or exception
/// handed back in QuickJS's terms.
unsafe extern "C" fn trampoline<N: RawNative>(
    ctx: *mut qjs::JSContext,
    this: qjs::JSValue,
    argc: c_int,
    argv: *mut qjs::JSValue,
) -> qjs::JSValue {
    // SAFETY: QuickJS calls a C function with its live context.
    let ctx = unsafe { Ctx::from_raw(NonNull::new_unchecked(ctx)) };
    let values: &[qjs::JSValue] = match usize::try_from(argc) {
        // SAFETY: QuickJS passes `argc` live arguments at `argv` for the length of the call.
        Ok(n) if n > 0 && !argv.is_null() => unsafe { std::slice::from_raw_parts(argv, n) },
        _ => &[],
    };
    let args = Args {
        ctx: &ctx,
        this,
        values,
    };
    settle(&ctx, N::call(&ctx, args))
}

/// A native's result in QuickJS's terms: a new reference, or the exception marker with the
/// exception pending.
fn settle<'js>(ctx: &Ctx<'js>, result: Result<Value<'js>>) -> qjs::JSValue {
    match result {
        // SAFETY: the duplicate is the reference handed to the interpreter; `value`'s own is
        // released when it drops.
        Ok(value) => unsafe { qjs::JS_DupValue(ctx.as_raw().as_ptr(), value.as_raw()) },
        Err(Error::Exception) => qjs::JS_EXCEPTION,
        Err(other) => {
            let _ = Exception::throw_internal(ctx, &other.to_string());
            qjs::JS_EXCEPTION
        }
    }
}

/// A getter made one C function per `magic` value (which property it reads): the interpreter
/// calls it with `this` alone.
pub trait RawGetter {
    fn get<'js>(ctx: &Ctx<'js>, this: Value<'js>, magic: c_int) -> Result<Value<'js>>;
}

/// `N`'s getter for `magic`, named `name` (`get pathname`, say).
pub fn getter<'js, N: RawGetter>(ctx: &Ctx<'js>, name: &CStr, magic: c_int) -> Result<Value<'js>> {
    c_getter(ctx, getter_trampoline::<N>, name, magic)
}

/// A getter as QuickJS calls it: context, `this` (borrowed) and `magic`; a new reference or
/// the exception marker back.
pub type CGetter = unsafe extern "C" fn(*mut qjs::JSContext, qjs::JSValue, c_int) -> qjs::JSValue;

/// `f` as a getter for `magic`, named `name`: for a getter on the hottest paths, which works on
/// QuickJS's values directly rather than through [`RawGetter`]'s handles.
pub fn c_getter<'js>(ctx: &Ctx<'js>, f: CGetter, name: &CStr, magic: c_int) -> Result<Value<'js>> {
    // SAFETY: `f` has the signature `JS_CFUNC_getter_magic` declares; it is passed as the
    // generic type, as quickjs.h's own `JS_NewCFunctionMagic` casts it.
    unsafe {
        let f = std::mem::transmute::<CGetter, Generic>(f);
        new_c_function(
            ctx,
            f,
            name,
            0,
            qjs::JSCFunctionEnum_JS_CFUNC_getter_magic,
            magic,
        )
    }
}

unsafe extern "C" fn getter_trampoline<N: RawGetter>(
    ctx: *mut qjs::JSContext,
    this: qjs::JSValue,
    magic: c_int,
) -> qjs::JSValue {
    // SAFETY: QuickJS calls a C function with its live context.
    let ctx = unsafe { Ctx::from_raw(NonNull::new_unchecked(ctx)) };
    // SAFETY: `this` is alive for the call; the duplicate is owned by the value made here.
    let this =
        unsafe { Value::from_raw(ctx.clone(), qjs::JS_DupValue(ctx.as_raw().as_ptr(), this)) };
    settle(&ctx, N::get(&ctx, this, magic))
}
