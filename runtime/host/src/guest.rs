//! The host side of the engine's calls (see `wisp_abi`): copy an input into guest memory, call
//! an export, copy the output back.

use crate::errors::InvokeError;
use crate::pool::InstanceState;
use wasmtime::error::Context;
use wasmtime::{
    Extern, Func, Instance, Module, ModuleExport, Store, Trap, TypedFunc, WasmParams, WasmResults,
};
use wasmtime::{Result, format_err};
use wisp_abi::Failure;

/// What a guest call produced.
pub enum Outcome {
    /// A normal output: the encoded [`wisp_abi::Response`] (empty after init).
    Ok(Vec<u8>),
    /// The decoded failure.
    Failure(Failure),
}

/// Which entry point to call.
#[derive(Clone, Copy)]
pub enum Entry {
    Init,
    Handle,
}

/// The engine's exports, resolved once per module so that a request looks nothing up by name.
#[derive(Clone)]
pub struct Exports {
    /// Tells this module from every other loaded in the process, for what is kept per slot.
    module_id: u64,
    memory: ModuleExport,
    alloc: ModuleExport,
    input_buffer: ModuleExport,
    init: Option<ModuleExport>,
    handle: ModuleExport,
}

impl Exports {
    pub fn of(module: &Module) -> Result<Exports> {
        let get = |name: &str| {
            module
                .get_export_index(name)
                .with_context(|| format!("the engine does not export `{name}`"))
        };
        // The signatures are checked here, once per module, so that a request can call the
        // exports without wasmtime's per-call type check (see `typed`).
        use wasmtime::ValType::{I32, I64};
        for (name, params, results) in [
            (wisp_abi::EXPORT_HANDLE, &[I32, I32][..], &[I64][..]),
            (wisp_abi::EXPORT_INIT, &[I32, I32], &[I64]),
            (wisp_abi::EXPORT_ALLOC, &[I32], &[I32]),
            (wisp_abi::EXPORT_INPUT_BUFFER, &[], &[I32]),
        ] {
            let Some(ty) = module.get_export(name) else {
                continue;
            };
            let ty = ty
                .func()
                .with_context(|| format!("the engine's `{name}` is not a function"))?;
            let same = |given: &mut dyn ExactSizeIterator<Item = wasmtime::ValType>,
                        want: &[wasmtime::ValType]| {
                given.len() == want.len()
                    && given.zip(want).all(|(g, w)| wasmtime::ValType::eq(&g, w))
            };
            if !same(&mut ty.params(), params) || !same(&mut ty.results(), results) {
                return Err(format_err!(
                    "the engine's `{name}` has the signature {ty:?}, not the ABI's"
                ));
            }
        }
        static MODULES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Ok(Exports {
            module_id: MODULES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            memory: get("memory")?,
            alloc: get(wisp_abi::EXPORT_ALLOC)?,
            input_buffer: get(wisp_abi::EXPORT_INPUT_BUFFER)?,
            // A snapshot no longer exports its init function.
            init: module.get_export_index(wisp_abi::EXPORT_INIT),
            handle: get(wisp_abi::EXPORT_HANDLE)?,
        })
    }

    fn func(
        &self,
        store: &mut Store<InstanceState>,
        instance: &Instance,
        export: &ModuleExport,
    ) -> Result<Func> {
        instance
            .get_module_export(&mut *store, export)
            .and_then(Extern::into_func)
            .context("an engine export is not a function")
    }

    /// `export` as a typed function, without `Func::typed`'s check: it looks the function's
    /// type up in the engine's registry on every call, about 1 % of a request's CPU.
    fn typed<Params: WasmParams, Results: WasmResults>(
        &self,
        store: &mut Store<InstanceState>,
        instance: &Instance,
        export: &ModuleExport,
    ) -> Result<TypedFunc<Params, Results>> {
        let func = self.func(store, instance, export)?;
        // SAFETY: `Exports::of` checked each export's signature against the ABI's when the
        // module was loaded, and every call site names the same types as that check
        // (`(u32, u32) -> i64`, `u32 -> u32`, `() -> u32`; wasmtime maps u32 to i32).
        Ok(unsafe { TypedFunc::new_unchecked(&*store, func) })
    }

    /// The address of the engine's static input buffer (the same in every instance of a
    /// snapshot: ask once).
    pub async fn input_buffer(
        &self,
        store: &mut Store<InstanceState>,
        instance: &Instance,
    ) -> Result<u32> {
        let f = self.typed::<(), u32>(store, instance, &self.input_buffer)?;
        f.call_async(&mut *store, ()).await
    }
}

