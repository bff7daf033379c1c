//! The embedded KV backend: `sled` in the data directory.
//!
//! Each namespace is two trees: `kv/NAME` maps keys to [`Entry`] bytes, and `kv-expiry/NAME`
//! indexes keys that expire, by expiry time first, so that the sweeper visits only what is due.
//! Reads check the expiry themselves, so a key is gone the moment it expires even if the sweeper
//! has not run; the sweeper only reclaims space.
//!
//! Durability: sled buffers writes and flushes them every [`Durability::Periodic`] interval by
//! default, so a `kill -9` or power loss may lose the writes of that last interval (they were
//! acknowledged to JS). [`Durability::Sync`] flushes before each write is acknowledged.

use super::{BoxFuture, Entry, KvLimits, KvStore, Listing, MAX_LIST_LIMIT};
use crate::unix_now_ms;
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use wisp_abi::hostcall::KvKey;

/// When an acknowledged write reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Flushed in the background at this interval; the last interval's writes can be lost.
    Periodic(Duration),
    /// Flushed (fsync) before the write is acknowledged.
    Sync,
}

struct Namespace {
    data: sled::Tree,
    expiry: sled::Tree,
    /// Bytes of keys and entries held, for the quota.
    usage: AtomicU64,
}

pub struct SledKv {
    db: sled::Db,
    limits: KvLimits,
    durability: Durability,
    namespaces: Mutex<HashMap<String, Arc<Namespace>>>,
}

fn expiry_key(expires_at_ms: u64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + key.len());
    k.extend_from_slice(&expires_at_ms.to_be_bytes());
    k.extend_from_slice(key);
    k
}

fn entry_size(key: &[u8], stored: &[u8]) -> u64 {
    (key.len() + stored.len()) as u64
}

impl SledKv {
    /// Opens (or creates) the store in `dir` and starts its sweeper, which runs every
    /// `sweep_every` for as long as the store is alive.
    pub fn open(
        dir: &Path,
        limits: KvLimits,
        durability: Durability,
        sweep_every: Duration,
    ) -> Result<Arc<SledKv>> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the KV directory {}", dir.display()))?;
        let flush_every = match durability {
            Durability::Periodic(every) => Some(every.as_millis().max(1) as u64),
            Durability::Sync => None,
        };
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(flush_every)
            .open()
            .with_context(|| {
                format!(
                    "opening the KV store in {} (is another wisp process using this data directory?)",
                    dir.display()
                )
            })?;
        let kv = Arc::new(SledKv {
            db,
            limits,
            durability,
            namespaces: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&kv);
        std::thread::Builder::new()
            .name("wisp-kv-sweeper".into())
            .spawn(move || sweep_loop(weak, sweep_every))
            .context("starting the KV sweeper")?;
        Ok(kv)
    }

    fn namespace(&self, name: &str) -> Result<Arc<Namespace>> {
        let mut namespaces = self.namespaces.lock().unwrap();
        if let Some(ns) = namespaces.get(name) {
            return Ok(ns.clone());
        }
        let data = self.db.open_tree(format!("kv/{name}"))?;
        let expiry = self.db.open_tree(format!("kv-expiry/{name}"))?;
        let mut usage = 0;
        for item in data.iter() {
            let (k, v) = item?;
            usage += entry_size(&k, &v);
        }
        let ns = Arc::new(Namespace {
            data,
            expiry,
            usage: AtomicU64::new(usage),
        });
        namespaces.insert(name.to_owned(), ns.clone());
        Ok(ns)
    }

    /// Bytes held by a namespace (keys and stored entries).
    pub fn usage(&self, namespace: &str) -> Result<u64> {
        Ok(self.namespace(namespace)?.usage.load(Ordering::Relaxed))
    }

    async fn persist(&self) -> Result<()> {
        if self.durability == Durability::Sync {
            self.db
                .flush_async()
                .await
                .context("flushing the KV store")?;
        }
        Ok(())
    }

    fn get_now(&self, namespace: &str, key: &str) -> Result<Option<Entry>> {
        let ns = self.namespace(namespace)?;
        let Some(stored) = ns.data.get(key)? else {
            return Ok(None);
        };
        let entry = Entry::decode(&stored)?;
        Ok((!entry.expired(unix_now_ms())).then_some(entry))
    }

