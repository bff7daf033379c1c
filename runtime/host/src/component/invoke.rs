//! One request on a component: a fresh instance from the pool, the request handed to its
//! `wasi:http/incoming-handler`, the response (head and whole body) taken, the instance dropped.
//! Traps, the time limit and the memory limit become the same [`InvokeError`]s as for JS.

use super::ComponentFunction;
use super::log::LogStream;
use super::outbound::Outbound;
use super::state::{ComponentState, new_store};
use crate::errors::InvokeError;
use crate::pool::{MemoryLimiter, Runtime};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use std::convert::Infallible;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpView};
use wisp_abi::LogLevel;

impl ComponentFunction {
    /// A store for one request: WASI with the function's environment and directories, its
    /// output to the log, its storage grant, and the runtime's limits.
    fn new_store(
        &self,
        runtime: &Runtime,
        request_id: &str,
    ) -> anyhow::Result<Store<ComponentState>> {
        let stdout = LogStream::new(self.name.clone(), request_id.to_owned(), LogLevel::Info);
        let stderr = LogStream::new(self.name.clone(), request_id.to_owned(), LogLevel::Error);
        let mut wasi = WasiCtxBuilder::new();
        wasi.envs(&self.caps.env)
            .stdout(stdout.clone())
            .stderr(stderr.clone());
        for dir in &self.caps.dirs {
            wasi.preopened_dir(&dir.host, &dir.guest, dir.perms())
                .map_err(anyhow::Error::from)
                .map_err(|e| e.context(format!("opening --dir {}", dir.host.display())))?;
        }
        let state = ComponentState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            outbound: Outbound {
                allow: self.caps.allow.clone(),
                tls: self.caps.tls.clone(),
                function: self.name.clone(),
                request_id: request_id.to_owned(),
            },
            limiter: MemoryLimiter::new(runtime.max_memory),
            grant: self.grant.clone(),
            deadline: Instant::now() + runtime.timeout,
            timeout: runtime.timeout,
            stdout,
            stderr,
        };
        Ok(new_store(&runtime.engine, state))
    }

    /// Instantiates the component and drops it without calling it: the fixed cost of a
    /// request, for benchmarks.
    pub async fn instantiate_and_drop(&self, runtime: &Runtime) -> anyhow::Result<()> {
        let mut store = self.new_store(runtime, "")?;
        self.pre.instantiate_async(&mut store).await?;
        Ok(())
    }

    /// Serves one request on a fresh instance, within the runtime's time and memory limits.
    /// The request's URI must carry the scheme and authority (`http://host/path`).
    pub async fn invoke(
        &self,
        runtime: &Runtime,
        request: hyper::Request<Bytes>,
        request_id: &str,
    ) -> Result<hyper::Response<Bytes>, InvokeError> {
        let work = async {
            let mut store = self
                .new_store(runtime, request_id)
                .map_err(InvokeError::Internal)?;
            let (stdout, stderr) = (store.data().stdout.clone(), store.data().stderr.clone());
            let result = self.call(runtime, &mut store, request).await;
            stdout.finish();
            stderr.finish();
            result
        };
        match tokio::time::timeout(runtime.timeout, work).await {
            Ok(result) => result,
            // The future, with its store and instance, is dropped here: the slot is reclaimed.
            Err(_) => Err(InvokeError::Timeout(runtime.timeout)),
        }
    }

    async fn call(
        &self,
        runtime: &Runtime,
        store: &mut Store<ComponentState>,
        request: hyper::Request<Bytes>,
    ) -> Result<hyper::Response<Bytes>, InvokeError> {
        let internal = |e: wasmtime::Error| InvokeError::Internal(anyhow::Error::from(e));
        let request = request
            .map(|b| Full::new(b).map_err(|never: Infallible| -> ErrorCode { match never {} }));
        let mut http = store.data_mut().http();
        let req = http
            .new_incoming_request(Scheme::Http, request)
            .map_err(internal)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let out = http.new_response_outparam(tx).map_err(internal)?;
        let proxy = self
            .pre
            .instantiate_async(&mut *store)
            .await
            .map_err(crate::function::instantiate_error)?;

        // The guest writes the body after handing over the head, through a small buffer: the
        // body must be read while the guest runs, not after.
        let outcome = {
            let call = proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut *store, req, out);
            let collect = async {
                match rx.await {
                    Ok(Ok(response)) => {
                        let (parts, body) = response.into_parts();
                        // Bounded like a JS function's response, which lives in its memory.
                        let limit = runtime.max_memory as usize;
                        Some(match Limited::new(body, limit).collect().await {
                            Ok(b) => Ok(hyper::Response::from_parts(parts, b.to_bytes())),
                            Err(e) if e.is::<LengthLimitError>() => Err(format!(
                                "the response body is larger than the limit of {limit} bytes \
                                 (the instance's memory limit)"
                            )),
                            Err(e) => Err(format!("the response body failed: {e}")),
                        })
                    }
                    Ok(Err(code)) => {
                        Some(Err(format!("the function answered with an error: {code}")))
                    }
                    // Dropped without a response: the guest returned or trapped without one.
                    Err(_) => None,
                }
            };
            tokio::pin!(call, collect);
            let mut returned = false;
            loop {
                tokio::select! {
                    r = &mut call, if !returned => match r {
                        Ok(()) => returned = true,
                        Err(trap) => break Err(trap),
                    },
                    r = &mut collect => break Ok(r),
                }
            }
        };
        crate::pool::report_fuel(store, "component");
        match outcome {
            Ok(Some(Ok(response))) => Ok(response),
            Ok(Some(Err(message))) => Err(InvokeError::Trap(message)),
            Ok(None) => Err(InvokeError::Trap(
                "the handler returned without setting a response (response-outparam.set)".into(),
            )),
            Err(trap) => Err(classify(store.data(), trap)),
        }
    }
}

/// What a trap means for the caller: the time limit (504), the memory limit, or a crash (500).
fn classify(state: &ComponentState, err: wasmtime::Error) -> InvokeError {
    let trap = err.downcast_ref::<Trap>().copied();
    if trap == Some(Trap::Interrupt) {
        return InvokeError::Timeout(state.timeout);
    }
    if state.limiter.refused.is_some() {
        return InvokeError::Memory {
            limit: state.limiter.max_bytes(),
        };
    }
    match trap {
        Some(Trap::UnreachableCodeReached) => InvokeError::Trap(
            "wasm trap: unreachable (a Rust panic or abort; its message, if any, is in the log)"
                .into(),
        ),
        Some(Trap::StackOverflow) => {
            InvokeError::Trap("stack overflow (call stack exhausted)".into())
        }
        Some(t) => InvokeError::Trap(format!("wasm trap: {t}")),
        None => InvokeError::Trap(format!("{err:#}")),
    }
}
