//! Pre-initialisation: everything that runs once per function version, under Wizer, so that
//! requests start from a snapshot in which it has already happened.

use crate::{Engine, errors, event_loop, host, natives};
use rquickjs::{
    Context, Ctx, Function, Module, Object, Persistent, Runtime, Value,
    context::EvalOptions,
    function::IntoArgs,
    loader::{BuiltinLoader, BuiltinResolver},
};
use wisp_abi::{Binding, Failure, FailureKind, InitInput, LogLevel, SourceKind};

/// One polyfill file, named as it appears in stacks, deflated by `build.rs`: its text is only
/// read at pre-initialisation, but the module's static data is part of every request's memory
/// image (copied back over the slot on each reuse), so it is kept small there.
macro_rules! polyfill {
    ($file:literal) => {
        (
            concat!("polyfills/", $file),
            include_bytes!(concat!(env!("OUT_DIR"), "/polyfills/", $file, ".deflate")),
        )
    };
}

/// The polyfills, in evaluation order (see `polyfills/README.md`).
const POLYFILLS: &[(&str, &[u8])] = &[
    polyfill!("00-internal.js"),
    polyfill!("10-console.js"),
    polyfill!("20-encoding.js"),
    polyfill!("25-events.js"),
    polyfill!("30-url.js"),
    polyfill!("40-headers.js"),
    polyfill!("45-streams.js"),
    polyfill!("46-compression.js"),
    polyfill!("47-blob.js"),
    polyfill!("50-body.js"),
    polyfill!("60-request.js"),
    polyfill!("61-response.js"),
    polyfill!("70-timers.js"),
    polyfill!("72-global-scope.js"),
    polyfill!("75-fetch.js"),
    polyfill!("80-crypto.js"),
    polyfill!("81-subtle.js"),
    polyfill!("85-structured-clone.js"),
    polyfill!("86-kv.js"),
    polyfill!("87-sqlite.js"),
    polyfill!("88-redis.js"),
    polyfill!("90-dispatch.js"),
];

/// Modules Wisp provides without a file (`import { EdgeResponse } from 'wasmedge-quickjs'`).
/// The storage modules' exports are made by `polyfills/86-kv.js`, `87-sqlite.js`, `88-redis.js`.
const BUILTIN_MODULES: &[(&str, &str)] = &[
    (
        "wasmedge-quickjs",
        "export const EdgeResponse = globalThis.EdgeResponse;\n\
         export const EdgeRequest = globalThis.EdgeRequest;\n\
         export const Request = globalThis.Request;\n\
         export const Response = globalThis.Response;\n\
         export const Headers = globalThis.Headers;\n\
         export default { EdgeResponse, EdgeRequest, Request, Response, Headers };\n",
    ),
    (
        "wasmedge-kv",
        "const m = globalThis[Symbol.for('wisp.modules')].kv;\n\
         export const kv = m.kv, kvGet = m.kvGet, kvSet = m.kvSet, kvDelete = m.kvDelete;\n\
         export const KVNamespace = m.KVNamespace;\n\
         export default m.kv;\n",
    ),
    (
        "wasmedge-sqlite",
        "const m = globalThis[Symbol.for('wisp.modules')].sqlite;\n\
         export const sqlQuery = m.sqlQuery, sqlExecute = m.sqlExecute, database = m.database;\n\
         export default m;\n",
    ),
    (
        "wasmedge-redis",
        "const m = globalThis[Symbol.for('wisp.modules')].redis;\n\
         export const redis = m.redis;\n\
         export default m.redis;\n",
    ),
];

/// Bytes of JS allocations between cycle collections during a request.
const GC_THRESHOLD: usize = 16 << 20;

