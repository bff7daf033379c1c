//! A loaded function: its pre-initialised, compiled snapshot ready to instantiate, and the
//! per-request invocation (fresh instance → request in → response out → instance dropped).

use crate::body::BodyStream;
use crate::cache::Cache;
use crate::errors::{InvokeError, LoadError};
use crate::guest::{self, Outcome};
use crate::pool::{InstanceState, Runtime};
use crate::snapshot::Snapshotter;
use crate::streaming::{Early, ResponseStream, StreamedResponse};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wasmtime::InstancePre;
use wasmtime::error::Context as _;
use wisp_abi::{InitInput, Request, Response};

/// Facts about a loaded function, for logs, health and benchmarks.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    /// Content hash of the engine, the code and the environment: the cache key.
    pub hash: String,
    /// Whether the compiled snapshot came from the disk cache.
    pub cached: bool,
    /// Size of the pre-initialised Wasm module (0 when it came from the cache).
    pub snapshot_bytes: usize,
    /// Size of the compiled `.cwasm` on disk.
    pub compiled_bytes: u64,
    /// Linear memory the snapshot starts with, in bytes.
    pub initial_memory: u64,
    /// Time to snapshot (zero when cached).
    pub snapshot_time: Duration,
    /// Time to compile, or to map the cached file.
    pub compile_time: Duration,
}

/// A function's own time and memory limits (each at most the server's).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub max_memory: u64,
}

pub struct Function {
    pub name: Arc<str>,
    pub info: FunctionInfo,
    /// Maps positions in a bundle's stacks back to the user's files.
    pub source_map: Option<Arc<wisp_bundler::SourceMapper>>,
    /// What its requests may reach (KV, SQLite, Redis); `None` = no storage.
    pub grant: Option<Arc<crate::capabilities::Grant>>,
    /// Limits below the server's, from a deployed version's settings.
    pub limits: Option<Limits>,
    pre: InstancePre<InstanceState>,
    exports: guest::Exports,
    /// The snapshot's static input buffer (the same address in every instance).
    input_buffer: u32,
}

impl Function {
    /// The cache key of `input`: engine, code, filename and environment.
    pub fn hash(input: &InitInput) -> String {
        Cache::key(&[b"function", crate::engine_hash(), &input.encode()])
    }

    /// Wraps a compiled snapshot; `fresh` is (snapshot size, snapshot time) when it was just made.
    async fn from_module(
        runtime: &Runtime,
        cache: &Cache,
        name: &str,
        hash: String,
        module: wasmtime::Module,
        fresh: Option<(usize, Duration)>,
    ) -> Result<Function, LoadError> {
        let initial_memory = module
            .exports()
            .find_map(|e| {
                e.ty()
                    .memory()
                    .map(|m| m.minimum() * crate::config::WASM_PAGE)
            })
            .unwrap_or(0);
        if initial_memory > runtime.max_memory {
            return Err(LoadError::Memory {
                limit: runtime.max_memory,
            });
        }
        let pre = runtime
            .linker
            .instantiate_pre(&module)
            .context("linking the snapshot")?;
        let compiled_bytes = std::fs::metadata(cache.path(&hash))
            .map(|m| m.len())
            .unwrap_or(0);
        let (snapshot_bytes, snapshot_time) = fresh.unwrap_or((0, Duration::ZERO));
        let exports = guest::Exports::of(&module)?;
        let input_buffer = {
            let mut store = runtime.store(Arc::from(name), "load".into());
            let instance = pre.instantiate_async(&mut store).await?;
            exports.input_buffer(&mut store, &instance).await?
        };
        Ok(Function {
            exports,
            input_buffer,
            source_map: None,
            grant: None,
            limits: None,
            name: Arc::from(name),
            info: FunctionInfo {
                cached: fresh.is_none(),
                hash,
                snapshot_bytes,
                compiled_bytes,
                initial_memory,
                snapshot_time,
                compile_time: Duration::ZERO,
            },
            pre,
        })
    }

    /// Instantiates the snapshot and drops it without calling it: the fixed cost of a request,
    /// for benchmarks.
    pub async fn instantiate_and_drop(&self, runtime: &Runtime) -> anyhow::Result<()> {
        let mut store = runtime.store(self.name.clone(), String::new());
        self.pre.instantiate_async(&mut store).await?;
        Ok(())
    }

