//! The shared KV backend: Redis, so that every node of a deployment sees the same keys.
//!
//! A key lives at `wisp:kv:NAMESPACE:KEY`, holding the same [`Entry`] bytes as the sled backend;
//! Redis itself expires it (`SET … PXAT`), and reads check the expiry too. Listing uses `SCAN`,
//! so keys come in Redis's order rather than sorted, and a page may hold fewer keys than asked
//! while the cursor is not finished. The quota is not enforced here: Redis's `maxmemory` is the
//! limit that applies.

use super::{BoxFuture, Entry, KvLimits, KvStore, Listing, MAX_LIST_LIMIT};
use crate::redis::RedisClient;
use crate::unix_now_ms;
use anyhow::{Result, bail};
use std::sync::Arc;
use wisp_abi::hostcall::KvKey;

pub struct RedisKv {
    client: Arc<RedisClient>,
    limits: KvLimits,
}

fn redis_key(namespace: &str, key: &str) -> String {
    format!("wisp:kv:{namespace}:{key}")
}

/// Escapes Redis glob characters so that a prefix matches literally.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl RedisKv {
    pub fn new(client: Arc<RedisClient>, limits: KvLimits) -> RedisKv {
        RedisKv { client, limits }
    }
}

impl KvStore for RedisKv {
    fn get<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        Box::pin(async move {
            self.limits.check_key(key)?;
            let mut cmd = redis::cmd("GET");
            cmd.arg(redis_key(namespace, key));
            match self.client.run("GET", cmd).await? {
                redis::Value::Nil => Ok(None),
                redis::Value::BulkString(b) => {
                    let entry = Entry::decode(&b)?;
                    Ok((!entry.expired(unix_now_ms())).then_some(entry))
                }
                other => bail!("KV: unexpected reply from Redis: {other:?}"),
            }
        })
    }

    fn put<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        entry: Entry,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.limits.check_entry(key, &entry)?;
            let mut cmd = redis::cmd("SET");
            cmd.arg(redis_key(namespace, key)).arg(entry.encode());
            if entry.expires_at_ms != 0 {
                cmd.arg("PXAT").arg(entry.expires_at_ms);
            }
            self.client.run("SET", cmd).await?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, namespace: &'a str, key: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.limits.check_key(key)?;
            let mut cmd = redis::cmd("DEL");
            cmd.arg(redis_key(namespace, key));
            self.client.run("DEL", cmd).await?;
            Ok(())
        })
    }

    fn list<'a>(
        &'a self,
        namespace: &'a str,
        prefix: &'a str,
        limit: u32,
        cursor: &'a str,
    ) -> BoxFuture<'a, Result<Listing>> {
        Box::pin(async move {
            let limit = limit.clamp(1, MAX_LIST_LIMIT);
            let scan_from: u64 = if cursor.is_empty() {
                0
            } else {
                cursor
                    .parse()
                    .map_err(|_| anyhow::anyhow!("invalid KV list cursor {cursor:?}"))?
            };
            let strip = format!("wisp:kv:{namespace}:");
            let pattern = format!("{}*", glob_escape(&redis_key(namespace, prefix)));
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(scan_from)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(limit);
            let (next, names): (u64, Vec<String>) = match self.client.run("SCAN", cmd).await? {
                redis::Value::Array(parts) if parts.len() == 2 => {
                    let next = redis::from_redis_value(&parts[0])?;
                    let names = redis::from_redis_value(&parts[1])?;
                    (next, names)
                }
                other => bail!("KV: unexpected SCAN reply from Redis: {other:?}"),
            };
            let mut keys = Vec::with_capacity(names.len());
            for name in names {
                let Some(key) = name.strip_prefix(&strip) else {
                    continue;
                };
                if let Some(entry) = self.get(namespace, key).await? {
                    keys.push(KvKey {
                        name: key.to_owned(),
                        expires_at_ms: entry.expires_at_ms,
                        metadata: entry.metadata,
                    });
                }
            }
            let cursor = if next == 0 {
                String::new()
            } else {
                next.to_string()
            };
            Ok(Listing { keys, cursor })
        })
    }
}
