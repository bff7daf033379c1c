//! Log output: `tracing` to stderr or to a file, at the configured level, as text or as JSON
//! lines (`[log] format = "json"`). Console lines from functions arrive under the target
//! `wisp::console` with the function and request id; `wisp serve` also keeps them (and every
//! other event that names a function) in [`crate::logs`] for the admin API.

use crate::config::LogConfig;
use anyhow::{Context, Result};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the configured level. With
/// `capture`, lines that name a function are also kept per function (see [`crate::logs`]).
pub fn init(config: &LogConfig, capture: bool) -> Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("{},cranelift=warn,wasmtime=warn", config.level))
    });
    let json = config.format == "json";
    let output: BoxedLayer = if config.path.is_empty() {
        use std::io::IsTerminal;
        let ansi = !json && std::io::stderr().is_terminal();
        let layer = tracing_subscriber::fmt::layer()
            .with_target(true)
            .with_ansi(ansi)
            .with_writer(std::io::stderr);
        if json {
            layer.json().boxed()
        } else {
            layer.boxed()
        }
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.path)
            .with_context(|| format!("[log] path: opening {}", config.path))?;
        let layer = tracing_subscriber::fmt::layer()
            .with_target(true)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file));
        if json {
            layer.json().boxed()
        } else {
            layer.boxed()
        }
    };
    let mut layers = vec![output.with_filter(filter).boxed()];
    if capture {
        // Independent of the output's level: `wisp logs` shows a function's console at every
        // level, and the server's lines about it, even when the server log is quieter.
        let wanted = EnvFilter::new("warn,wisp::console=debug,wisp_host=info");
        layers.push(crate::logs::CaptureLayer.with_filter(wanted).boxed());
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| anyhow::anyhow!("installing the logger: {e}"))
}