    fn put_now(&self, namespace: &str, key: &str, entry: Entry) -> Result<()> {
        self.limits.check_entry(key, &entry)?;
        let ns = self.namespace(namespace)?;
        let stored = entry.encode();
        let added = entry_size(key.as_bytes(), &stored);
        if self.limits.quota_bytes > 0 {
            let replaced = ns
                .data
                .get(key)?
                .map_or(0, |old| entry_size(key.as_bytes(), &old));
            let usage = ns.usage.load(Ordering::Relaxed);
            let after = usage.saturating_sub(replaced) + added;
            if after > self.limits.quota_bytes {
                bail!(
                    "KV quota exceeded: namespace {namespace:?} would hold {after} bytes; \
                     the quota is {} bytes ([kv] quota_bytes)",
                    self.limits.quota_bytes
                );
            }
        }
        let old = ns.data.insert(key, stored)?;
        ns.usage.fetch_add(added, Ordering::Relaxed);
        if let Some(old) = old {
            ns.usage
                .fetch_sub(entry_size(key.as_bytes(), &old), Ordering::Relaxed);
            if let Some(exp) = Entry::peek_expiry(&old).filter(|&e| e != 0) {
                ns.expiry.remove(expiry_key(exp, key.as_bytes()))?;
            }
        }
        if entry.expires_at_ms != 0 {
            ns.expiry
                .insert(expiry_key(entry.expires_at_ms, key.as_bytes()), &[])?;
        }
        Ok(())
    }

    fn delete_now(&self, namespace: &str, key: &str) -> Result<()> {
        self.limits.check_key(key)?;
        let ns = self.namespace(namespace)?;
        if let Some(old) = ns.data.remove(key)? {
            ns.usage
                .fetch_sub(entry_size(key.as_bytes(), &old), Ordering::Relaxed);
            if let Some(exp) = Entry::peek_expiry(&old).filter(|&e| e != 0) {
                ns.expiry.remove(expiry_key(exp, key.as_bytes()))?;
            }
        }
        Ok(())
    }

    fn list_now(&self, namespace: &str, prefix: &str, limit: u32, cursor: &str) -> Result<Listing> {
        let ns = self.namespace(namespace)?;
        let limit = limit.clamp(1, MAX_LIST_LIMIT) as usize;
        let start: Vec<u8> = if cursor.is_empty() {
            prefix.as_bytes().to_vec()
        } else {
            let mut after = decode_cursor(cursor)?;
            // The smallest key greater than the cursor's.
            after.push(0);
            after
        };
        let now = unix_now_ms();
        let mut keys = Vec::new();
        let mut more = false;
        for item in ns.data.range(start..) {
            let (k, v) = item?;
            if !k.starts_with(prefix.as_bytes()) {
                break;
            }
            let entry = Entry::decode(&v)?;
            if entry.expired(now) {
                continue;
            }
            if keys.len() == limit {
                more = true;
                break;
            }
            keys.push(KvKey {
                name: String::from_utf8_lossy(&k).into_owned(),
                expires_at_ms: entry.expires_at_ms,
                metadata: entry.metadata,
            });
        }
        let cursor = match (more, keys.last()) {
            (true, Some(last)) => encode_cursor(last.name.as_bytes()),
            _ => String::new(),
        };
        Ok(Listing { keys, cursor })
    }

    /// Removes the entries of every open namespace that expired by `now_ms`; returns how many.
    pub fn sweep(&self, now_ms: u64) -> Result<usize> {
        let namespaces: Vec<Arc<Namespace>> =
            self.namespaces.lock().unwrap().values().cloned().collect();
        let mut removed = 0;
        for ns in namespaces {
            for item in ns.expiry.range(..expiry_key(now_ms + 1, b"")) {
                let (index_key, _) = item?;
                let exp = u64::from_be_bytes(index_key[..8].try_into().unwrap());
                let key = &index_key[8..];
                if let Some(stored) = ns.data.get(key)?
                    && Entry::peek_expiry(&stored) == Some(exp)
                    // Only if nobody rewrote the key meanwhile.
                    && ns
                        .data
                        .compare_and_swap(key, Some(&stored), None as Option<&[u8]>)?
                        .is_ok()
                {
                    ns.usage
                        .fetch_sub(entry_size(key, &stored), Ordering::Relaxed);
                    removed += 1;
                }
                ns.expiry.remove(&index_key)?;
            }
        }
        Ok(removed)
    }
}

fn sweep_loop(kv: Weak<SledKv>, every: Duration) {
    loop {
        std::thread::sleep(every);
        let Some(kv) = kv.upgrade() else { return };
        match kv.sweep(unix_now_ms()) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(target: "wisp::kv", "swept {n} expired key(s)"),
            Err(e) => tracing::warn!(target: "wisp::kv", "sweeping expired keys: {e:#}"),
        }
    }
}

