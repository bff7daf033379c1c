//! A Redis client for functions: one multiplexed, reconnecting connection per server, shared
//! by every request, with a deadline on each command and a command allowlist.
//!
//! The connection is made on first use and remade after a failure, so a Redis server that is
//! down when Wisp starts (or restarts later) costs the requests of that moment an error, never
//! the server its start. Every command is bounded by the client's timeout: a request waiting on
//! Redis never outlives its own time limit because of it.

use anyhow::{Context, Result, anyhow, bail};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use wisp_abi::hostcall::RedisValue;

/// Commands a function may send: data commands on keys. Server administration (`CONFIG`,
/// `FLUSHALL`, `SHUTDOWN`…), `KEYS` (a full scan that blocks the server) and scripting are
/// refused so that one function cannot take the shared layer down for all.
const ALLOWED: &[&str] = &[
    "APPEND",
    "DECR",
    "DECRBY",
    "DEL",
    "EXISTS",
    "EXPIRE",
    "EXPIREAT",
    "GET",
    "GETDEL",
    "GETEX",
    "GETSET",
    "HDEL",
    "HEXISTS",
    "HGET",
    "HGETALL",
    "HINCRBY",
    "HKEYS",
    "HLEN",
    "HMGET",
    "HSET",
    "HSETNX",
    "HVALS",
    "INCR",
    "INCRBY",
    "INCRBYFLOAT",
    "LINDEX",
    "LLEN",
    "LPOP",
    "LPUSH",
    "LRANGE",
    "LREM",
    "LSET",
    "LTRIM",
    "MGET",
    "MSET",
    "PERSIST",
    "PEXPIRE",
    "PEXPIREAT",
    "PING",
    "PTTL",
    "RPOP",
    "RPUSH",
    "SADD",
    "SCAN",
    "SCARD",
    "SET",
    "SETEX",
    "SETNX",
    "SISMEMBER",
    "SMEMBERS",
    "SREM",
    "STRLEN",
    "TTL",
    "TYPE",
    "UNLINK",
    "ZADD",
    "ZCARD",
    "ZINCRBY",
    "ZRANGE",
    "ZRANGEBYSCORE",
    "ZRANK",
    "ZREM",
    "ZREMRANGEBYSCORE",
    "ZSCORE",
];

pub struct RedisClient {
    client: redis::Client,
    /// The URL with any password removed, for messages.
    display_url: String,
    timeout: Duration,
    connection: Mutex<Option<ConnectionManager>>,
}

impl RedisClient {
    /// A client for `url` (`redis://[user:password@]host:port[/db]`); connects on first use.
    pub fn new(url: &str, timeout: Duration) -> Result<Arc<RedisClient>> {
        let client = redis::Client::open(url)
            .with_context(|| format!("[redis] url: {:?} is not a Redis URL", redact(url)))?;
        Ok(Arc::new(RedisClient {
            client,
            display_url: redact(url),
            timeout,
            connection: Mutex::new(None),
        }))
    }

    async fn connection(&self) -> Result<ConnectionManager> {
        let mut slot = self.connection.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1)
            .set_max_delay(100);
        let connect = ConnectionManager::new_with_config(self.client.clone(), config);
        let conn = tokio::time::timeout(self.timeout, connect)
            .await
            .map_err(|_| anyhow!("connecting to {} timed out", self.display_url))?
            .map_err(|e| anyhow!("connecting to {}: {e}", self.display_url))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Runs one command (`args[0]` is its name) and returns Redis's reply.
    pub async fn command(&self, args: &[Vec<u8>]) -> Result<RedisValue> {
        let Some(name) = args.first() else {
            bail!("redis: empty command");
        };
        let name = String::from_utf8_lossy(name).to_ascii_uppercase();
        if !ALLOWED.contains(&name.as_str()) {
            bail!("redis: the {name} command is not available to functions");
        }
        let mut cmd = redis::cmd(&name);
        for arg in &args[1..] {
            cmd.arg(arg.as_slice());
        }
        convert(self.run(&name, cmd).await?)
    }

    /// Runs a command built by Wisp itself (no allowlist), with the timeout.
    pub(crate) async fn run(&self, name: &str, cmd: redis::Cmd) -> Result<redis::Value> {
        let mut conn = self.connection().await?;
        let reply = tokio::time::timeout(self.timeout, cmd.query_async::<redis::Value>(&mut conn))
            .await
            .map_err(|_| anyhow!("redis: {name} timed out after {:?}", self.timeout))?;
        match reply {
            Ok(value) => Ok(value),
            Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => {
                // Make the next command reconnect from scratch.
                *self.connection.lock().await = None;
                Err(anyhow!("redis: {name} failed on {}: {e}", self.display_url))
            }
            Err(e) => Err(anyhow!("redis: {name}: {e}")),
        }
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn convert(value: redis::Value) -> Result<RedisValue> {
    use redis::Value as V;
    Ok(match value {
        V::Nil => RedisValue::Nil,
        V::Int(i) => RedisValue::Int(i),
        V::BulkString(b) => RedisValue::Data(b),
        V::SimpleString(s) => RedisValue::Status(s),
        V::Okay => RedisValue::Status("OK".into()),
        V::Array(items) | V::Set(items) => {
            RedisValue::Array(items.into_iter().map(convert).collect::<Result<_>>()?)
        }
        V::Map(pairs) => RedisValue::Array(
            pairs
                .into_iter()
                .flat_map(|(k, v)| [convert(k), convert(v)])
                .collect::<Result<_>>()?,
        ),
        V::Double(d) => RedisValue::Data(d.to_string().into_bytes()),
        V::Boolean(b) => RedisValue::Int(i64::from(b)),
        V::VerbatimString { text, .. } => RedisValue::Data(text.into_bytes()),
        V::BigNumber(n) => RedisValue::Data(n.to_string().into_bytes()),
        V::ServerError(e) => bail!("redis: {}", e.details().unwrap_or(e.code())),
        other => bail!("redis: unsupported reply {other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("redis://:secret@host:6379/0"),
            "redis://***@host:6379/0"
        );
        assert_eq!(redact("redis://host:6379"), "redis://host:6379");
    }

    #[tokio::test]
    async fn refuses_admin_commands_and_reports_a_down_server() {
        // Port 1 on loopback: nothing listens there.
        let client = RedisClient::new("redis://127.0.0.1:1", Duration::from_millis(500)).unwrap();
        let err = client.command(&[b"FLUSHALL".to_vec()]).await.unwrap_err();
        assert!(err.to_string().contains("not available"), "{err}");
        let err = client
            .command(&[b"GET".to_vec(), b"k".to_vec()])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    }
}