/// Calls `entry(ptr, len)` with `input` in guest memory: in the static input buffer at
/// `input_buffer` when given and large enough, else in a buffer from `wisp_alloc`. An `Err` is
/// a trap or a host-side problem; the guest's own failures are `Outcome::Failure`.
pub async fn call(
    store: &mut Store<InstanceState>,
    instance: &Instance,
    exports: &Exports,
    entry: Entry,
    input: &[u8],
    input_buffer: Option<u32>,
) -> Result<Outcome> {
    let memory = match instance.get_module_export(&mut *store, &exports.memory) {
        Some(Extern::Memory(m)) => m,
        _ => return Err(format_err!("the engine exports no memory")),
    };
    let export = match entry {
        Entry::Init => exports
            .init
            .as_ref()
            .context("this module was already initialised")?,
        Entry::Handle => &exports.handle,
    };
    let func = exports.typed::<(u32, u32), i64>(store, instance, export)?;

    let len = u32::try_from(input.len()).map_err(|_| format_err!("input larger than 4 GiB"))?;
    let ptr = match input_buffer {
        Some(ptr) if input.len() <= wisp_abi::INPUT_BUFFER_SIZE => ptr,
        _ => {
            let alloc = exports.typed::<u32, u32>(store, instance, &exports.alloc)?;
            alloc.call_async(&mut *store, len).await?
        }
    };
    if let Entry::Handle = entry {
        // Before the guest touches the slot: only the pages it reads are then mapped.
        let fresh = crate::slot_runs::enter(memory.data(&*store), exports.module_id);
        crate::fault_around::before_request(memory.data(&*store), fresh);
    }
    memory
        .write(&mut *store, ptr as usize, input)
        .map_err(|_| format_err!("the engine's input buffer is out of bounds"))?;
    let (out_ptr, out_len, failure) =
        wisp_abi::unpack_output(func.call_async(&mut *store, (ptr, len)).await?);
    let (out_ptr, out_len) = (out_ptr as usize, out_len as usize);
    let out = memory
        .data(&*store)
        .get(out_ptr..out_ptr + out_len)
        .ok_or_else(|| format_err!("the engine's output lies outside its memory"))?
        .to_vec();
    if let Entry::Handle = entry {
        // The guest is done (its response sent, its `waitUntil` work settled): the instance
        // is dropped next, and its slot reset.
        crate::slot_runs::after_request(memory.data_mut(&mut *store));
        let store: &Store<InstanceState> = store;
        crate::pool::report_fuel(store, &store.data().function);
    }
    if failure {
        Ok(Outcome::Failure(
            Failure::decode(&out).context("decoding the engine's failure")?,
        ))
    } else {
        Ok(Outcome::Ok(out))
    }
}

/// Names the limit a trap came from, when it came from one.
pub fn classify_trap(store: &Store<InstanceState>, err: wasmtime::Error) -> InvokeError {
    let state = store.data();
    if let Some(trap) = err.downcast_ref::<Trap>() {
        if *trap == Trap::Interrupt {
            return InvokeError::Timeout(state.timeout);
        }
        if state.limiter.refused.is_some() {
            return InvokeError::Memory {
                limit: state.limiter.max_bytes(),
            };
        }
        if *trap == Trap::StackOverflow {
            return InvokeError::Trap("stack overflow (call stack exhausted)".into());
        }
        // The engine's shadow stack sits at the bottom of linear memory: overflowing it reads
        // below address 0, which is the only out-of-bounds access the engine makes.
        if *trap == Trap::MemoryOutOfBounds {
            return InvokeError::Trap(format!(
                "stack overflow (the engine's {} KiB stack is exhausted: recursion too deep?)",
                wisp_abi::ENGINE_STACK_BYTES / 1024
            ));
        }
        return InvokeError::Trap(trap.to_string());
    }
    if state.limiter.refused.is_some() {
        return InvokeError::Memory {
            limit: state.limiter.max_bytes(),
        };
    }
    InvokeError::Internal(err.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction,
        MemorySection, MemoryType, TypeSection, ValType,
    };

    /// A module with the engine's four exports, `wisp_handle` of type `handle`.
    fn module(handle: (&[ValType], &[ValType])) -> Module {
        let mut types = TypeSection::new();
        types
            .ty()
            .function(handle.0.iter().copied(), handle.1.iter().copied());
        types.ty().function([ValType::I32], [ValType::I32]);
        types.ty().function([], [ValType::I32]);
        let mut functions = FunctionSection::new();
        let mut code = CodeSection::new();
        for (ty, results) in [
            (0, handle.1),
            (1, &[ValType::I32][..]),
            (2, &[ValType::I32]),
        ] {
            functions.function(ty);
            let mut body = Function::new([]);
            for result in results {
                body.instruction(&match result {
                    ValType::I64 => Instruction::I64Const(0),
                    _ => Instruction::I32Const(0),
                });
            }
            body.instruction(&Instruction::End);
            code.function(&body);
        }
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut exports = ExportSection::new();
        exports.export("memory", ExportKind::Memory, 0);
        exports.export(wisp_abi::EXPORT_HANDLE, ExportKind::Func, 0);
        exports.export(wisp_abi::EXPORT_ALLOC, ExportKind::Func, 1);
        exports.export(wisp_abi::EXPORT_INPUT_BUFFER, ExportKind::Func, 2);
        let mut bytes = wasm_encoder::Module::new();
        bytes
            .section(&types)
            .section(&functions)
            .section(&memories)
            .section(&exports)
            .section(&code);
        Module::new(&wasmtime::Engine::default(), bytes.finish()).unwrap()
    }

    #[test]
    fn the_abi_signatures_are_checked_when_a_module_is_loaded() {
        let right = module((&[ValType::I32, ValType::I32], &[ValType::I64]));
        assert!(Exports::of(&right).is_ok());
        // Calls through `TypedFunc::new_unchecked` rely on this refusal.
        for wrong in [
            module((&[ValType::I32], &[ValType::I64])),
            module((&[ValType::I32, ValType::I32], &[ValType::I32])),
            module((&[ValType::I32, ValType::I64], &[ValType::I64])),
        ] {
            let error = Exports::of(&wrong)
                .err()
                .expect("a wrong signature is refused");
            assert!(
                error
                    .to_string()
                    .contains("`wisp_handle` has the signature"),
                "{error}"
            );
        }
    }
}
