//! What one component request's store carries: WASI (environment, preopened directories,
//! stdout/stderr to the log), wasi:http, the function's storage grant for `wisp:edge`, and the
//! same memory limiter and deadline as a JS request.

use super::log::LogStream;
use super::outbound::Outbound;
use crate::capabilities::Grant;
use crate::pool::MemoryLimiter;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub struct ComponentState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub outbound: Outbound,
    pub limiter: MemoryLimiter,
    pub grant: Option<Arc<Grant>>,
    pub deadline: Instant,
    pub timeout: Duration,
    pub stdout: LogStream,
    pub stderr: LogStream,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ComponentState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// A store whose Wasm yields at every epoch tick and traps once its deadline has passed, with
/// the memory limiter in force (the same policy as [`crate::pool::new_store`]).
pub fn new_store(engine: &Engine, state: ComponentState) -> Store<ComponentState> {
    let mut store = Store::new(engine, state);
    crate::pool::give_fuel(&mut store);
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|ctx| {
        if Instant::now() >= ctx.data().deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store
}
