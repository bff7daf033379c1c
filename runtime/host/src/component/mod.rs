//! The Rust fast path: WebAssembly components of the `wasi:http/proxy` world (as built for
//! `wasm32-wasip2` with the `wasi` or `wstd` crates, or anything `wasmtime serve` runs), served
//! next to JS functions on the same engine, pool and limits.
//!
//! Deploy: [`load`] reads a `.wasm` component (compiled with Cranelift and cached by content
//! hash, mapped from the cache on restart) or a `.cwasm` made by `wisp compile`, links it
//! against WASI, wasi:http and `wisp:edge` ([`edge`]) and checks that it is a proxy: a
//! [`ComponentFunction`] holding a `ProxyPre`.
//! Request: [`invoke`] instantiates it afresh in a store ([`state`]) with the function's
//! environment, directories, storage grant, output to the log ([`log`]) and outbound HTTP under
//! the allowlist ([`outbound`]), and drops it after the response.

pub mod edge;
pub mod invoke;
pub mod load;
pub mod log;
pub mod outbound;
pub mod state;

use crate::capabilities::Grant;
use state::ComponentState;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

pub use load::{ComponentLoader, LoadError};

/// A directory the guest sees (`--dir host:guest[:rw]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
    pub writable: bool,
}

impl Preopen {
    /// Parses `host:guest`, `host:guest:rw`, `host:guest:ro`, or `host` (seen as itself).
    pub fn parse(s: &str) -> Result<Preopen, String> {
        let (rest, writable) = match s.rsplit_once(':') {
            Some((rest, "rw")) => (rest, true),
            Some((rest, "ro")) => (rest, false),
            _ => (s, false),
        };
        let (host, guest) = match rest.split_once(':') {
            Some((h, g)) if !h.is_empty() && !g.is_empty() => (h, g),
            Some(_) => return Err(format!("expected HOST:GUEST[:rw], got {s:?}")),
            None => (rest, rest),
        };
        Ok(Preopen {
            host: PathBuf::from(host),
            guest: guest.to_owned(),
            writable,
        })
    }

    fn perms(&self) -> wasmtime_wasi::FsPerms {
        if self.writable {
            wasmtime_wasi::FsPerms::ReadWrite
        } else {
            wasmtime_wasi::FsPerms::ReadOnly
        }
    }
}

/// What a component's requests may use beyond their sandbox (storage is the `grant`).
#[derive(Clone)]
pub struct Capabilities {
    /// Environment variables (`--env`).
    pub env: Vec<(String, String)>,
    /// Preopened directories (`--dir`).
    pub dirs: Vec<Preopen>,
    /// Which hosts outbound HTTP may reach.
    pub allow: outbound::Allow,
    /// The TLS client settings of outbound HTTPS (`crate::tls`).
    pub tls: Arc<rustls::ClientConfig>,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            env: Vec::new(),
            dirs: Vec::new(),
            allow: outbound::deny_all(),
            tls: crate::tls::client_config(&Default::default())
                .expect("the default TLS settings are valid"),
        }
    }
}

/// Facts about a loaded component, for logs, health and benchmarks.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    /// Content hash of the component: its cache key (for a `.cwasm`, of the file itself).
    pub hash: String,
    /// Whether the compiled code came from the cache (or a `.cwasm`) rather than Cranelift.
    pub cached: bool,
    /// Size of the compiled code on disk.
    pub compiled_bytes: u64,
    /// Time to compile, or to map the compiled file.
    pub compile_time: Duration,
}

/// A loaded component, ready to serve: instantiated afresh for every request.
pub struct ComponentFunction {
    pub name: Arc<str>,
    pub info: ComponentInfo,
    /// What its requests may reach (KV, SQLite, Redis through `wisp:edge`); `None` = nothing.
    pub grant: Option<Arc<Grant>>,
    pub caps: Capabilities,
    pre: ProxyPre<ComponentState>,
}

#[cfg(test)]
mod tests {
    use super::Preopen;

    #[test]
    fn preopens_parse() {
        let p = Preopen::parse("/srv/data:/data:rw").unwrap();
        assert_eq!(
            (p.host.to_str().unwrap(), p.guest.as_str(), p.writable),
            ("/srv/data", "/data", true)
        );
        let p = Preopen::parse("./static:/static").unwrap();
        assert_eq!(
            (p.host.to_str().unwrap(), p.guest.as_str(), p.writable),
            ("./static", "/static", false)
        );
        let p = Preopen::parse("assets").unwrap();
        assert_eq!(
            (p.host.to_str().unwrap(), p.guest.as_str(), p.writable),
            ("assets", "assets", false)
        );
        assert!(Preopen::parse(":/x").is_err());
    }
}
