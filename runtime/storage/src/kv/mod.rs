//! Key-value storage with expiry and metadata, the API behind `wasmedge-kv` and `env.KV`.
//!
//! Keys are strings of at most [`MAX_KEY_BYTES`] bytes; values are bytes of at most
//! [`KvLimits::max_value_bytes`]. Each function sees its own namespace (or one shared by
//! configuration). An expired key is never returned, whatever the backend has swept yet.
//!
//! Both backends store a value as an [`Entry`]: its expiry and metadata travel with it, so a
//! read needs one lookup.

mod redis_backend;
mod sled_backend;

pub use redis_backend::RedisKv;
pub use sled_backend::{Durability, SledKv};

use anyhow::{Result, bail};
use std::future::Future;
use std::pin::Pin;
use wisp_abi::hostcall::KvKey;

/// The longest key, in bytes (Cloudflare's limit).
pub const MAX_KEY_BYTES: usize = 512;
/// The most keys one `list` returns.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// A boxed future, so that [`KvStore`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A value with what travels with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Vec<u8>,
    /// Unix milliseconds; 0 = never.
    pub expires_at_ms: u64,
    pub metadata: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub keys: Vec<KvKey>,
    /// Where the next page starts; empty when this was the last page.
    pub cursor: String,
}

/// The operations every KV backend provides, on a namespace.
pub trait KvStore: Send + Sync {
    fn get<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>>;
    fn put<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        entry: Entry,
    ) -> BoxFuture<'a, Result<()>>;
    fn delete<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<()>>;
    fn list<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
        limit: u32,
        cursor: &'a str,
    ) -> BoxFuture<'a, Result<Listing>>;
}

/// Size limits, checked before a backend is touched.
#[derive(Debug, Clone, Copy)]
pub struct KvLimits {
    pub max_value_bytes: usize,
    /// Bytes of keys, values and metadata one namespace may hold (sled backend); 0 = no quota.
    pub quota_bytes: u64,
}

impl Default for KvLimits {
    fn default() -> Self {
        KvLimits {
            max_value_bytes: 25 * 1024 * 1024,
            quota_bytes: 1 << 30,
        }
    }
}

impl KvLimits {
    pub fn check_key(&self, key: &str) -> Result<()> {
        if key.is_empty() {
            bail!("KV keys must not be empty");
        }
        if key.len() > MAX_KEY_BYTES {
            bail!(
                "KV key is {} bytes long; the limit is {MAX_KEY_BYTES}",
                key.len()
            );
        }
        Ok(())
    }

    pub fn check_entry(&self, key: &str, entry: &Entry) -> Result<()> {
        self.check_key(key)?;
        if entry.value.len() > self.max_value_bytes {
            bail!(
                "KV value for {key:?} is {} bytes; the limit is {} ([kv] max_value_bytes)",
                entry.value.len(),
                self.max_value_bytes
            );
        }
        if entry.metadata.as_ref().is_some_and(|m| m.len() > 1024) {
            bail!("KV metadata for {key:?} is longer than 1024 bytes");
        }
        Ok(())
    }
}

impl Entry {
    /// Whether the entry has expired at `now_ms`.
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms != 0 && self.expires_at_ms <= now_ms
    }

    /// `version (1) | expires_at_ms (8, LE) | metadata: flag (1) [len (4) bytes] | value`.
    pub fn encode(&self) -> Vec<u8> {
        let meta = self.metadata.as_deref().map(str::as_bytes);
        let mut out = Vec::with_capacity(14 + meta.map_or(0, <[u8]>::len) + self.value.len());
        out.push(1);
        out.extend_from_slice(&self.expires_at_ms.to_le_bytes());
        match meta {
            None => out.push(0),
            Some(m) => {
                out.push(1);
                out.extend_from_slice(&(m.len() as u32).to_le_bytes());
                out.extend_from_slice(m);
            }
        }
        out.extend_from_slice(&self.value);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Entry> {
        let corrupt = || anyhow::anyhow!("corrupt KV entry ({} bytes)", bytes.len());
        if bytes.len() < 10 || bytes[0] != 1 {
            return Err(corrupt());
        }
        let expires_at_ms = u64::from_le_bytes(bytes[1..9].try_into().unwrap());
        let (metadata, rest) = match bytes[9] {
            0 => (None, &bytes[10..]),
            1 => {
                let len_bytes = bytes.get(10..14).ok_or_else(corrupt)?;
                let len = u32::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
                let meta = bytes.get(14..14 + len).ok_or_else(corrupt)?;
                let meta = String::from_utf8(meta.to_vec()).map_err(|_| corrupt())?;
                (Some(meta), &bytes[14 + len..])
            }
            _ => return Err(corrupt()),
        };
        Ok(Entry {
            value: rest.to_vec(),
            expires_at_ms,
            metadata,
        })
    }

    /// Only the expiry, without copying the value.
    pub fn peek_expiry(bytes: &[u8]) -> Option<u64> {
        Some(u64::from_le_bytes(bytes.get(1..9)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        for e in [
            Entry {
                value: vec![],
                expires_at_ms: 0,
                metadata: None,
            },
            Entry {
                value: b"hello".to_vec(),
                expires_at_ms: 42,
                metadata: Some("{\"a\":1}".into()),
            },
        ] {
            let bytes = e.encode();
            assert_eq!(Entry::decode(&bytes).unwrap(), e);
            assert_eq!(Entry::peek_expiry(&bytes), Some(e.expires_at_ms));
        }
        assert!(Entry::decode(b"junk").is_err());
    }

    #[test]
    fn limits_name_the_problem() {
        let limits = KvLimits {
            max_value_bytes: 4,
            quota_bytes: 0,
        };
        assert!(limits.check_key("").is_err());
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(
            limits
                .check_key(&long)
                .unwrap_err()
                .to_string()
                .contains("512")
        );
        let big = Entry {
            value: vec![0; 5],
            expires_at_ms: 0,
            metadata: None,
        };
        let e = limits.check_entry("k", &big).unwrap_err().to_string();
        assert!(e.contains("max_value_bytes"), "{e}");
    }
}
