//! The Wisp host: everything outside the sandbox.
//!
//! Deploy path (once per version of a function):
//! [`source`] reads the code → [`snapshot`] pre-initialises the engine with it (Wizer) →
//! [`cache`] compiles the snapshot with Cranelift and keeps the `.cwasm` by content hash →
//! [`function::Function`] holds it as an `InstancePre`, ready to instantiate.
//!
//! Request path (every request): [`serve`] (hyper, limits) → [`function::Function::invoke`]
//! (fresh instance from the [`pool`], time and memory limits) → [`guest`] (the ABI calls) →
//! the engine runs the JS, calling back into [`hostcalls`] (storage through
//! [`capabilities`]) → the response.
//!
//! Platform (`wisp serve`): [`platform`] carries out deploys — [`archive`] (unpack uploads
//! safely) → the bundler → snapshot and compile as above → [`registry`] (versions on disk,
//! the active pointer) → [`router`] (hot swap); [`admin`] is the authenticated HTTP API over
//! it, [`metrics`] the Prometheus counters, [`logs`] each function's recent log lines.
//!
//! The engine itself (QuickJS compiled to `wasm32-wasip1`) is built by this crate's build
//! script from `runtime/engine` and embedded as [`ENGINE_WASM`].

pub mod admin;
pub mod archive;
pub mod body;
pub mod cache;
pub mod capabilities;
pub mod clock;
pub mod component;
pub mod config;
pub mod errors;
pub mod fault_around;
pub mod function;
pub mod guest;
pub mod hostcalls;
pub mod logging;
pub mod logs;
pub mod metrics;
pub mod net;
pub mod outbound;
pub mod platform;
pub mod pool;
pub mod registry;
pub mod router;
pub mod serve;
pub mod slot_runs;
pub mod snapshot;
pub mod source;
pub mod streaming;
pub mod tls;

/// The engine: QuickJS and Wisp's polyfills, compiled to `wasm32-wasip1` by `build.rs`.
pub static ENGINE_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wisp_engine.wasm"));

static ENGINE_HASH: [u8; 32] = *include_bytes!(concat!(env!("OUT_DIR"), "/wisp_engine.sha256"));

/// SHA-256 of [`ENGINE_WASM`], computed by `build.rs`: every cache key includes it.
pub fn engine_hash() -> &'static [u8; 32] {
    &ENGINE_HASH
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    #[test]
    fn the_build_time_engine_hash_is_the_embedded_engines() {
        let hash: [u8; 32] = Sha256::digest(super::ENGINE_WASM).into();
        assert_eq!(&hash, super::engine_hash());
    }
}
