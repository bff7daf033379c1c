//! The host side of `wisp:edge` (`wit/wisp-edge.wit`): KV, SQLite and Redis for components.
//!
//! Each call becomes the same [`HostCall`] the JS engine sends and goes through the function's
//! [`crate::capabilities::Grant`], so a component and a JS function with the same KV namespace
//! or SQLite file see the same data, under the same limits and the request's deadline.

use super::state::ComponentState;
use std::time::{SystemTime, UNIX_EPOCH};
use wasmtime::component::{HasSelf, Linker};
use wisp_abi::hostcall::{HostCall, HostReply, RedisValue, SqlResult, SqlValue};

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "wisp:edge/imports",
    imports: { default: async },
});

use wisp::edge::{kv, redis, sqlite};

/// Adds the `wisp:edge` interfaces to a component linker.
pub fn add_to_linker(linker: &mut Linker<ComponentState>) -> wasmtime::Result<()> {
    Imports::add_to_linker::<ComponentState, HasSelf<ComponentState>>(linker, |s| s)
}

impl ComponentState {
    /// The call, as a future that does not borrow the state (which is not `Sync`).
    fn perform(
        &self,
        call: HostCall,
    ) -> impl Future<Output = Result<HostReply, String>> + Send + 'static {
        let grant = self.grant.clone();
        let deadline = self.deadline;
        async move {
            let grant =
                grant.ok_or_else(|| "wisp:edge: this function has no storage".to_owned())?;
            // wisp:edge has no fetch: outbound HTTP goes through wasi:http, with its own checks.
            grant.perform(call, deadline).await
        }
    }

    fn sql(
        &self,
        database: String,
        sql: String,
        params: Vec<sqlite::Value>,
    ) -> impl Future<Output = Result<SqlResult, String>> + Send + 'static {
        let params = params.into_iter().map(to_sql).collect();
        let reply = self.perform(HostCall::Sql {
            database,
            statements: vec![(sql, params)],
        });
        async move {
            match reply.await? {
                HostReply::Sql(mut results) if results.len() == 1 => Ok(results.remove(0)),
                other => Err(unexpected(&other)),
            }
        }
    }
}

fn unexpected(reply: &HostReply) -> String {
    format!("wisp:edge: unexpected reply from the host: {reply:?}")
}

impl kv::Host for ComponentState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, String> {
        match self.perform(HostCall::KvGet { key }).await? {
            HostReply::KvValue(v) => Ok(v.map(|(value, _metadata)| value)),
            other => Err(unexpected(&other)),
        }
    }

    async fn put(&mut self, key: String, value: Vec<u8>, ttl_seconds: u64) -> Result<(), String> {
        let expires_at_ms = if ttl_seconds == 0 {
            0
        } else {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as u64;
            now.saturating_add(ttl_seconds.saturating_mul(1000))
        };
        let call = HostCall::KvPut {
            key,
            value,
            expires_at_ms,
            metadata: None,
        };
        match self.perform(call).await? {
            HostReply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn delete(&mut self, key: String) -> Result<(), String> {
        match self.perform(HostCall::KvDelete { key }).await? {
            HostReply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn list(
        &mut self,
        prefix: String,
        limit: u32,
        cursor: String,
    ) -> Result<(Vec<String>, String), String> {
        let call = HostCall::KvList {
            prefix,
            limit,
            cursor,
        };
        match self.perform(call).await? {
            HostReply::KvKeys { keys, cursor } => {
                Ok((keys.into_iter().map(|k| k.name).collect(), cursor))
            }
            other => Err(unexpected(&other)),
        }
    }
}

fn to_sql(v: sqlite::Value) -> SqlValue {
    match v {
        sqlite::Value::Null => SqlValue::Null,
        sqlite::Value::Integer(i) => SqlValue::Integer(i),
        sqlite::Value::Real(r) => SqlValue::Real(r),
        sqlite::Value::Text(t) => SqlValue::Text(t),
        sqlite::Value::Blob(b) => SqlValue::Blob(b),
    }
}

fn from_sql(v: SqlValue) -> sqlite::Value {
    match v {
        SqlValue::Null => sqlite::Value::Null,
        SqlValue::Integer(i) => sqlite::Value::Integer(i),
        SqlValue::Real(r) => sqlite::Value::Real(r),
        SqlValue::Text(t) => sqlite::Value::Text(t),
        SqlValue::Blob(b) => sqlite::Value::Blob(b),
    }
}

impl sqlite::Host for ComponentState {
    async fn query(
        &mut self,
        database: String,
        sql: String,
        params: Vec<sqlite::Value>,
    ) -> Result<sqlite::Rows, String> {
        let r = self.sql(database, sql, params).await?;
        Ok(sqlite::Rows {
            columns: r.columns,
            rows: r
                .rows
                .into_iter()
                .map(|row| row.into_iter().map(from_sql).collect())
                .collect(),
        })
    }

    async fn execute(
        &mut self,
        database: String,
        sql: String,
        params: Vec<sqlite::Value>,
    ) -> Result<sqlite::Changes, String> {
        let r = self.sql(database, sql, params).await?;
        Ok(sqlite::Changes {
            changes: r.changes,
            last_insert_rowid: r.last_row_id,
        })
    }
}

/// A reply in pre-order, as `wisp:edge/redis.command` returns it.
fn flatten(value: RedisValue, out: &mut Vec<redis::Item>) {
    match value {
        RedisValue::Nil => out.push(redis::Item::Nil),
        RedisValue::Int(i) => out.push(redis::Item::Int(i)),
        RedisValue::Data(d) => out.push(redis::Item::Data(d)),
        RedisValue::Status(s) => out.push(redis::Item::Status(s)),
        RedisValue::Array(items) => {
            out.push(redis::Item::Array(items.len() as u32));
            for item in items {
                flatten(item, out);
            }
        }
    }
}

impl redis::Host for ComponentState {
    async fn command(&mut self, args: Vec<Vec<u8>>) -> Result<Vec<redis::Item>, String> {
        match self.perform(HostCall::Redis { args }).await? {
            HostReply::Redis(value) => {
                let mut out = Vec::new();
                flatten(value, &mut out);
                Ok(out)
            }
            other => Err(unexpected(&other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_redis_replies_flatten_in_pre_order() {
        let v = RedisValue::Array(vec![
            RedisValue::Data(b"0".to_vec()),
            RedisValue::Array(vec![RedisValue::Int(1), RedisValue::Nil]),
        ]);
        let mut out = Vec::new();
        flatten(v, &mut out);
        let shape: Vec<String> = out
            .iter()
            .map(|i| match i {
                redis::Item::Array(n) => format!("array({n})"),
                redis::Item::Data(d) => String::from_utf8_lossy(d).into_owned(),
                redis::Item::Int(i) => i.to_string(),
                redis::Item::Nil => "nil".into(),
                redis::Item::Status(s) => s.clone(),
            })
            .collect();
        assert_eq!(shape, ["array(2)", "0", "array(2)", "1", "nil"]);
    }
}