pub fn initialise(input: &InitInput) -> Result<Engine, Failure> {
    let internal_error = |what: &str, e: rquickjs::Error| {
        Failure::new(FailureKind::Exception, format!("{what}: {e}"), "")
    };
    let runtime = Runtime::new_with_alloc(crate::js_alloc::JsAlloc)
        .map_err(|e| internal_error("creating the QuickJS runtime", e))?;
    // No QuickJS stack limit: QuickJS ignores it on WASI. Runaway recursion ends in a trap when
    // the engine's shadow stack (`wisp_abi::ENGINE_STACK_BYTES`, placed first in linear memory)
    // or the native Wasm stack runs out, which the host reports as a stack overflow.
    let mut resolver = BuiltinResolver::default();
    let mut loader = BuiltinLoader::default();
    for (name, source) in BUILTIN_MODULES {
        resolver.add_module(*name);
        loader.add_module(*name, *source);
    }
    runtime.set_loader(resolver, loader);
    crate::rejections::install(&runtime);
    let context =
        Context::full(&runtime).map_err(|e| internal_error("creating the QuickJS context", e))?;

    let initialised = context.with(|ctx| -> Result<_, Failure> {
        let js = |e| errors::from_error(&ctx, e);
        natives::install(&ctx).map_err(js)?;
        // Compile everything first, run it after: compiling a large file needs several times
        // its size in scratch memory, and scratch freed before any polyfill has run is reused
        // by what the polyfills build, instead of leaving the snapshot's heap that much larger.
        // The largest first: the heap is smallest then, and its scratch is reused by the rest.
        let mut order: Vec<usize> = (0..POLYFILLS.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(POLYFILLS[i].1.len()));
        let mut compiled: Vec<Option<Vec<u8>>> = vec![None; POLYFILLS.len()];
        for i in order {
            let (name, deflated) = POLYFILLS[i];
            let source = inflate(name, deflated);
            let bytecode =
                compile_polyfill(&ctx, name, &source).map_err(|e| in_polyfill(&ctx, name, e))?;
            compiled[i] = Some(bytecode);
        }
        for ((name, _), bytecode) in POLYFILLS.iter().zip(compiled) {
            let bytecode = bytecode.expect("every polyfill was compiled");
            run_bytecode(&ctx, &bytecode).map_err(|e| in_polyfill(&ctx, name, e))?;
        }
        let internal: Object = ctx.globals().get("__wisp").map_err(js)?;
        ctx.globals().remove("__wisp").map_err(js)?;
        let timers: Object = internal.get("timers").map_err(js)?;
        let timer_fns = event_loop::Timers {
            next: timers.get("next").map_err(js)?,
            fire: timers.get("fire").map_err(js)?,
            collect: timers.get("collect").map_err(js)?,
        };

        let env: Vec<&str> = input
            .env
            .iter()
            .flat_map(|(k, v)| [k.as_str(), v.as_str()])
            .collect();
        let bindings: Vec<&str> = input
            .bindings
            .iter()
            .flat_map(|b| match b {
                Binding::Kv { name } => ["kv", name.as_str(), ""],
                Binding::Sqlite { name, database } => ["sqlite", name.as_str(), database.as_str()],
            })
            .collect();
        call(&internal, "setEnv", (env, bindings)).map_err(js)?;

        match input.kind {
            SourceKind::Script => eval_script(&ctx, &input.filename, &input.source).map_err(js)?,
            SourceKind::Module => {
                let declared =
                    Module::declare(ctx.clone(), input.filename.as_str(), input.source.as_str())
                        .map_err(js)?;
                let (module, promise) = declared.eval().map_err(js)?;
                event_loop::drive(&ctx, &timer_fns, promise)?;
                let ns = module.namespace().map_err(js)?;
                call(&internal, "registerModule", (ns,)).map_err(js)?;
            }
        }
        // Let top-level promise chains finish, then drop timers: they cannot outlive the snapshot.
        while ctx.execute_pending_job() {}
        crate::rejections::report(&ctx, None);
        let dropped: u32 = timers
            .get::<_, Function>("clear")
            .and_then(|f| f.call(()))
            .map_err(js)?;
        if dropped > 0 {
            host::log(
                LogLevel::Warn,
                &format!(
                    "{dropped} timer(s) set by top-level code were dropped: timers run only \
                     within a request"
                ),
            );
        }
        if call(&internal, "handlerStyle", ()).map_err(js)?.is_null() {
            return Err(Failure::new(
                FailureKind::NoHandler,
                format!(
                    "{}: no fetch handler was registered: call addEventListener('fetch', …), \
                     `export default {{ fetch(request, env, ctx) {{ … }} }}`, or \
                     `export function handleRequest(request)`",
                    input.filename
                ),
                "",
            ));
        }
        // The snapshot's pool of random bytes is marked used up, so that every instance draws
        // its own: nothing after this point runs JS before the snapshot is taken.
        call(&internal, "resetRandom", ()).map_err(js)?;
        let dispatch: Function = internal.get("dispatch").map_err(js)?;
        let pending_work: Function = internal.get("pendingWork").map_err(js)?;
        let finish_response: Function = internal.get("finishResponse").map_err(js)?;
        Ok((
            Persistent::save(&ctx, dispatch),
            Persistent::save(&ctx, timer_fns.next),
            Persistent::save(&ctx, timer_fns.fire),
            Persistent::save(&ctx, timer_fns.collect),
            Persistent::save(&ctx, pending_work),
            Persistent::save(&ctx, finish_response),
        ))
    });
    if initialised.is_err() {
        crate::rejections::forget();
    }
    let (dispatch, timers_next, timers_fire, timers_collect, pending_work, finish_response) =
        initialised?;
    // A smaller heap is a smaller snapshot and fewer pages to map per request.
    runtime.run_gc();
    // A cycle collection walks (and writes to) every object of the heap, polyfills included:
    // tens of microseconds and hundreds of dirtied pages on a fresh instance. Reference counting
    // still frees acyclic garbage at once; the collector only runs for a request that allocates
    // a lot, and the memory limit bounds the rest.
    runtime.set_gc_threshold(GC_THRESHOLD);
    Ok(Engine {
        dispatch,
        timers_next,
        timers_fire,
        timers_collect,
        pending_work,
        finish_response,
        context,
        runtime,
    })
}

