//! Loading a component: what the bytes are (component, core module, precompiled `.cwasm`), the
//! compiled code from the cache or Cranelift, linking against what Wisp provides, and the check
//! that it is a `wasi:http/proxy` component. Every refusal is a [`LoadError`] that says why.

use super::state::ComponentState;
use super::{Capabilities, ComponentFunction, ComponentInfo};
use crate::cache::Cache;
use crate::pool::Runtime;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{Component, Linker};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// What a file holds, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A WebAssembly component (`\0asm`, layer 1).
    Component,
    /// A core WebAssembly module (`\0asm`, version 1): not servable as a component.
    CoreModule,
    /// Code compiled ahead of time by wasmtime (an ELF file), such as `wisp compile` writes.
    Precompiled,
    Unknown,
}

impl Kind {
    pub fn of(bytes: &[u8]) -> Kind {
        match bytes {
            [0, b'a', b's', b'm', 1, 0, 0, 0, ..] => Kind::CoreModule,
            [0, b'a', b's', b'm', _, _, 1, 0, ..] => Kind::Component,
            [0x7f, b'E', b'L', b'F', ..] => Kind::Precompiled,
            _ => Kind::Unknown,
        }
    }
}

/// Why a component cannot be served.
#[derive(Debug)]
pub enum LoadError {
    /// A core module, or not WebAssembly at all.
    NotAComponent(String),
    /// A component that does not export `wasi:http/incoming-handler`, or imports something Wisp
    /// does not provide.
    WrongWorld(String),
    /// A `.cwasm` from another wasmtime version or settings, or not a component's.
    Foreign(String),
    /// Reading, compiling or caching failed.
    Other(anyhow::Error),
}

impl LoadError {
    /// The exit code `wisp run`/`wisp compile` use for it: 2 for input that can never load
    /// here as it is, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            LoadError::Other(_) => 1,
            _ => 2,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotAComponent(m) | LoadError::WrongWorld(m) | LoadError::Foreign(m) => {
                f.write_str(m)
            }
            LoadError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<anyhow::Error> for LoadError {
    fn from(e: anyhow::Error) -> Self {
        LoadError::Other(e)
    }
}

/// The component linker (WASI p2, wasi:http, `wisp:edge`) and the cache, on the serving
/// runtime's engine.
pub struct ComponentLoader {
    pub runtime: Runtime,
    linker: Linker<ComponentState>,
}

impl ComponentLoader {
    pub fn new(runtime: Runtime) -> anyhow::Result<ComponentLoader> {
        let mut linker = Linker::new(&runtime.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)?;
        super::edge::add_to_linker(&mut linker).map_err(anyhow::Error::from)?;
        Ok(ComponentLoader { runtime, linker })
    }

    /// Compiles a component for this engine (what `wisp compile` writes), after checking that
    /// it would load.
    pub fn compile(&self, wasm: &[u8]) -> Result<Vec<u8>, LoadError> {
        check_kind(wasm)?;
        let component = Component::new(&self.runtime.engine, wasm)
            .map_err(|e| LoadError::NotAComponent(format!("not a valid component: {e:#}")))?;
        self.proxy(&component)?;
        component
            .serialize()
            .map_err(|e| LoadError::Other(anyhow::Error::from(e).context("serialising")))
    }