    /// Serves one request on a fresh instance, within the runtime's time and memory limits.
    /// A streamed (`ReadableStream`) body is read to its end here: see [`Self::invoke_streaming`].
    pub async fn invoke(
        &self,
        runtime: &Runtime,
        request: Request,
    ) -> Result<Response, InvokeError> {
        self.run(runtime, request, None, ResponseStream::default())
            .await
    }

    /// Serves one request; a response whose body is a stream is answered as soon as its head
    /// is known, one with `waitUntil` work pending as soon as it is made, and the instance lives
    /// on in a task of its own until the body or the work ends (still under the time limit).
    /// `body_rest` is the part of the request body still arriving, which JS reads as it comes.
    /// `keep` (a concurrency permit, say) is held until the instance is gone.
    pub async fn invoke_streaming(
        self: &Arc<Self>,
        runtime: &Runtime,
        request: Request,
        body_rest: Option<BodyStream>,
        keep: impl Send + 'static,
    ) -> Result<Reply, InvokeError> {
        let (stream, mut head) = ResponseStream::new();
        let (function, runtime) = (self.clone(), runtime.clone());
        let mut work = Box::pin(async move {
            let result = function.run(&runtime, request, body_rest, stream).await;
            drop(keep);
            result
        });
        tokio::select! {
            biased;
            // The instance ended before anything was sent to the client: even if it answered
            // early, the answer can still be given whole (or be an error response).
            result = &mut work => match (head.try_recv(), result) {
                (Ok(Early::Whole(response)), _) => Ok(Reply::Whole(response)),
                (Ok(Early::Streamed(streamed)), Ok(_)) => Ok(Reply::Whole(streamed.collect())),
                (_, result) => result.map(Reply::Whole),
            },
            Ok(early) = &mut head => {
                tokio::spawn(work);
                Ok(early.into())
            }
        }
    }

    async fn run(
        &self,
        runtime: &Runtime,
        mut request: Request,
        body_rest: Option<BodyStream>,
        stream: ResponseStream,
    ) -> Result<Response, InvokeError> {
        let request_id = request.request_id.clone();
        let (timeout, max_memory) = match self.limits {
            Some(l) => (l.timeout, l.max_memory),
            None => (runtime.timeout, runtime.max_memory),
        };
        let mut store = runtime.store(self.name.clone(), request_id);
        if self.limits.is_some() {
            let state = store.data_mut();
            state.limiter = crate::pool::MemoryLimiter::new(max_memory);
            state.deadline = Instant::now() + timeout;
            state.timeout = timeout;
        }
        if let Some(grant) = &self.grant {
            store.data_mut().subrequests_left =
                Arc::new(std::sync::atomic::AtomicU32::new(grant.max_subrequests()));
            store.data_mut().grant = Some(grant.clone());
        }
        store.data_mut().stream = stream;
        if let Some(rest) = body_rest {
            request.body_rest = Some(store.data_mut().fetches.stream(rest));
        }
        let deadline = store.data().deadline;
        let call = async {
            let instance = match self.pre.instantiate_async(&mut store).await {
                Ok(i) => i,
                Err(e) => return Err(instantiate_error(e)),
            };
            let input = request.encode();
            drop(request);
            Ok(guest::call(
                &mut store,
                &instance,
                &self.exports,
                guest::Entry::Handle,
                &input,
                Some(self.input_buffer),
            )
            .await)
        };
        // A trap is classified against the store once the call has let go of it.
        enum Ended {
            Output(Outcome),
            Trap(wasmtime::Error),
            Failed(InvokeError),
        }
        let ended = match within(deadline, call).await {
            // Dropping the call future drops the instance; the store (and its slot) go below.
            Err(_) => Ended::Failed(InvokeError::Timeout(timeout)),
            Ok(Err(e)) => Ended::Failed(e),
            Ok(Ok(Ok(outcome))) => Ended::Output(outcome),
            Ok(Ok(Err(trap))) => Ended::Trap(trap),
        };
        let result = match ended {
            Ended::Output(Outcome::Ok(bytes)) => {
                Response::decode(&bytes).map_err(|e| InvokeError::Internal(anyhow::anyhow!("{e}")))
            }
            Ended::Output(Outcome::Failure(f)) => {
                // QuickJS turns a refused memory.grow into a JS "out of memory" error.
                if store.data().limiter.refused.is_some() {
                    Err(InvokeError::Memory { limit: max_memory })
                } else {
                    Err(InvokeError::Js(match &self.source_map {
                        Some(map) => crate::errors::remap_failure(f, map),
                        None => f,
                    }))
                }
            }
            Ended::Trap(trap) => Err(guest::classify_trap(&store, trap)),
            Ended::Failed(e) => Err(e),
        };
        // A function that failed with the error of reading its streamed-in body past the limit
        // failed because of the body: the client is told so, as it would have been had the
        // length been known.
        let result = match (result, store.data().fetches.request_body_refused()) {
            (Err(InvokeError::Js(f)), Some(limit))
                if f.message.contains(crate::body::REQUEST_BODY_CAP) =>
            {
                Err(InvokeError::BodyTooLarge {
                    limit: limit as u64,
                })
            }
            (result, _) => result,
        };
        if store.data().stream.started() {
            // The client has its answer already: a failure can only cut a streamed body short,
            // or end `waitUntil` work.
            if let Err(e) = &result {
                let reason = e.to_string();
                tracing::error!(
                    function = &*self.name,
                    request_id = store.data().request_id,
                    "the function failed after its response was sent (streamed body or \
                     waitUntil work): {reason}"
                );
                store.data_mut().stream.fail(reason);
            }
        }
        result
    }
}

