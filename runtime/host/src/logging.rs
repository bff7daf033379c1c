//! Log output: `tracing` to stderr or to a file, at the configured level. Console lines from
//! functions arrive under the target `wisp::console` with the function and request id.

use crate::config::LogConfig;
use anyhow::{Context, Result};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG`, when set, overrides the configured level.
pub fn init(config: &LogConfig) -> Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("{},cranelift=warn,wasmtime=warn", config.level))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    if config.path.is_empty() {
        use std::io::IsTerminal;
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .try_init()
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.path)
            .with_context(|| format!("[log] path: opening {}", config.path))?;
        builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .try_init()
    }
    .map_err(|e| anyhow::anyhow!("installing the logger: {e}"))
}
