//! `wisp serve`: every function in the registry on one listener, the admin API on another.

use crate::{Fail, load_config, runtime_failure, shutdown_signal, tokio_runtime, usage};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wisp_host::admin::{self, Admin};
use wisp_host::platform::Platform;
use wisp_host::serve::{self, App, Functions};

#[derive(Args)]
pub struct ServeArgs {
    /// Config file (default: ./wisp.toml if it exists).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// [storage] data_dir: the registry (functions/), KV and SQLite files.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// [http] listen: where functions are served.
    #[arg(long, short = 'l')]
    listen: Option<String>,
    /// [admin] listen: where the admin API and /metrics are served.
    #[arg(long)]
    admin_listen: Option<String>,
    /// [cache] dir: compiled snapshots (default for serve: DATA_DIR/cache).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// [http] workers: tokio worker threads (0 = one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// [log] level.
    #[arg(long)]
    log_level: Option<String>,
    /// [runtime] debug: error messages and JS stacks in 500 bodies (development only).
    #[arg(long)]
    debug: bool,
    /// [net] allow: a host outbound `fetch` may reach, repeatable, for every function.
    #[arg(long = "allow-net", value_name = "HOST[:PORT]")]
    allow_net: Vec<String>,
    #[command(flatten)]
    runtime: crate::RuntimeLimits,
    #[command(flatten)]
    http: crate::HttpLimits,
}

pub fn serve(args: ServeArgs) -> Result<(), Fail> {
    let started = Instant::now();
    let mut config = load_config(args.config.as_deref())?;
    if let Some(v) = &args.data_dir {
        config.storage.data_dir = v.display().to_string();
    }
    if let Some(v) = &args.listen {
        config.http.listen = v.clone();
    }
    if let Some(v) = &args.admin_listen {
        config.admin.listen = v.clone();
    }
    if let Some(v) = &args.cache_dir {
        config.cache.dir = v.display().to_string();
    }
    if let Some(v) = args.workers {
        config.http.workers = v;
    }
    if let Some(v) = &args.log_level {
        config.log.level = v.clone();
    }
    if args.debug {
        config.runtime.debug = true;
    }
    config.net.allow.extend(args.allow_net.iter().cloned());
    args.runtime.apply(&mut config);
    args.http.apply(&mut config);
    // The registry's compiled snapshots live with it unless told otherwise.
    if config.cache.dir.is_empty() {
        config.cache.dir = config.data_dir().join("cache").display().to_string();
    }
    config.validate().map_err(usage)?;
    let admin_addr = config.admin_addr().map_err(usage)?;
    let token = config.admin_token();
    admin::check_exposure(admin_addr, token.as_deref()).map_err(usage)?;
    wisp_host::logging::init(&config.log, true).map_err(usage)?;
    let rt = tokio_runtime(config.http.workers)?;
    rt.block_on(async move {
        let listen = config.listen_addr().map_err(usage)?;
        let listener = serve::bind(listen, config.http.reuse_port)
            .with_context(|| format!("[http] listen: binding {listen}"))
            .map_err(runtime_failure)?;
        let admin_listener = serve::bind(admin_addr, false)
            .with_context(|| format!("[admin] listen: binding {admin_addr}"))
            .map_err(runtime_failure)?;
        let (addr, admin_addr) = (
            listener
                .local_addr()
                .map_err(|e| runtime_failure(e.into()))?,
            admin_listener
                .local_addr()
                .map_err(|e| runtime_failure(e.into()))?,
        );
        wisp_host::platform::raise_open_files_limit();
        let platform = Platform::new(config.clone()).map_err(runtime_failure)?;
        let (served, cached) = platform.restore().await.map_err(runtime_failure)?;
        platform.warm_up_in_background();
        tracing::info!(
            functions = served,
            from_cache = cached,
            startup_ms = started.elapsed().as_secs_f64() * 1e3,
            "registry restored"
        );
        let app = Arc::new(App::serving(
            Functions::Many(platform.clone()),
            platform.loader.runtime.clone(),
            config.http.max_concurrent_requests,
            config.http.max_body_bytes,
            config.runtime.debug,
        ));
        let admin = Arc::new(Admin::new(platform.clone(), token));
        // The one line on stdout: scripts and tests read both addresses from it.
        println!(
            "wisp: serving {served} function{} on http://{addr} admin http://{admin_addr}",
            if served == 1 { "" } else { "s" }
        );
        let grace = Duration::from_millis(config.runtime.timeout_ms) + Duration::from_secs(1);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let admin_task = tokio::spawn(admin::serve(
            admin_listener,
            admin,
            stopped(stop_rx.clone()),
            grace,
        ));
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        serve::serve(listener, app, stopped(stop_rx), grace)
            .await
            .map_err(runtime_failure)?;
        match admin_task.await {
            Ok(r) => r.map_err(runtime_failure),
            Err(e) => Err(runtime_failure(e.into())),
        }
    })
}
