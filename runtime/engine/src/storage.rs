//! The natives behind `wasmedge-kv`, `wasmedge-sqlite`, `wasmedge-redis` and the `env.KV` /
//! `env.DB` bindings: they turn JS values into a [`HostCall`], make it, and turn the
//! [`HostReply`] back into JS values. The JS-facing APIs (promises, options, D1's shapes) are
//! in `polyfills/86-kv.js`, `87-sqlite.js` and `88-redis.js`.

use rquickjs::{
    Array, BigInt, Ctx, Exception, Function, IntoJs, Null, Object, Result, String as JsString,
    TypedArray, Value,
};
use wisp_abi::hostcall::{HostCall, HostReply, RedisValue, SqlValue};

pub fn install<'js>(ctx: &Ctx<'js>, native: &Object<'js>) -> Result<()> {
    native.set("kvGet", Function::new(ctx.clone(), kv_get)?)?;
    native.set("kvPut", Function::new(ctx.clone(), kv_put)?)?;
    native.set("kvDelete", Function::new(ctx.clone(), kv_delete)?)?;
    native.set("kvList", Function::new(ctx.clone(), kv_list)?)?;
    native.set("sql", Function::new(ctx.clone(), sql)?)?;
    native.set("redis", Function::new(ctx.clone(), redis)?)?;
    Ok(())
}

fn call(ctx: &Ctx<'_>, call: HostCall) -> Result<HostReply> {
    crate::host::call(&call).map_err(|message| Exception::throw_message(ctx, &message))
}

fn unexpected(ctx: &Ctx<'_>) -> rquickjs::Error {
    Exception::throw_internal(
        ctx,
        "Wisp: the host answered a storage call with the wrong reply",
    )
}

fn bytes(view: &TypedArray<'_, u8>) -> Vec<u8> {
    // SAFETY: the slice is copied at once; no JS runs while it is borrowed.
    unsafe { view.as_bytes() }.unwrap_or(&[]).to_vec()
}

/// `null`, or `[Uint8Array value, metadata string | null]`.
fn kv_get<'js>(ctx: Ctx<'js>, key: String) -> Result<Value<'js>> {
    match call(&ctx, HostCall::KvGet { key })? {
        HostReply::KvValue(None) => Ok(Value::new_null(ctx)),
        HostReply::KvValue(Some((value, metadata))) => {
            let pair = Array::new(ctx.clone())?;
            pair.set(0, TypedArray::new(ctx.clone(), value)?)?;
            pair.set(1, metadata)?;
            Ok(pair.into_value())
        }
        _ => Err(unexpected(&ctx)),
    }
}

fn kv_put(
    ctx: Ctx<'_>,
    key: String,
    value: TypedArray<'_, u8>,
    expires_at_ms: f64,
    metadata: Option<String>,
) -> Result<()> {
    let put = HostCall::KvPut {
        key,
        value: bytes(&value),
        expires_at_ms: expires_at_ms.max(0.0) as u64,
        metadata,
    };
    match call(&ctx, put)? {
        HostReply::Done => Ok(()),
        _ => Err(unexpected(&ctx)),
    }
}

fn kv_delete(ctx: Ctx<'_>, key: String) -> Result<()> {
    match call(&ctx, HostCall::KvDelete { key })? {
        HostReply::Done => Ok(()),
        _ => Err(unexpected(&ctx)),
    }
}

/// `[[name, expiresAtMs, metadata | null], …]` and the cursor, as `[keys, cursor]`.
fn kv_list<'js>(ctx: Ctx<'js>, prefix: String, limit: u32, cursor: String) -> Result<Array<'js>> {
    let HostReply::KvKeys { keys, cursor } = call(
        &ctx,
        HostCall::KvList {
            prefix,
            limit,
            cursor,
        },
    )?
    else {
        return Err(unexpected(&ctx));
    };
    let list = Array::new(ctx.clone())?;
    for (i, k) in keys.into_iter().enumerate() {
        let item = Array::new(ctx.clone())?;
        item.set(0, k.name)?;
        item.set(1, k.expires_at_ms as f64)?;
        item.set(2, k.metadata)?;
        list.set(i, item)?;
    }
    let out = Array::new(ctx.clone())?;
    out.set(0, list)?;
    out.set(1, cursor)?;
    Ok(out)
}

