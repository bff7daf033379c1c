//! `wisp`: the command-line interface.
//!
//! `wisp run ENTRY` loads one function (pre-initialise, compile, cache) and serves it over HTTP.
//! `wisp bundle ENTRY` prints or writes the bundle the other commands would load.
//! `wisp serve` hosts every deployed function and the admin API (`platform.rs`); `wisp deploy`,
//! `list`, `rollback`, `delete` and `logs` are the admin API's client (`client.rs`).
//! `wisp compile IN.wasm -o OUT.cwasm` compiles a WebAssembly component ahead of time; `wisp run`
//! serves a `.wasm` or `.cwasm` component like a JS function.
//! Exit codes: 0 after a clean shutdown, 1 when the function cannot be loaded or served, 2 for a
//! bad flag or config file.

mod client;
mod platform;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wisp_host::capabilities::Stores;
use wisp_host::component::{Capabilities, ComponentFunction, ComponentLoader, Preopen};
use wisp_host::config::Config;
use wisp_host::function::Loader;
use wisp_host::serve::{self, App, Handler};

#[derive(Parser)]
#[command(
    name = "wisp",
    version,
    about = "JavaScript edge functions: QuickJS in WebAssembly, a fresh instance per request"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve one function over HTTP.
    Run(RunArgs),
    /// Load a function (pre-initialise and compile it) and report, without serving.
    Check(CheckArgs),
    /// Bundle a function (modules, npm packages, TypeScript) into one file, with a source map.
    Bundle(BundleArgs),
    /// Serve every deployed function, with the admin API (deploys, metrics) on its own listener.
    Serve(platform::ServeArgs),
    /// Deploy a folder or file to a `wisp serve` as the next version of a function.
    Deploy(client::DeployArgs),
    /// List the functions deployed on a server.
    List(client::ListArgs),
    /// Make an earlier version of a function the live one.
    Rollback(client::RollbackArgs),
    /// Stop serving a function and remove all its versions.
    Delete(client::DeleteArgs),
    /// Print a function's recent log lines (console output and errors).
    Logs(client::LogsArgs),
    /// Compile a WebAssembly component (wasi:http/proxy) ahead of time into a `.cwasm`.
    Compile(CompileArgs),
}

#[derive(Args)]
struct CompileArgs {
    /// The component (`.wasm`, built for wasm32-wasip2).
    input: PathBuf,
    /// Where to write the compiled component.
    #[arg(long, short = 'o', value_name = "OUT.cwasm")]
    out: PathBuf,
    #[command(flatten)]
    limits: Limits,
}

#[derive(Args)]
struct BundleArgs {
    /// The function: an entry file (.js, .mjs, .ts, .mts) or a project folder.
    entry: PathBuf,
    /// Write the bundle here (and its source map next to it, as FILE.map) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print compactly (whitespace removed; names are kept).
    #[arg(long)]
    minify: bool,
}

#[derive(Args)]
struct Limits {
    /// Config file (default: ./wisp.toml if it exists).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Environment for the function (process.env and the module `env`), repeatable.
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    #[command(flatten)]
    runtime: RuntimeLimits,
    /// [cache] dir: where compiled snapshots are kept.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// [log] level.
    #[arg(long)]
    log_level: Option<String>,
    /// [storage] data_dir: where KV and SQLite files live.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A directory a component may read (`HOST:GUEST`, or `HOST:GUEST:rw` to write), repeatable.
    #[arg(long = "dir", value_name = "HOST:GUEST[:rw]", value_parser = Preopen::parse)]
    dirs: Vec<Preopen>,
    /// [net] allow: a host outbound `fetch` may reach (`host`, `host:port`, `*.domain`, `*`);
    /// repeatable, added to the config's list. Nothing is allowed by default.
    #[arg(long = "allow-net", value_name = "HOST[:PORT]")]
    allow_net: Vec<String>,
}

