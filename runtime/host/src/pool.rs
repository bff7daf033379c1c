//! The instance pool: the wasmtime `Engine` every function shares, its pooling allocator and
//! copy-on-write memory images, and the per-request store with its limits.
//!
//! A request gets a brand-new instance of its function's snapshot (`InstancePre`), lives in it
//! and drops it: nothing a request does can be seen by the next. Limits:
//! - memory: a [`ResourceLimiter`] refuses growth past `max_memory_pages` (QuickJS then throws
//!   "out of memory"; Rust code in the engine traps) and remembers that it did;
//! - time: an epoch ticker interrupts running Wasm every [`TICK`] so the request yields its
//!   thread, and traps it once the deadline has passed; a request that sleeps on timers is cut
//!   by the server's wall-clock timeout instead (dropping the future drops the instance);
//! - instances: the pool has `max_instances` slots.

use crate::config::Config;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::{
    Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig, ResourceLimiter, Store,
    UpdateDeadline,
};
use wisp_abi::LogLevel;

/// How often running Wasm is interrupted to check its deadline and yield its thread.
pub const TICK: Duration = Duration::from_millis(5);

/// Bytes at the start of each used slot that are reset in place (written pages copied back from
/// the image, or zeroed) rather than unmapped. Unmapping is what costs most in a multi-threaded
/// server: every page unmapped and faulted back in makes the kernel interrupt the other cores to
/// flush their TLBs. A function's memory is usually 2–3 MiB, so this covers all of it
/// (benches/README.md).
const KEEP_RESIDENT: usize = 8 << 20;

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}

/// Core instances (and tables) a component instance may use, for sizing the pool.
const CORE_PER_COMPONENT: u32 = 4;

/// The native stack compiled Wasm may use.
const MAX_WASM_STACK: usize = 4 << 20;

/// What one store (one request, or one pre-initialisation) carries.
pub struct InstanceState {
    pub limiter: MemoryLimiter,
    pub function: Arc<str>,
    pub request_id: String,
    pub deadline: Instant,
    /// The time limit the deadline was computed from, for messages.
    pub timeout: Duration,
    /// The function's access to storage; `None` at pre-initialisation.
    pub grant: Option<Arc<crate::capabilities::Grant>>,
    /// The reply of the last host call, until the guest takes it.
    pub reply: Vec<u8>,
    /// Outbound requests this request may still make (set from the grant's limit), shared by
    /// the fetches running at once.
    pub subrequests_left: Arc<std::sync::atomic::AtomicU32>,
    /// The fetches this request has started and not yet collected.
    pub fetches: crate::outbound::InFlight,
    /// A response body streamed while the instance runs (`crate::streaming`).
    pub stream: crate::streaming::ResponseStream,
}

impl InstanceState {
    pub fn new(function: Arc<str>, request_id: String, max_memory: u64, timeout: Duration) -> Self {
        InstanceState {
            limiter: MemoryLimiter::new(max_memory),
            function,
            request_id,
            deadline: Instant::now() + timeout,
            timeout,
            grant: None,
            reply: Vec::new(),
            subrequests_left: Default::default(),
            fetches: Default::default(),
            stream: Default::default(),
        }
    }

    /// One line of the function's console, to the host log.
    pub fn log(&self, level: LogLevel, line: &str) {
        log_line(&self.function, &self.request_id, level, line);
    }
}

/// One line of a function's console (JS) or stdout/stderr (components), to the host log.
pub fn log_line(f: &str, id: &str, level: LogLevel, line: &str) {
    match level {
        LogLevel::Debug => {
            tracing::debug!(target: "wisp::console", function = f, request_id = id, "{line}")
        }
        LogLevel::Info => {
            tracing::info!(target: "wisp::console", function = f, request_id = id, "{line}")
        }
        LogLevel::Warn => {
            tracing::warn!(target: "wisp::console", function = f, request_id = id, "{line}")
        }
        LogLevel::Error => {
            tracing::error!(target: "wisp::console", function = f, request_id = id, "{line}")
        }
    }
}

/// Refuses linear-memory growth past a limit, and remembers having done so, so that the error a
/// user sees says which limit was hit.
pub struct MemoryLimiter {
    max_bytes: u64,
    /// The size a refused growth asked for, if any.
    pub refused: Option<u64>,
}

