//! Wisp's data at the edge: the stores a function reaches from JavaScript.
//!
//! One module per capability, each with a small async API that the host's host-call dispatcher
//! (`wisp-host`'s `capabilities` module) calls on behalf of a request:
//! - [`kv`]: key-value with TTL and metadata, per-namespace quota. The [`kv::KvStore`] trait has
//!   two backends: [`kv::SledKv`] (embedded, the default) and [`kv::RedisKv`] (shared by nodes).
//! - [`sqlite`]: SQLite databases (one per function, or named ones), WAL mode, a busy timeout,
//!   a small connection pool, statements run on tokio's blocking pool.
//! - [`redis`]: a reconnecting Redis client with timeouts and a command allowlist.
//!
//! Nothing here knows about Wasm: the values are those of [`wisp_abi::hostcall`].

pub mod kv;
pub mod redis;
pub mod sqlite;

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch: the clock TTLs are measured against.
pub fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}