fn to_sql<'js>(ctx: &Ctx<'js>, v: Value<'js>) -> Result<SqlValue> {
    if v.is_null() || v.is_undefined() {
        return Ok(SqlValue::Null);
    }
    if let Some(b) = v.as_bool() {
        return Ok(SqlValue::Integer(i64::from(b)));
    }
    if let Some(i) = v.as_int() {
        return Ok(SqlValue::Integer(i64::from(i)));
    }
    if let Some(f) = v.as_float() {
        let exact = f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_991.0;
        return Ok(if exact {
            SqlValue::Integer(f as i64)
        } else {
            SqlValue::Real(f)
        });
    }
    if let Some(s) = v.as_string() {
        return Ok(SqlValue::Text(s.to_string()?));
    }
    if let Some(b) = v.as_big_int() {
        return Ok(SqlValue::Integer(b.clone().to_i64()?));
    }
    if let Ok(view) = TypedArray::<u8>::from_value(v.clone()) {
        return Ok(SqlValue::Blob(bytes(&view)));
    }
    Err(Exception::throw_type(
        ctx,
        &format!(
            "SQLite: cannot bind {} (use null, a number, a bigint, a boolean, a string or bytes)",
            crate::natives::describe(ctx, &v)
        ),
    ))
}

fn from_sql<'js>(ctx: &Ctx<'js>, v: SqlValue) -> Result<Value<'js>> {
    const MAX_SAFE: i64 = 9_007_199_254_740_991;
    match v {
        SqlValue::Null => Null.into_js(ctx),
        SqlValue::Integer(i) if (-MAX_SAFE..=MAX_SAFE).contains(&i) => (i as f64).into_js(ctx),
        SqlValue::Integer(i) => Ok(BigInt::from_i64(ctx.clone(), i)?.into_value()),
        SqlValue::Real(f) => f.into_js(ctx),
        SqlValue::Text(s) => Ok(JsString::from_str(ctx.clone(), &s)?.into_value()),
        SqlValue::Blob(b) => Ok(TypedArray::new(ctx.clone(), b)?.into_value()),
    }
}

/// Runs `[[sql, params], …]` (several in one transaction) on `database` ("" = the function's
/// own). Returns, per statement, `[columns, rows, changes, lastRowId]`.
fn sql<'js>(ctx: Ctx<'js>, database: String, statements: Array<'js>) -> Result<Array<'js>> {
    let mut stmts = Vec::with_capacity(statements.len());
    for stmt in statements.iter::<Array>() {
        let stmt = stmt?;
        let text: String = stmt.get(0)?;
        let params: Array = stmt.get(1)?;
        let params = params
            .iter::<Value>()
            .map(|p| to_sql(&ctx, p?))
            .collect::<Result<Vec<_>>>()?;
        stmts.push((text, params));
    }
    let HostReply::Sql(results) = call(
        &ctx,
        HostCall::Sql {
            database,
            statements: stmts,
        },
    )?
    else {
        return Err(unexpected(&ctx));
    };
    let out = Array::new(ctx.clone())?;
    for (i, r) in results.into_iter().enumerate() {
        let rows = Array::new(ctx.clone())?;
        for (j, row) in r.rows.into_iter().enumerate() {
            let values = Array::new(ctx.clone())?;
            for (k, v) in row.into_iter().enumerate() {
                values.set(k, from_sql(&ctx, v)?)?;
            }
            rows.set(j, values)?;
        }
        let item = Array::new(ctx.clone())?;
        item.set(0, r.columns)?;
        item.set(1, rows)?;
        item.set(2, r.changes as f64)?;
        item.set(3, r.last_row_id as f64)?;
        out.set(i, item)?;
    }
    Ok(out)
}

fn from_redis<'js>(ctx: &Ctx<'js>, v: RedisValue) -> Result<Value<'js>> {
    match v {
        RedisValue::Nil => Null.into_js(ctx),
        RedisValue::Int(i) => (i as f64).into_js(ctx),
        RedisValue::Data(b) => String::from_utf8_lossy(&b).into_owned().into_js(ctx),
        RedisValue::Status(s) => s.into_js(ctx),
        RedisValue::Array(items) => {
            let arr = Array::new(ctx.clone())?;
            for (i, item) in items.into_iter().enumerate() {
                arr.set(i, from_redis(ctx, item)?)?;
            }
            Ok(arr.into_value())
        }
    }
}

/// One Redis command, `args` being strings, numbers or bytes.
fn redis<'js>(ctx: Ctx<'js>, args: Array<'js>) -> Result<Value<'js>> {
    let mut out = Vec::with_capacity(args.len());
    for arg in args.iter::<Value>() {
        let arg = arg?;
        if let Ok(view) = TypedArray::<u8>::from_value(arg.clone()) {
            out.push(bytes(&view));
        } else {
            let s: rquickjs::Coerced<String> = arg.get()?;
            out.push(s.0.into_bytes());
        }
    }
    match call(&ctx, HostCall::Redis { args: out })? {
        HostReply::Redis(v) => from_redis(&ctx, v),
        _ => Err(unexpected(&ctx)),
    }
}