impl MemoryLimiter {
    pub fn new(max_bytes: u64) -> Self {
        MemoryLimiter {
            max_bytes,
            refused: None,
        }
    }
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.max_bytes {
            self.refused = Some(desired as u64);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// The shared engine and linker. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    pub engine: Engine,
    pub linker: Arc<Linker<InstanceState>>,
    pub max_memory: u64,
    pub timeout: Duration,
}

impl Runtime {
    /// The engine that serves requests: pooling allocator, copy-on-write images, epochs.
    pub fn new(config: &Config) -> Result<Runtime> {
        let max_memory = config.max_memory_bytes();
        let mut pool = PoolingAllocationConfig::new();
        // A component instance (the Rust fast path) holds several core instances and tables:
        // the program and wit-component's shims. Their slots are cheap (address space only).
        let slots = config.runtime.max_instances;
        pool.total_memories(slots)
            .total_tables(slots.saturating_mul(CORE_PER_COMPONENT))
            .total_core_instances(slots.saturating_mul(CORE_PER_COMPONENT))
            .total_component_instances(slots)
            .total_stacks(config.runtime.max_instances)
            .max_memory_size(max_memory as usize)
            .linear_memory_keep_resident(env_usize("WISP_KEEP_RESIDENT").unwrap_or(KEEP_RESIDENT))
            .table_keep_resident(env_usize("WISP_TABLE_KEEP_RESIDENT").unwrap_or(KEEP_RESIDENT))
            // PAGEMAP_SCAN (Linux 6.7+; elsewhere wasmtime copies everything) copies back only
            // the pages that no longer share the image, in at most 32 runs, and unmaps the rest.
            // A request's writes are scattered over the heap; `slot_runs` joins them into few
            // enough runs before the reset, so that nothing is unmapped and only the pages
            // requests write (plus small gaps) are copied. WISP_PAGEMAP=0 turns it off.
            .pagemap_scan(if env_usize("WISP_PAGEMAP") == Some(0) {
                wasmtime::Enabled::No
            } else {
                wasmtime::Enabled::Auto
            });
        let mut wasm = base_config(&config.cache_dir())?;
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm)
            .map_err(anyhow::Error::from)
            .context("configuring the wasmtime engine")?;
        start_epoch_ticker(&engine);
        Ok(Runtime {
            linker: Arc::new(linker(&engine)?),
            engine,
            max_memory,
            timeout: Duration::from_millis(config.runtime.timeout_ms),
        })
    }

    /// A store for one request, with its memory limit and CPU deadline in force.
    pub fn store(&self, function: Arc<str>, request_id: String) -> Store<InstanceState> {
        let state = InstanceState::new(function, request_id, self.max_memory, self.timeout);
        new_store(&self.engine, state)
    }
}

/// Wasmtime settings shared by the serving engine and the pre-initialisation engine; compiled
/// code is only valid for the settings it was compiled with.
pub fn base_config(cache_dir: &std::path::Path) -> Result<wasmtime::Config> {
    let mut wasm = wasmtime::Config::new();
    wasm.epoch_interruption(true)
        // QuickJS recurses natively for every JS call; wasmtime's default 512 KiB of native
        // stack allows fewer than 1,000 nested JS calls. 4 MiB roughly matches the engine's
        // 640 KiB shadow stack (about 2,400 frames). Only touched stack pages cost memory.
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(MAX_WASM_STACK + (1 << 20))
        .memory_init_cow(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .parallel_compilation(true);
    // `WISP_PROFILE=perfmap` names the compiled Wasm functions in /tmp/perf-<pid>.map, so that
    // `perf record` on a server or a bench attributes samples to QuickJS's own functions.
    if std::env::var("WISP_PROFILE").as_deref() == Ok("perfmap") {
        wasm.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if counting_fuel() {
        wasm.consume_fuel(true);
    }
    let store = crate::cache::IncrementalStore::new(cache_dir)?;
    wasm.enable_incremental_compilation(Arc::new(store))
        .map_err(anyhow::Error::from)?;
    Ok(wasm)
}

pub fn linker(engine: &Engine) -> Result<Linker<InstanceState>> {
    let mut linker = Linker::new(engine);
    crate::hostcalls::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// `WISP_PROFILE=fuel` counts the Wasm instructions each request runs in the guest (wasmtime's
/// fuel), and prints the count whenever it differs from the previous request's. Unlike time on
/// these noisy VMs, the count is the same on every run, so a change to the engine or the
/// polyfills can be judged by it. Compiled code differs with fuel on; its cache entries are
/// separate.
pub fn counting_fuel() -> bool {
    static ON: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var("WISP_PROFILE").as_deref() == Ok("fuel"));
    *ON
}

/// With [`counting_fuel`], gives a new store the fuel to count from (any store of an engine
/// made with [`base_config`] needs it then, or its first instruction traps).
pub fn give_fuel<T>(store: &mut Store<T>) {
    if counting_fuel() {
        store.set_fuel(FUEL).expect("fuel is on when counting");
    }
}

/// With [`counting_fuel`], reports what `function`'s guest ran since its store was made.
pub fn report_fuel<T>(store: &Store<T>, function: &str) {
    static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if !counting_fuel() {
        return;
    }
    let Ok(left) = store.get_fuel() else { return };
    let used = FUEL - left;
    if LAST.swap(used, std::sync::atomic::Ordering::Relaxed) != used {
        eprintln!("wisp: {function} ran {used} Wasm instructions");
    }
}

/// The fuel a store starts with when counting: more than any request can use.
const FUEL: u64 = u64::MAX / 2;

/// A store whose Wasm yields at every epoch tick and traps once its deadline has passed.
pub fn new_store(engine: &Engine, state: InstanceState) -> Store<InstanceState> {
    let mut store = Store::new(engine, state);
    give_fuel(&mut store);
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

/// Advances an engine's epoch every [`TICK`] on a background thread, which ends when the
/// engine is dropped.
pub fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wisp-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .expect("spawning the epoch thread");
}