    /// Loads the component at `path`: a `.wasm` (compiled and cached in `cache`, or mapped from
    /// it) or a precompiled `.cwasm`.
    pub fn load(
        &self,
        cache: &Cache,
        name: &str,
        path: &Path,
        caps: Capabilities,
    ) -> Result<ComponentFunction, LoadError> {
        let started = Instant::now();
        let bytes =
            std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let (component, hash, cached, compiled_bytes) = if Kind::of(&bytes) == Kind::Precompiled {
            let component = self.deserialize(path)?;
            (
                component,
                Cache::key(&[b"cwasm", &bytes]),
                true,
                bytes.len() as u64,
            )
        } else {
            check_kind(&bytes)?;
            let hash = Cache::key(&[b"component", &bytes]);
            match cache.lookup_component(&self.runtime.engine, &hash) {
                Some(c) => (c, hash.clone(), true, file_len(&cache.path(&hash))),
                None => {
                    // Compiling validates: a broken file says why and leaves no cache entry.
                    let compiled =
                        self.runtime
                            .engine
                            .precompile_component(&bytes)
                            .map_err(|e| {
                                LoadError::NotAComponent(format!("not a valid component: {e:#}"))
                            })?;
                    let c = cache.store_component(&self.runtime.engine, &hash, &compiled)?;
                    (c, hash.clone(), false, file_len(&cache.path(&hash)))
                }
            }
        };
        let pre = self.proxy(&component)?;
        Ok(ComponentFunction {
            name: Arc::from(name),
            info: ComponentInfo {
                hash,
                cached,
                compiled_bytes,
                compile_time: started.elapsed(),
            },
            grant: None,
            caps,
            pre,
        })
    }

    fn deserialize(&self, path: &Path) -> Result<Component, LoadError> {
        // SAFETY: a `.cwasm` is native code; running one is trusting it, exactly like running a
        // binary. The operator named this file on the command line (as with `wasmtime run
        // --allow-precompiled`). wasmtime checks the header (version, settings, kind) and
        // refuses a mismatch, which is reported below.
        unsafe { Component::deserialize_file(&self.runtime.engine, path) }.map_err(|e| {
            LoadError::Foreign(format!(
                "{} is not a component precompiled by this Wisp (wasmtime {} with Wisp's \
                 settings): {e:#}. Recompile it from its .wasm with `wisp compile`.",
                path.display(),
                WASMTIME_VERSION,
            ))
        })
    }

    /// Links `component` and checks that it is a `wasi:http/proxy` component.
    fn proxy(&self, component: &Component) -> Result<ProxyPre<ComponentState>, LoadError> {
        let pre = self.linker.instantiate_pre(component).map_err(|e| {
            LoadError::WrongWorld(format!(
                "the component needs an import that Wisp does not provide (Wisp offers WASI \
                 0.2, wasi:http 0.2 and wisp:edge): {e:#}"
            ))
        })?;
        ProxyPre::new(pre).map_err(|e| {
            LoadError::WrongWorld(format!(
                "not a wasi:http/proxy component: it must export \
                 wasi:http/incoming-handler@0.2.x ({e:#})"
            ))
        })
    }
}

/// The wasmtime this Wisp embeds; a `.cwasm` only loads into the same one.
pub const WASMTIME_VERSION: &str = "48.0.8";

fn check_kind(bytes: &[u8]) -> Result<(), LoadError> {
    match Kind::of(bytes) {
        Kind::Component => Ok(()),
        Kind::CoreModule => Err(LoadError::NotAComponent(
            "this is a core WebAssembly module, not a component: build it for wasm32-wasip2 \
             (a wasi:http/proxy component), or wrap it with `wasm-tools component new`"
                .into(),
        )),
        Kind::Precompiled => Err(LoadError::NotAComponent(
            "this is already precompiled (.cwasm); serve it with `wisp run`".into(),
        )),
        Kind::Unknown => Err(LoadError::NotAComponent(
            "not a WebAssembly component (the file does not start with the \\0asm header)".into(),
        )),
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn kinds_from_headers() {
        assert_eq!(Kind::of(b"\0asm\x01\0\0\0rest"), Kind::CoreModule);
        assert_eq!(Kind::of(b"\0asm\x0d\0\x01\0rest"), Kind::Component);
        assert_eq!(Kind::of(b"\x7fELF\x02\x01"), Kind::Precompiled);
        assert_eq!(Kind::of(b"export default {}"), Kind::Unknown);
    }
}
