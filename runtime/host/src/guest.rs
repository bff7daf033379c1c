//! The host side of the engine's calls (see `wisp_abi`): copy an input into guest memory, call
//! an export, copy the output back.

use crate::errors::InvokeError;
use crate::pool::InstanceState;
use wasmtime::error::Context;
use wasmtime::{Instance, Store, Trap};
use wasmtime::{Result, format_err};
use wisp_abi::{Failure, STATUS_FAILURE, STATUS_OK};

/// What a guest call produced.
pub enum Outcome {
    /// `STATUS_OK` and the output bytes.
    Ok(Vec<u8>),
    /// `STATUS_FAILURE` and the decoded failure.
    Failure(Failure),
}

/// Calls `export(ptr, len)` with `input` copied into a buffer from `wisp_alloc`. An `Err` is a
/// trap or a host-side problem; the guest's own failures are `Outcome::Failure`.
pub async fn call(
    store: &mut Store<InstanceState>,
    instance: &Instance,
    export: &str,
    input: &[u8],
) -> Result<Outcome> {
    let memory = instance
        .get_memory(&mut *store, "memory")
        .context("the engine exports no memory")?;
    let alloc = instance.get_typed_func::<u32, u32>(&mut *store, wisp_abi::EXPORT_ALLOC)?;
    let func = instance.get_typed_func::<(u32, u32), i32>(&mut *store, export)?;
    let result_ptr =
        instance.get_typed_func::<(), u32>(&mut *store, wisp_abi::EXPORT_RESULT_PTR)?;
    let result_len =
        instance.get_typed_func::<(), u32>(&mut *store, wisp_abi::EXPORT_RESULT_LEN)?;

    let len = u32::try_from(input.len()).map_err(|_| format_err!("input larger than 4 GiB"))?;
    let ptr = alloc.call_async(&mut *store, len).await?;
    memory
        .write(&mut *store, ptr as usize, input)
        .map_err(|_| format_err!("wisp_alloc returned an out-of-bounds buffer"))?;
    let status = func.call_async(&mut *store, (ptr, len)).await?;
    let out_ptr = result_ptr.call_async(&mut *store, ()).await? as usize;
    let out_len = result_len.call_async(&mut *store, ()).await? as usize;
    let out = memory
        .data(&*store)
        .get(out_ptr..out_ptr + out_len)
        .ok_or_else(|| format_err!("the engine's output lies outside its memory"))?
        .to_vec();
    match status {
        STATUS_OK => Ok(Outcome::Ok(out)),
        STATUS_FAILURE => Ok(Outcome::Failure(
            Failure::decode(&out).context("decoding the engine's failure")?,
        )),
        other => Err(format_err!("the engine returned unknown status {other}")),
    }
}

/// Names the limit a trap came from, when it came from one.
pub fn classify_trap(store: &Store<InstanceState>, err: wasmtime::Error) -> InvokeError {
    let state = store.data();
    if let Some(trap) = err.downcast_ref::<Trap>() {
        if *trap == Trap::Interrupt {
            return InvokeError::Timeout(timeout_of(state));
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
            return InvokeError::Trap(
                "stack overflow (the engine's 1 MiB stack is exhausted: recursion too deep?)"
                    .into(),
            );
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

fn timeout_of(state: &InstanceState) -> std::time::Duration {
    state.timeout
}