/// The instance limits and the Redis server, for `wisp run`, `check`, `compile` and `serve`.
#[derive(Args)]
pub(crate) struct RuntimeLimits {
    /// [runtime] max_memory_pages: 64 KiB pages of linear memory per instance (a deployed
    /// version may set less).
    #[arg(long)]
    max_memory_pages: Option<u32>,
    /// [runtime] max_instances: instances alive at once.
    #[arg(long)]
    max_instances: Option<u32>,
    /// [runtime] timeout_ms: wall-clock limit per request (a deployed version may set less).
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// [redis] url: the Redis server for `wasmedge-redis` (and `[kv] backend = "redis"`).
    #[arg(long)]
    redis_url: Option<String>,
}

impl RuntimeLimits {
    pub(crate) fn apply(&self, config: &mut Config) {
        if let Some(v) = self.max_memory_pages {
            config.runtime.max_memory_pages = v;
        }
        if let Some(v) = self.max_instances {
            config.runtime.max_instances = v;
        }
        if let Some(v) = self.timeout_ms {
            config.runtime.timeout_ms = v;
        }
        if let Some(v) = &self.redis_url {
            config.redis.url = v.clone();
        }
    }
}

/// The HTTP server's limits, for `wisp run` and `wisp serve`.
#[derive(Args)]
pub(crate) struct HttpLimits {
    /// [http] max_concurrent_requests: past it, 503 at once.
    #[arg(long)]
    max_concurrent_requests: Option<usize>,
    /// [http] max_body_bytes: request body limit (413 past it).
    #[arg(long)]
    max_body_bytes: Option<u64>,
    /// [http] reuse_port: let several wisp processes share the port (SO_REUSEPORT).
    #[arg(long)]
    reuse_port: bool,
}

impl HttpLimits {
    pub(crate) fn apply(&self, config: &mut Config) {
        if let Some(v) = self.max_concurrent_requests {
            config.http.max_concurrent_requests = v;
        }
        if let Some(v) = self.max_body_bytes {
            config.http.max_body_bytes = v;
        }
        if self.reuse_port {
            config.http.reuse_port = true;
        }
    }
}

#[derive(Args)]
struct RunArgs {
    /// The function: an entry file (.js, .mjs, .ts, .mts), a project folder, or a
    /// WebAssembly component (.wasm, or .cwasm from `wisp compile`).
    entry: PathBuf,
    /// [http] listen: address to serve on (port 0 picks a free one).
    #[arg(long, short = 'l')]
    listen: Option<String>,
    /// [http] workers: tokio worker threads (0 = one per core).
    #[arg(long)]
    workers: Option<usize>,
    #[command(flatten)]
    http: HttpLimits,
    /// [runtime] debug: error messages and JS stacks in 500 bodies (development only).
    #[arg(long)]
    debug: bool,
    #[command(flatten)]
    limits: Limits,
}

#[derive(Args)]
struct CheckArgs {
    /// The function: an entry file (.js, .mjs, .ts, .mts) or a project folder.
    entry: PathBuf,
    #[command(flatten)]
    limits: Limits,
}

pub(crate) fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
            Ok((k.to_owned(), v.to_owned()))
        }
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// A failure and the exit code it deserves.
pub(crate) struct Fail(u8, anyhow::Error);

