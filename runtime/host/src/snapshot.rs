//! Pre-initialisation: run the engine's `wisp_init` on a function's code and capture the
//! resulting memory as a new Wasm module with Wizer.
//!
//! The instrumented engine (Wizer's first half) is the same for every function, so it is
//! compiled once per process (and cached on disk like any other module); each load then costs
//! one instantiation, the evaluation of the polyfills and the user's top level, and the snapshot.

use crate::cache::Cache;
use crate::errors::LoadError;
use crate::guest;
use crate::pool::{self, InstanceState};
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::error::Context as _;
use wasmtime::{Engine, Linker, Module};
use wasmtime_wizer::{ModuleContext, WasmtimeWizer, Wizer};
use wisp_abi::InitInput;

/// How long a function's top-level code may run while loading.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Snapshotter {
    engine: Engine,
    linker: Linker<InstanceState>,
    wizer: Wizer,
    cx: ModuleContext<'static>,
    instrumented: Module,
    exports: guest::Exports,
    max_memory: u64,
}

impl Snapshotter {
    pub fn new(cache: &Cache, max_memory: u64) -> Result<Snapshotter> {
        let mut wizer = Wizer::new();
        wizer.init_func(wisp_abi::EXPORT_INIT);
        let (cx, instrumented_wasm) = wizer
            .instrument(crate::ENGINE_WASM)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("instrumenting the engine for pre-initialisation")?;
        let engine = Engine::new(&pool::base_config(cache.dir())?)
            .context("configuring the wasmtime engine")?;
        pool::start_epoch_ticker(&engine);
        let instrumented = cache
            .module(&engine, "instrumented-engine", &instrumented_wasm)
            .context("compiling the instrumented engine")?;
        Ok(Snapshotter {
            exports: guest::Exports::of(&instrumented)?,
            linker: pool::linker(&engine)?,
            engine,
            wizer,
            cx,
            instrumented,
            max_memory,
        })
    }

    /// Evaluates `input` in a fresh engine and returns the pre-initialised module's bytes.
    pub async fn snapshot(&self, function: &str, input: &InitInput) -> Result<Vec<u8>, LoadError> {
        let state = InstanceState::new(
            Arc::from(function),
            "init".into(),
            self.max_memory,
            INIT_TIMEOUT,
        );
        let mut store = pool::new_store(&self.engine, state);
        let instance = self
            .linker
            .instantiate_async(&mut store, &self.instrumented)
            .await
            .context("instantiating the engine")?;
        let outcome = guest::call(
            &mut store,
            &instance,
            &self.exports,
            guest::Entry::Init,
            &input.encode(),
            None,
        )
        .await;
        match outcome {
            Ok(guest::Outcome::Ok(_)) => {}
            Ok(guest::Outcome::Failure(failure)) => {
                return Err(LoadError::from_failure(
                    failure,
                    &input.filename,
                    &input.source,
                ));
            }
            Err(trap) => {
                return Err(match guest::classify_trap(&store, trap) {
                    crate::errors::InvokeError::Timeout(_) => LoadError::Timeout(INIT_TIMEOUT),
                    crate::errors::InvokeError::Memory { limit } => LoadError::Memory { limit },
                    other => LoadError::Other(anyhow::anyhow!("{other}")),
                });
            }
        }
        let wasm = self
            .wizer
            .snapshot(
                &self.cx,
                &mut WasmtimeWizer {
                    store: &mut store,
                    instance,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("taking the snapshot")?;
        Ok(wasm)
    }
}