/// `work` under a deadline. Most requests finish on the first poll (a handler that waits on
/// nothing), so the timer is only armed once `work` has to wait.
async fn within<F: Future>(
    deadline: Instant,
    work: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut work = std::pin::pin!(work);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(work.as_mut().poll(cx))).await;
    match first {
        std::task::Poll::Ready(out) => Ok(out),
        std::task::Poll::Pending => tokio::time::timeout_at(deadline.into(), work).await,
    }
}

impl From<Early> for Reply {
    fn from(early: Early) -> Reply {
        match early {
            Early::Streamed(streamed) => Reply::Streamed(streamed),
            Early::Whole(response) => Reply::Whole(response),
        }
    }
}

/// What a request produced.
pub enum Reply {
    /// The whole response.
    Whole(Response),
    /// A response whose body is still being produced by its instance.
    Streamed(StreamedResponse),
}

pub(crate) fn instantiate_error(e: wasmtime::Error) -> InvokeError {
    // The pooling allocator refuses when every slot (memory, table, stack) is taken.
    if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        InvokeError::Busy
    } else {
        InvokeError::Internal(anyhow::anyhow!("instantiating the snapshot: {e:#}"))
    }
}

/// Everything needed to load functions: the serving runtime, the cache, and the snapshotter,
/// which is only built when some code is not in the cache (a warm start never pays for it).
pub struct Loader {
    pub runtime: Runtime,
    pub cache: Cache,
    snapshotter: OnceLock<Result<Snapshotter, String>>,
    max_memory: u64,
}

impl Loader {
    pub fn new(config: &crate::config::Config) -> anyhow::Result<Loader> {
        Ok(Loader {
            runtime: Runtime::new(config)?,
            cache: Cache::new(config.cache_dir())?,
            snapshotter: OnceLock::new(),
            max_memory: config.max_memory_bytes(),
        })
    }

    fn snapshotter(&self) -> Result<&Snapshotter, LoadError> {
        self.snapshotter
            .get_or_init(|| {
                Snapshotter::new(&self.cache, self.max_memory).map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(|e| LoadError::Other(anyhow::anyhow!("{e}")))
    }

    /// Builds the snapshotter now (about a second of compiling, once per process) rather than
    /// inside the first deploy that needs it.
    pub fn warm_up(&self) {
        let _ = self.snapshotter();
    }

    pub async fn load(&self, name: &str, input: &InitInput) -> Result<Function, LoadError> {
        let hash = Function::hash(input);
        if let Some(module) = self.cache.lookup(&self.runtime.engine, &hash) {
            return Function::from_module(&self.runtime, &self.cache, name, hash, module, None)
                .await;
        }
        let snapshotter = self.snapshotter()?;
        let started = Instant::now();
        let wasm = snapshotter.snapshot(name, input).await?;
        let snapshot_time = started.elapsed();
        let module = self.cache.store(&self.runtime.engine, &hash, &wasm)?;
        let mut f = Function::from_module(
            &self.runtime,
            &self.cache,
            name,
            hash,
            module,
            Some((wasm.len(), snapshot_time)),
        )
        .await?;
        f.info.compile_time = started.elapsed() - snapshot_time;
        Ok(f)
    }
}