pub(crate) fn usage(e: anyhow::Error) -> Fail {
    Fail(2, e)
}
pub(crate) fn runtime_failure(e: anyhow::Error) -> Fail {
    Fail(1, e)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Check(args) => check(args),
        Command::Bundle(args) => bundle(args),
        Command::Serve(args) => platform::serve(args),
        Command::Deploy(args) => client::deploy(args),
        Command::List(args) => client::list(args),
        Command::Rollback(args) => client::rollback(args),
        Command::Delete(args) => client::delete(args),
        Command::Logs(args) => client::logs(args),
        Command::Compile(args) => compile(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

pub(crate) fn load_config(path: Option<&Path>) -> Result<Config, Fail> {
    match path {
        Some(p) => Config::from_file(p).map_err(usage),
        None if Path::new("wisp.toml").is_file() => {
            Config::from_file(Path::new("wisp.toml")).map_err(usage)
        }
        None => Ok(Config::default()),
    }
}

fn apply_limits(config: &mut Config, l: &Limits) {
    l.runtime.apply(config);
    if let Some(v) = &l.cache_dir {
        config.cache.dir = v.display().to_string();
    }
    if let Some(v) = &l.log_level {
        config.log.level = v.clone();
    }
    if let Some(v) = &l.data_dir {
        config.storage.data_dir = v.display().to_string();
    }
    config.net.allow.extend(l.allow_net.iter().cloned());
}

pub(crate) fn tokio_runtime(workers: usize) -> Result<tokio::runtime::Runtime, Fail> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if workers > 0 {
        b.worker_threads(workers);
    }
    b.enable_all()
        .thread_name("wisp-worker")
        .build()
        .context("starting the async runtime")
        .map_err(runtime_failure)
}

/// The function's name, which names its KV namespace and SQLite file: its project's folder
/// (the nearest one up from the entry with a `package.json`), else the entry's folder, however
/// the path is written (`index.js` from inside the folder, `shop/src/index.js`, `shop`).
fn function_name(entry: &Path) -> String {
    let folder = if entry.is_dir() {
        entry.canonicalize().ok()
    } else {
        std::path::absolute(entry)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .and_then(|p| p.canonicalize().ok())
    };
    let project = folder
        .as_deref()
        .and_then(|f| f.ancestors().find(|a| a.join("package.json").is_file()))
        .or(folder.as_deref());
    project
        .and_then(|p| p.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "function".into())
}

/// Reads and loads the function, printing a load error the way a user can act on it.
async fn load(
    loader: &Loader,
    config: &Config,
    entry: &Path,
    env: Vec<(String, String)>,
) -> Result<wisp_host::function::Function, Fail> {
    let mut source = wisp_host::source::load(entry, env).map_err(runtime_failure)?;
    source.input.bindings = config.bindings();
    let name = function_name(entry);
    let mut function = loader.load(&name, &source.input).await.map_err(|e| {
        let e = e.with_source_map(source.map.as_deref());
        runtime_failure(anyhow::anyhow!("{} failed to load:\n{e}", entry.display()))
    })?;
    function.source_map = source.map;
    Ok(function)
}

fn run(args: RunArgs) -> Result<(), Fail> {
    let started = Instant::now();
    let mut config = load_config(args.limits.config.as_deref())?;
    apply_limits(&mut config, &args.limits);
    if let Some(v) = &args.listen {
        config.http.listen = v.clone();
    }
    if let Some(v) = args.workers {
        config.http.workers = v;
    }
    args.http.apply(&mut config);
    if args.debug {
        config.runtime.debug = true;
    }
    config.validate().map_err(usage)?;
    wisp_host::logging::init(&config.log, false).map_err(usage)?;
    let rt = tokio_runtime(config.http.workers)?;
    rt.block_on(async move {
        let loader = Loader::new(&config).map_err(runtime_failure)?;
        let stores = Stores::new(&config).map_err(usage)?;
        let (handler, hash, cached, snapshot_time, compile_time): (Handler, _, _, _, _) =
            if is_component(&args.entry) {
                let mut c = load_component(&loader, &config, &args.entry, &args.limits)?;
                c.grant = Some(stores.grant(&c.name));
                let i = c.info.clone();
                (
                    Arc::new(c).into(),
                    i.hash,
                    i.cached,
                    Duration::ZERO,
                    i.compile_time,
                )
            } else {
                if !args.limits.dirs.is_empty() {
                    return Err(usage(anyhow::anyhow!(
                        "--dir is for WebAssembly components; JS functions have no file system"
                    )));
                }
                let mut f = load(&loader, &config, &args.entry, args.limits.env.clone()).await?;
                f.grant = Some(stores.grant(&f.name));
                let i = f.info.clone();
                (
                    Arc::new(f).into(),
                    i.hash,
                    i.cached,
                    i.snapshot_time,
                    i.compile_time,
                )
            };
        let listen = config.listen_addr().map_err(usage)?;
        let listener = serve::bind(listen, config.http.reuse_port)
            .with_context(|| format!("[http] listen: binding {listen}"))
            .map_err(runtime_failure)?;
        let addr = listener
            .local_addr()
            .map_err(|e| runtime_failure(e.into()))?;
        let name = handler.name().to_owned();
        let app = Arc::new(App::new(
            handler,
            loader.runtime.clone(),
            config.http.max_concurrent_requests,
            config.http.max_body_bytes,
            config.runtime.debug,
        ));
        tracing::info!(
            function = &*name,
            hash = &hash[..16],
            cached,
            snapshot_ms = snapshot_time.as_secs_f64() * 1e3,
            compile_ms = compile_time.as_secs_f64() * 1e3,
            startup_ms = started.elapsed().as_secs_f64() * 1e3,
            "function loaded"
        );
        // The one line on stdout: scripts and tests read the address from it.
        println!("wisp: serving {name} on http://{addr}");
        let grace = Duration::from_millis(config.runtime.timeout_ms) + Duration::from_secs(1);
        serve::serve(listener, app, shutdown_signal(), grace)
            .await
            .map_err(runtime_failure)
    })
}

fn check(args: CheckArgs) -> Result<(), Fail> {
    let mut config = load_config(args.limits.config.as_deref())?;
    apply_limits(&mut config, &args.limits);
    config.validate().map_err(usage)?;
    wisp_host::logging::init(&config.log, false).map_err(usage)?;
    let rt = tokio_runtime(1)?;
    rt.block_on(async move {
        let loader = Loader::new(&config).map_err(runtime_failure)?;
        if is_component(&args.entry) {
            let c = load_component(&loader, &config, &args.entry, &args.limits)?;
            println!("component:       {}", c.name);
            println!("hash:            {}", c.info.hash);
            println!("from cache:      {}", c.info.cached);
            println!(
                "compiled:        {} bytes in {:.1} ms",
                c.info.compiled_bytes,
                c.info.compile_time.as_secs_f64() * 1e3
            );
            return Ok(());
        }
        let function = load(&loader, &config, &args.entry, args.limits.env.clone()).await?;
        let i = &function.info;
        println!("function:        {}", function.name);
        println!("hash:            {}", i.hash);
        println!("from cache:      {}", i.cached);
        if !i.cached {
            println!(
                "snapshot:        {} bytes in {:.1} ms",
                i.snapshot_bytes,
                i.snapshot_time.as_secs_f64() * 1e3
            );
        }
        println!(
            "compiled:        {} bytes in {:.1} ms",
            i.compiled_bytes,
            i.compile_time.as_secs_f64() * 1e3
        );
        println!("initial memory:  {} KiB", i.initial_memory / 1024);
        Ok(())
    })
}

fn bundle(args: BundleArgs) -> Result<(), Fail> {
    let options = wisp_bundler::Options {
        minify: args.minify,
        ..Default::default()
    };
    let b = wisp_bundler::bundle(&args.entry, &options).map_err(|e| {
        runtime_failure(anyhow::anyhow!(
            "{} failed to bundle:\n{e}",
            args.entry.display()
        ))
    })?;
    let map = b.map_json();
    match &args.out {
        Some(out) => {
            let mut code = b.code.clone();
            if let Some(map) = &map {
                let map_path = PathBuf::from(format!("{}.map", out.display()));
                std::fs::write(&map_path, map)
                    .with_context(|| format!("writing {}", map_path.display()))
                    .map_err(runtime_failure)?;
                let name = map_path.file_name().unwrap_or_default().to_string_lossy();
                code.push_str(&format!("\n//# sourceMappingURL={name}\n"));
            }
            std::fs::write(out, code)
                .with_context(|| format!("writing {}", out.display()))
                .map_err(runtime_failure)?;
        }
        None if b.code.ends_with('\n') => print!("{}", b.code),
        None => println!("{}", b.code),
    }
    // The report goes to stderr so that stdout can be the bundle itself.
    eprintln!(
        "wisp bundle: {} ({} module{}{}) -> {} bytes of {} from {} bytes of source in {:.1} ms{}",
        b.entry.display(),
        b.modules.len(),
        if b.modules.len() == 1 { "" } else { "s" },
        if b.externals.is_empty() {
            String::new()
        } else {
            format!(", imports {}", b.externals.join(", "))
        },
        b.code.len(),
        if b.kind == wisp_bundler::OutputKind::Module {
            "ES module"
        } else {
            "script"
        },
        b.source_bytes,
        b.elapsed.as_secs_f64() * 1e3,
        map.as_ref()
            .map(|m| format!(", source map {} bytes", m.len()))
            .unwrap_or_else(|| ", unchanged (nothing to bundle)".into()),
    );
    Ok(())
}

/// Whether `entry` is a WebAssembly file (a component, a core module or a `.cwasm`) rather than
/// JS: by extension, or by its first bytes.
fn is_component(entry: &Path) -> bool {
    if matches!(
        entry.extension().and_then(|e| e.to_str()),
        Some("wasm" | "cwasm")
    ) {
        return true;
    }
    let mut head = [0u8; 4];
    entry.is_file()
        && std::fs::File::open(entry)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok()
        && (&head == b"\0asm" || &head == b"\x7fELF")
}

/// A component's name: its file's stem (`edge_handler.cwasm` → `edge_handler`).
fn component_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "component".into())
}