/// A failure in one of Wisp's own files, named so (it is a bug in Wisp, not in the user's code).
fn in_polyfill(ctx: &Ctx<'_>, name: &str, e: rquickjs::Error) -> Failure {
    let mut f = errors::from_error(ctx, e);
    f.message = format!("in Wisp's polyfill {name}: {}", f.message);
    f
}

/// Calls `internal[name](...args)`.
fn call<'js, A: IntoArgs<'js>>(
    internal: &Object<'js>,
    name: &str,
    args: A,
) -> rquickjs::Result<Value<'js>> {
    internal.get::<_, Function>(name)?.call(args)
}

/// A polyfill's text from what `build.rs` deflated, NUL-terminated for `JS_Eval`.
fn inflate(name: &str, deflated: &[u8]) -> Vec<u8> {
    let mut text = miniz_oxide::inflate::decompress_to_vec(deflated)
        .unwrap_or_else(|e| panic!("{name}: the build deflated it wrongly: {e:?}"));
    assert!(
        std::str::from_utf8(&text).is_ok() && !text.contains(&0),
        "{name} is not UTF-8 text without NUL"
    );
    text.push(0);
    text
}

/// Compiles one of Wisp's polyfills to bytecode without its source text.
///
/// QuickJS keeps a copy of every function's source (for `Function.prototype.toString`), so
/// nested functions store their text once per level: for the polyfills that is about 200 KiB of
/// the snapshot's heap, which every request pays for when its memory slot is reset. The
/// bytecode keeps line numbers, so stacks still point into `polyfills/…`. The user's code keeps
/// its source.
fn compile_polyfill(ctx: &Ctx<'_>, filename: &str, code: &[u8]) -> rquickjs::Result<Vec<u8>> {
    use rquickjs::qjs;
    use std::ffi::CString;
    let source_len = code.len() - 1;
    let name = CString::new(filename).expect("polyfill names have no NUL");
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `raw` is the live context of `ctx`, used on this (the only) thread. The compiled
    // function is freed once written; the written buffer is copied out and freed. A pending
    // exception is left for `ctx.catch()` (rquickjs's contract for `Error::Exception`).
    unsafe {
        let flags = (qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32;
        let compiled = qjs::JS_Eval(
            raw,
            code.as_ptr().cast(),
            source_len as _,
            name.as_ptr(),
            flags,
        );
        if qjs::JS_IsException(compiled) {
            return Err(rquickjs::Error::Exception);
        }
        let mut len: qjs::size_t = 0;
        let bytes = qjs::JS_WriteObject(
            raw,
            &mut len,
            compiled,
            (qjs::JS_WRITE_OBJ_BYTECODE | qjs::JS_WRITE_OBJ_STRIP_SOURCE) as i32,
        );
        qjs::JS_FreeValue(raw, compiled);
        if bytes.is_null() {
            return Err(rquickjs::Error::Exception);
        }
        let out = std::slice::from_raw_parts(bytes, len as usize).to_vec();
        qjs::js_free(raw, bytes.cast());
        Ok(out)
    }
}

/// Runs bytecode made by [`compile_polyfill`].
fn run_bytecode(ctx: &Ctx<'_>, bytecode: &[u8]) -> rquickjs::Result<()> {
    use rquickjs::qjs;
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: as in `compile_polyfill`; the bytes were written by this engine's QuickJS. The
    // function read is consumed by `JS_EvalFunction`, and its result freed.
    unsafe {
        let function = qjs::JS_ReadObject(
            raw,
            bytecode.as_ptr(),
            bytecode.len() as _,
            qjs::JS_READ_OBJ_BYTECODE as i32,
        );
        if qjs::JS_IsException(function) {
            return Err(rquickjs::Error::Exception);
        }
        let result = qjs::JS_EvalFunction(raw, function);
        if qjs::JS_IsException(result) {
            return Err(rquickjs::Error::Exception);
        }
        qjs::JS_FreeValue(raw, result);
    }
    Ok(())
}

fn eval_script(ctx: &Ctx<'_>, filename: &str, source: &str) -> rquickjs::Result<()> {
    let mut opts = EvalOptions::default();
    opts.global = true;
    opts.strict = false;
    opts.filename = Some(filename.to_owned());
    ctx.eval_with_options::<(), _>(source, opts)
}