fn encode_cursor(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Result<Vec<u8>> {
    let bad = || anyhow::anyhow!("invalid KV list cursor {cursor:?}");
    if !cursor.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect()
}

impl KvStore for SledKv {
    fn get<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        // A sled read is a few microseconds of in-memory work: no need for the blocking pool.
        Box::pin(async move { self.get_now(namespace, key) })
    }

    fn put<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        entry: Entry,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.put_now(namespace, key, entry)?;
            self.persist().await
        })
    }

    fn delete<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.delete_now(namespace, key)?;
            self.persist().await
        })
    }

    fn list<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
        limit: u32,
        cursor: &'a str,
    ) -> BoxFuture<'a, Result<Listing>> {
        Box::pin(async move { self.list_now(namespace, prefix, limit, cursor) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: &str, expires_at_ms: u64) -> Entry {
        Entry {
            value: v.as_bytes().to_vec(),
            expires_at_ms,
            metadata: None,
        }
    }

    fn open(dir: &Path, quota_bytes: u64) -> Arc<SledKv> {
        let limits = KvLimits {
            quota_bytes,
            ..KvLimits::default()
        };
        SledKv::open(dir, limits, Durability::Sync, Duration::from_secs(3600)).unwrap()
    }

    #[tokio::test]
    async fn namespaces_are_isolated_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        {
            let kv = open(dir.path(), 0);
            kv.put("a", "k", entry("one", 0)).await.unwrap();
            kv.put("b", "k", entry("two", 0)).await.unwrap();
            assert_eq!(kv.get("a", "k").await.unwrap().unwrap().value, b"one");
            assert_eq!(kv.get("b", "k").await.unwrap().unwrap().value, b"two");
            assert_eq!(kv.get("c", "k").await.unwrap(), None);
        }
        // The sweeper thread holds a weak reference only: the database closes with the store.
        std::thread::sleep(Duration::from_millis(50));
        let kv = open(dir.path(), 0);
        assert_eq!(kv.get("a", "k").await.unwrap().unwrap().value, b"one");
        kv.delete("a", "k").await.unwrap();
        assert_eq!(kv.get("a", "k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn expired_keys_are_invisible_then_swept() {
        let dir = tempfile::tempdir().unwrap();
        let kv = open(dir.path(), 0);
        let now = unix_now_ms();
        kv.put("n", "old", entry("x", now - 1)).await.unwrap();
        kv.put("n", "new", entry("y", now + 60_000)).await.unwrap();
        assert_eq!(kv.get("n", "old").await.unwrap(), None);
        assert!(kv.get("n", "new").await.unwrap().is_some());
        let listed = kv.list("n", "", 10, "").await.unwrap();
        assert_eq!(listed.keys.len(), 1);
        let before = kv.usage("n").unwrap();
        assert_eq!(kv.sweep(now).unwrap(), 1);
        assert!(kv.usage("n").unwrap() < before);
        // A key rewritten without expiry is not swept by its old index entry.
        kv.put("n", "new", entry("z", 0)).await.unwrap();
        assert_eq!(kv.sweep(now + 120_000).unwrap(), 0);
        assert_eq!(kv.get("n", "new").await.unwrap().unwrap().value, b"z");
    }

    #[tokio::test]
    async fn list_pages_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let kv = open(dir.path(), 0);
        for i in 0..5 {
            kv.put("n", &format!("user:{i}"), entry("v", 0))
                .await
                .unwrap();
        }
        kv.put("n", "other", entry("v", 0)).await.unwrap();
        let first = kv.list("n", "user:", 2, "").await.unwrap();
        assert_eq!(first.keys.len(), 2);
        assert!(!first.cursor.is_empty());
        let second = kv.list("n", "user:", 10, &first.cursor).await.unwrap();
        let names: Vec<_> = second.keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["user:2", "user:3", "user:4"]);
        assert!(second.cursor.is_empty());
        assert!(kv.list("n", "", 1, "zz-not-hex").await.is_err());
    }

    #[tokio::test]
    async fn quota_refuses_growth_but_allows_replacing() {
        let dir = tempfile::tempdir().unwrap();
        let kv = open(dir.path(), 100);
        kv.put("q", "a", entry(&"x".repeat(60), 0)).await.unwrap();
        let err = kv
            .put("q", "b", entry(&"y".repeat(60), 0))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("quota"), "{err}");
        kv.put("q", "a", entry(&"z".repeat(70), 0)).await.unwrap();
        kv.delete("q", "a").await.unwrap();
        kv.put("q", "b", entry(&"y".repeat(60), 0)).await.unwrap();
    }
}