/// Loads a component with the flags' environment and directories, failing the way a user can
/// act on (exit 2 for a file that can never load here, such as a foreign `.cwasm`).
fn load_component(
    loader: &Loader,
    config: &Config,
    path: &Path,
    limits: &Limits,
) -> Result<ComponentFunction, Fail> {
    for dir in &limits.dirs {
        if !dir.host.is_dir() {
            return Err(usage(anyhow::anyhow!(
                "--dir {}: not a directory",
                dir.host.display()
            )));
        }
    }
    let components = ComponentLoader::new(loader.runtime.clone()).map_err(runtime_failure)?;
    let caps = Capabilities {
        env: limits.env.clone(),
        dirs: limits.dirs.clone(),
        allow: wisp_host::component::outbound::from_allowlist(config.allow_list()),
        tls: wisp_host::tls::client_config(&config.net).map_err(usage)?,
    };
    components
        .load(&loader.cache, &component_name(path), path, caps)
        .map_err(|e| {
            Fail(
                e.exit_code(),
                anyhow::anyhow!("{} failed to load:\n{e}", path.display()),
            )
        })
}

fn compile(args: CompileArgs) -> Result<(), Fail> {
    let started = Instant::now();
    // What a component may reach and its environment are given when it is served, not
    // compiled in: accepting them here would look as if they were.
    let l = &args.limits;
    if !l.env.is_empty() || !l.allow_net.is_empty() || !l.dirs.is_empty() {
        return Err(usage(anyhow::anyhow!(
            "wisp compile: --env, --allow-net and --dir apply when the component is served; give \
             them to `wisp run {}`",
            args.out.display()
        )));
    }
    let mut config = load_config(args.limits.config.as_deref())?;
    apply_limits(&mut config, &args.limits);
    config.validate().map_err(usage)?;
    wisp_host::logging::init(&config.log, false).map_err(usage)?;
    let wasm = std::fs::read(&args.input)
        .with_context(|| format!("reading {}", args.input.display()))
        .map_err(runtime_failure)?;
    // The serving engine's settings: a .cwasm only loads into an engine configured the same.
    let runtime = wisp_host::pool::Runtime::new(&config).map_err(runtime_failure)?;
    let components = ComponentLoader::new(runtime).map_err(runtime_failure)?;
    let compiled = components.compile(&wasm).map_err(|e| {
        Fail(
            e.exit_code(),
            anyhow::anyhow!("{} failed to compile:\n{e}", args.input.display()),
        )
    })?;
    std::fs::write(&args.out, &compiled)
        .with_context(|| format!("writing {}", args.out.display()))
        .map_err(runtime_failure)?;
    eprintln!(
        "wisp compile: {} ({} bytes) -> {} ({} bytes) in {:.1} ms",
        args.input.display(),
        wasm.len(),
        args.out.display(),
        compiled.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}
