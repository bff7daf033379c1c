//! Host calls: what the engine asks of the host's capabilities (KV, SQLite, Redis) during a
//! request, and what it gets back.
//!
//! A call crosses the boundary in two steps, so that the host never has to allocate guest
//! memory: the guest writes an encoded [`HostCall`] and calls [`IMPORT_CALL`]`(ptr, len)`; the
//! host performs it (asynchronously: the request's fiber is suspended, no thread is held) and
//! answers with a packed output word (see [`crate::pack_output`], address 0) giving the length of
//! the encoded reply and whether it is an error. The guest then reserves that many bytes and
//! calls [`IMPORT_TAKE`]`(ptr, len)`, which copies the pending reply there. An error reply is a
//! UTF-8 message that the engine throws as a JS `Error`.
//!
//! [`IMPORT_CALL`]: crate::IMPORT_CALL
//! [`IMPORT_TAKE`]: crate::IMPORT_TAKE

use crate::{DecodeError, Reader, Writer};

const TAG_CALL: u8 = 0xB1;
const TAG_REPLY: u8 = 0xB2;

/// A value bound to, or read from, SQLite.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A Redis reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisValue {
    Nil,
    Int(i64),
    Data(Vec<u8>),
    Status(String),
    Array(Vec<RedisValue>),
}

/// One key of a KV listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvKey {
    pub name: String,
    /// Unix time in milliseconds at which the key expires; 0 = never.
    pub expires_at_ms: u64,
    pub metadata: Option<String>,
}

/// What one SQL statement produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SqlResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
    /// Rows changed by an INSERT/UPDATE/DELETE.
    pub changes: u64,
    pub last_row_id: i64,
}

/// A request from the engine to the host.
#[derive(Debug, Clone, PartialEq)]
pub enum HostCall {
    KvGet {
        key: String,
    },
    KvPut {
        key: String,
        value: Vec<u8>,
        /// Unix time in milliseconds; 0 = never expires.
        expires_at_ms: u64,
        metadata: Option<String>,
    },
    KvDelete {
        key: String,
    },
    KvList {
        prefix: String,
        limit: u32,
        cursor: String,
    },
    /// Runs statements in one transaction when there is more than one. `database` is a
    /// configured database name, or empty for the function's own.
    Sql {
        database: String,
        statements: Vec<(String, Vec<SqlValue>)>,
    },
    /// One Redis command: the name and its arguments.
    Redis {
        args: Vec<Vec<u8>>,
    },
    /// Starts an outbound HTTP request (JS `fetch`), checked against the function's allowlist
    /// when it runs; the reply is [`HostReply::FetchStarted`] with its id at once, and the
    /// outcome comes from a later [`HostCall::FetchWait`]. Several may run at the same time.
    Fetch(FetchRequest),
    /// Waits for the next started fetch to finish, at most `timeout_ms` (none: until one does):
    /// [`HostReply::FetchDone`], or [`HostReply::FetchTimedOut`].
    FetchWait {
        timeout_ms: Option<u32>,
    },
    /// Abandons a started fetch (its `AbortSignal` fired, or JS cancelled its body stream):
    /// its connection is dropped and no later reply will name it.
    FetchCancel(u32),
    /// Asks for the next piece of a streamed body: a fetch response's whose
    /// [`FetchResponse::more`] was set, or the incoming request's ([`crate::Request::body_rest`]).
    /// The reply is [`HostReply::Done`] at once and the piece comes from a later
    /// [`HostCall::FetchWait`] as [`HostReply::FetchChunk`]. One read per body at a time.
    FetchRead(u32),
    /// The next piece of a fetch's streamed request body ([`FetchBody::Stream`]), `None` at its
    /// end. The reply is [`HostReply::Done`] at once; once the host has queued the piece for
    /// the upstream connection (a queue of two pieces, so a slow upstream slows the sender), or
    /// the fetch no longer sends (it failed, was redirected without its body, or the upstream
    /// answered and stopped reading), a later [`HostCall::FetchWait`] says so with
    /// [`HostReply::FetchSent`]: waiting for room holds up neither the event loop nor the
    /// reading of the response, which a full-duplex upstream needs. One send per fetch at a
    /// time. A body neither ended nor sent on when its fetch is cancelled or its instance ends
    /// is cut off: the upstream never sees it as complete.
    FetchSend {
        id: u32,
        piece: Option<Vec<u8>>,
    },
    /// The status and headers of a response whose body is a stream: the host sends them to
    /// the client at once, and the body follows as [`HostCall::ResponseChunk`]s until
    /// [`HostCall::ResponseEnd`] or `wisp_handle` returns (its own output is then ignored). At
    /// most once per request.
    ResponseHead {
        status: u16,
        headers: Vec<(String, Vec<u8>)>,
    },
    /// A whole response sent before `wisp_handle` returns, because `waitUntil` work is still
    /// pending: the client gets it at once and the instance keeps running that work.
    Respond(crate::Response),
    /// The next piece of a streamed response body. The host answers once the client's
    /// connection has room for it (backpressure), or with an error once the client is gone.
    ResponseChunk(Vec<u8>),
    /// A streamed response body is complete: the client gets its end now, while the instance
    /// may go on with `waitUntil` work, whose failure can then no longer cut the body.
    ResponseEnd,
}

/// What `fetch` does with a redirect response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirect {
    Follow = 0,
    /// Hand the 3xx response back as it is.
    Manual = 1,
    /// Fail with a `TypeError`.
    Error = 2,
}

/// An outbound request as the engine asks for it.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: FetchBody,
    pub redirect: Redirect,
}

/// The body of an outbound request.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchBody {
    None,
    /// Held in full (a string, bytes, a Blob or FormData, a body that arrived whole).
    Bytes(Vec<u8>),
    /// A JS `ReadableStream`: sent as it is produced, piece by piece, with
    /// [`HostCall::FetchSend`]; chunked on the wire, and not replayable for a 307/308 redirect.
    Stream,
}

/// An outbound response as the host received it (after redirects, per [`Redirect`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FetchResponse {
    pub status: u16,
    pub status_text: String,
    /// The final URL (after redirects).
    pub url: String,
    pub redirected: bool,
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, or the part of it that had arrived with the head when `more` is set.
    pub body: Vec<u8>,
    /// The body continues: it streams, piece by piece, through [`HostCall::FetchRead`].
    pub more: bool,
}

/// The host's answer to a [`HostCall`] that succeeded.
#[derive(Debug, Clone, PartialEq)]
pub enum HostReply {
    /// `KvGet`: the value and its metadata, if the key exists and has not expired.
    KvValue(Option<(Vec<u8>, Option<String>)>),
    /// `KvPut`, `KvDelete`.
    Done,
    /// `KvList`: keys in order, and the cursor to continue from (empty when complete).
    KvKeys {
        keys: Vec<KvKey>,
        cursor: String,
    },
    /// `Sql`: one result per statement.
    Sql(Vec<SqlResult>),
    Redis(RedisValue),
    /// `Fetch`: the id the outcome will carry.
    FetchStarted(u32),
    /// `FetchWait`: a started fetch finished, with its response or the reason it failed.
    FetchDone {
        id: u32,
        result: Result<FetchResponse, String>,
    },
    /// `FetchWait`: none finished in time.
    FetchTimedOut,
    /// `FetchWait`: the piece of a streamed body that a [`HostCall::FetchRead`] asked for;
    /// `None` once the body has ended, `Err` when reading it failed (cut off, too large, past
    /// the time limit).
    FetchChunk {
        id: u32,
        result: Result<Option<Vec<u8>>, String>,
    },
    /// `FetchWait`: the upstream took the piece a [`HostCall::FetchSend`] gave, or (`Err`) the
    /// fetch no longer takes its body.
    FetchSent {
        id: u32,
        result: Result<(), String>,
    },
}

impl Writer {
    fn string(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn opt_string(&mut self, s: &Option<String>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.string(s);
            }
        }
    }
    fn sql_value(&mut self, v: &SqlValue) {
        match v {
            SqlValue::Null => self.u8(0),
            SqlValue::Integer(i) => {
                self.u8(1);
                self.u64(*i as u64);
            }
            SqlValue::Real(f) => {
                self.u8(2);
                self.u64(f.to_bits());
            }
            SqlValue::Text(s) => {
                self.u8(3);
                self.string(s);
            }
            SqlValue::Blob(b) => {
                self.u8(4);
                self.bytes(b);
            }
        }
    }
    fn sql_values(&mut self, vs: &[SqlValue]) {
        self.u32(vs.len() as u32);
        for v in vs {
            self.sql_value(v);
        }
    }
    fn redis_value(&mut self, v: &RedisValue) {
        match v {
            RedisValue::Nil => self.u8(0),
            RedisValue::Int(i) => {
                self.u8(1);
                self.u64(*i as u64);
            }
            RedisValue::Data(b) => {
                self.u8(2);
                self.bytes(b);
            }
            RedisValue::Status(s) => {
                self.u8(3);
                self.string(s);
            }
            RedisValue::Array(items) => {
                self.u8(4);
                self.u32(items.len() as u32);
                for item in items {
                    self.redis_value(item);
                }
            }
        }
    }
}

impl Reader<'_> {
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn opt_string(&mut self) -> Result<Option<String>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            _ => Err(DecodeError("bad option tag")),
        }
    }
    /// A count of items that each take at least `min_size` bytes, bounded by what is left.
    fn count(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n > self.0.len() / min_size {
            return Err(DecodeError("item count exceeds message"));
        }
        Ok(n)
    }
    fn sql_value(&mut self) -> Result<SqlValue, DecodeError> {
        Ok(match self.u8()? {
            0 => SqlValue::Null,
            1 => SqlValue::Integer(self.u64()? as i64),
            2 => SqlValue::Real(f64::from_bits(self.u64()?)),
            3 => SqlValue::Text(self.string()?),
            4 => SqlValue::Blob(self.bytes()?.to_vec()),
            _ => return Err(DecodeError("unknown SQL value tag")),
        })
    }
    fn sql_values(&mut self) -> Result<Vec<SqlValue>, DecodeError> {
        let n = self.count(1)?;
        (0..n).map(|_| self.sql_value()).collect()
    }
    fn redis_value(&mut self, depth: u32) -> Result<RedisValue, DecodeError> {
        if depth > 32 {
            return Err(DecodeError("Redis reply nested too deeply"));
        }
        Ok(match self.u8()? {
            0 => RedisValue::Nil,
            1 => RedisValue::Int(self.u64()? as i64),
            2 => RedisValue::Data(self.bytes()?.to_vec()),
            3 => RedisValue::Status(self.string()?),
            4 => {
                let n = self.count(1)?;
                RedisValue::Array(
                    (0..n)
                        .map(|_| self.redis_value(depth + 1))
                        .collect::<Result<_, _>>()?,
                )
            }
            _ => return Err(DecodeError("unknown Redis value tag")),
        })
    }
}

impl HostCall {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(TAG_CALL, 64);
        match self {
            HostCall::KvGet { key } => {
                w.u8(0);
                w.string(key);
            }
            HostCall::KvPut {
                key,
                value,
                expires_at_ms,
                metadata,
            } => {
                w.u8(1);
                w.string(key);
                w.bytes(value);
                w.u64(*expires_at_ms);
                w.opt_string(metadata);
            }
            HostCall::KvDelete { key } => {
                w.u8(2);
                w.string(key);
            }
            HostCall::KvList {
                prefix,
                limit,
                cursor,
            } => {
                w.u8(3);
                w.string(prefix);
                w.u32(*limit);
                w.string(cursor);
            }
            HostCall::Sql {
                database,
                statements,
            } => {
                w.u8(4);
                w.string(database);
                w.u32(statements.len() as u32);
                for (sql, params) in statements {
                    w.string(sql);
                    w.sql_values(params);
                }
            }
            HostCall::Redis { args } => {
                w.u8(5);
                w.u32(args.len() as u32);
                for a in args {
                    w.bytes(a);
                }
            }
            HostCall::Fetch(f) => {
                w.u8(6);
                w.string(&f.method);
                w.string(&f.url);
                w.pairs(&f.headers);
                match &f.body {
                    FetchBody::None => w.u8(0),
                    FetchBody::Bytes(b) => {
                        w.u8(1);
                        w.bytes(b);
                    }
                    FetchBody::Stream => w.u8(2),
                }
                w.u8(f.redirect as u8);
            }
            HostCall::ResponseHead { status, headers } => {
                w.u8(7);
                w.u32(u32::from(*status));
                w.pairs(headers);
            }
            HostCall::ResponseChunk(bytes) => {
                w.u8(8);
                w.bytes(bytes);
            }
            HostCall::ResponseEnd => w.u8(14),
            HostCall::Respond(response) => {
                w.u8(9);
                w.bytes(&response.encode());
            }
            HostCall::FetchWait { timeout_ms } => {
                w.u8(10);
                match timeout_ms {
                    None => w.u8(0),
                    Some(ms) => {
                        w.u8(1);
                        w.u32(*ms);
                    }
                }
            }
            HostCall::FetchCancel(id) => {
                w.u8(11);
                w.u32(*id);
            }
            HostCall::FetchRead(id) => {
                w.u8(12);
                w.u32(*id);
            }
            HostCall::FetchSend { id, piece } => {
                w.u8(13);
                w.u32(*id);
                match piece {
                    None => w.u8(0),
                    Some(bytes) => {
                        w.u8(1);
                        w.bytes(bytes);
                    }
                }
            }
        }
        w.0
    }

    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf, TAG_CALL)?;
        let call = match r.u8()? {
            0 => HostCall::KvGet { key: r.string()? },
            1 => HostCall::KvPut {
                key: r.string()?,
                value: r.bytes()?.to_vec(),
                expires_at_ms: r.u64()?,
                metadata: r.opt_string()?,
            },
            2 => HostCall::KvDelete { key: r.string()? },
            3 => HostCall::KvList {
                prefix: r.string()?,
                limit: r.u32()?,
                cursor: r.string()?,
            },
            4 => {
                let database = r.string()?;
                let n = r.count(8)?;
                let mut statements = Vec::with_capacity(n);
                for _ in 0..n {
                    statements.push((r.string()?, r.sql_values()?));
                }
                HostCall::Sql {
                    database,
                    statements,
                }
            }
            5 => {
                let n = r.count(4)?;
                let args = (0..n)
                    .map(|_| r.bytes().map(<[u8]>::to_vec))
                    .collect::<Result<_, _>>()?;
                HostCall::Redis { args }
            }
            6 => HostCall::Fetch(FetchRequest {
                method: r.string()?,
                url: r.string()?,
                headers: r.pairs()?,
                body: match r.u8()? {
                    0 => FetchBody::None,
                    1 => FetchBody::Bytes(r.bytes()?.to_vec()),
                    2 => FetchBody::Stream,
                    _ => return Err(DecodeError("unknown fetch body kind")),
                },
                redirect: match r.u8()? {
                    0 => Redirect::Follow,
                    1 => Redirect::Manual,
                    2 => Redirect::Error,
                    _ => return Err(DecodeError("unknown redirect mode")),
                },
            }),
            7 => HostCall::ResponseHead {
                status: u16::try_from(r.u32()?).map_err(|_| DecodeError("status out of range"))?,
                headers: r.pairs()?,
            },
            8 => HostCall::ResponseChunk(r.bytes()?.to_vec()),
            9 => HostCall::Respond(crate::Response::decode(r.bytes()?)?),
            10 => HostCall::FetchWait {
                timeout_ms: match r.u8()? {
                    0 => None,
                    1 => Some(r.u32()?),
                    _ => return Err(DecodeError("bad option tag")),
                },
            },
            11 => HostCall::FetchCancel(r.u32()?),
            12 => HostCall::FetchRead(r.u32()?),
            13 => HostCall::FetchSend {
                id: r.u32()?,
                piece: match r.u8()? {
                    0 => None,
                    1 => Some(r.bytes()?.to_vec()),
                    _ => return Err(DecodeError("bad option tag")),
                },
            },
            14 => HostCall::ResponseEnd,
            _ => return Err(DecodeError("unknown host call")),
        };
        r.finish()?;
        Ok(call)
    }
}

impl HostReply {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(TAG_REPLY, 64);
        match self {
            HostReply::KvValue(None) => w.u8(0),
            HostReply::KvValue(Some((value, metadata))) => {
                w.u8(1);
                w.bytes(value);
                w.opt_string(metadata);
            }
            HostReply::Done => w.u8(2),
            HostReply::KvKeys { keys, cursor } => {
                w.u8(3);
                w.u32(keys.len() as u32);
                for k in keys {
                    w.string(&k.name);
                    w.u64(k.expires_at_ms);
                    w.opt_string(&k.metadata);
                }
                w.string(cursor);
            }
            HostReply::Sql(results) => {
                w.u8(4);
                w.u32(results.len() as u32);
                for res in results {
                    w.u32(res.columns.len() as u32);
                    for c in &res.columns {
                        w.string(c);
                    }
                    w.u32(res.rows.len() as u32);
                    for row in &res.rows {
                        w.sql_values(row);
                    }
                    w.u64(res.changes);
                    w.u64(res.last_row_id as u64);
                }
            }
            HostReply::Redis(v) => {
                w.u8(5);
                w.redis_value(v);
            }
            HostReply::FetchStarted(id) => {
                w.u8(6);
                w.u32(*id);
            }
            HostReply::FetchDone { id, result } => {
                w.u8(7);
                w.u32(*id);
                match result {
                    Ok(f) => {
                        w.u8(0);
                        w.u16(f.status);
                        w.string(&f.status_text);
                        w.string(&f.url);
                        w.u8(f.redirected as u8);
                        w.pairs(&f.headers);
                        w.bytes(&f.body);
                        w.u8(f.more as u8);
                    }
                    Err(message) => {
                        w.u8(1);
                        w.string(message);
                    }
                }
            }
            HostReply::FetchTimedOut => w.u8(8),
            HostReply::FetchChunk { id, result } => {
                w.u8(9);
                w.u32(*id);
                match result {
                    Ok(None) => w.u8(0),
                    Ok(Some(bytes)) => {
                        w.u8(1);
                        w.bytes(bytes);
                    }
                    Err(message) => {
                        w.u8(2);
                        w.string(message);
                    }
                }
            }
            HostReply::FetchSent { id, result } => {
                w.u8(10);
                w.u32(*id);
                match result {
                    Ok(()) => w.u8(0),
                    Err(message) => {
                        w.u8(1);
                        w.string(message);
                    }
                }
            }
        }
        w.0
    }

    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf, TAG_REPLY)?;
        let reply = match r.u8()? {
            0 => HostReply::KvValue(None),
            1 => HostReply::KvValue(Some((r.bytes()?.to_vec(), r.opt_string()?))),
            2 => HostReply::Done,
            3 => {
                let n = r.count(13)?;
                let mut keys = Vec::with_capacity(n);
                for _ in 0..n {
                    keys.push(KvKey {
                        name: r.string()?,
                        expires_at_ms: r.u64()?,
                        metadata: r.opt_string()?,
                    });
                }
                HostReply::KvKeys {
                    keys,
                    cursor: r.string()?,
                }
            }
            4 => {
                let n = r.count(24)?;
                let mut results = Vec::with_capacity(n);
                for _ in 0..n {
                    let ncols = r.count(4)?;
                    let columns = (0..ncols).map(|_| r.string()).collect::<Result<_, _>>()?;
                    let nrows = r.count(4)?;
                    let rows = (0..nrows)
                        .map(|_| r.sql_values())
                        .collect::<Result<_, _>>()?;
                    results.push(SqlResult {
                        columns,
                        rows,
                        changes: r.u64()?,
                        last_row_id: r.u64()? as i64,
                    });
                }
                HostReply::Sql(results)
            }
            5 => HostReply::Redis(r.redis_value(0)?),
            6 => HostReply::FetchStarted(r.u32()?),
            7 => HostReply::FetchDone {
                id: r.u32()?,
                result: match r.u8()? {
                    0 => Ok(FetchResponse {
                        status: r.u16()?,
                        status_text: r.string()?,
                        url: r.string()?,
                        redirected: r.u8()? != 0,
                        headers: r.pairs()?,
                        body: r.bytes()?.to_vec(),
                        more: r.u8()? != 0,
                    }),
                    1 => Err(r.string()?),
                    _ => return Err(DecodeError("bad result tag")),
                },
            },
            8 => HostReply::FetchTimedOut,
            9 => HostReply::FetchChunk {
                id: r.u32()?,
                result: match r.u8()? {
                    0 => Ok(None),
                    1 => Ok(Some(r.bytes()?.to_vec())),
                    2 => Err(r.string()?),
                    _ => return Err(DecodeError("bad chunk tag")),
                },
            },
            10 => HostReply::FetchSent {
                id: r.u32()?,
                result: match r.u8()? {
                    0 => Ok(()),
                    1 => Err(r.string()?),
                    _ => return Err(DecodeError("bad result tag")),
                },
            },
            _ => return Err(DecodeError("unknown host reply")),
        };
        r.finish()?;
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_round_trip() {
        let calls = [
            HostCall::KvGet { key: "a".into() },
            HostCall::KvPut {
                key: "k".into(),
                value: vec![0, 255],
                expires_at_ms: 1_700_000_000_000,
                metadata: Some("{\"v\":1}".into()),
            },
            HostCall::KvDelete { key: "k".into() },
            HostCall::KvList {
                prefix: "user:".into(),
                limit: 10,
                cursor: "abc".into(),
            },
            HostCall::Sql {
                database: String::new(),
                statements: vec![(
                    "SELECT ? , ?, ?, ?, ?".into(),
                    vec![
                        SqlValue::Null,
                        SqlValue::Integer(-5),
                        SqlValue::Real(1.5),
                        SqlValue::Text("t".into()),
                        SqlValue::Blob(vec![1]),
                    ],
                )],
            },
            HostCall::Redis {
                args: vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()],
            },
            HostCall::Fetch(FetchRequest {
                method: "POST".into(),
                url: "https://api.example.com/x?y=1".into(),
                headers: vec![("content-type".into(), b"text/plain".to_vec())],
                body: FetchBody::Bytes(b"hi".to_vec()),
                redirect: Redirect::Manual,
            }),
            HostCall::Fetch(FetchRequest {
                method: "GET".into(),
                url: "http://a/".into(),
                headers: vec![],
                body: FetchBody::None,
                redirect: Redirect::Error,
            }),
            HostCall::Fetch(FetchRequest {
                method: "PUT".into(),
                url: "http://a/upload".into(),
                headers: vec![],
                body: FetchBody::Stream,
                redirect: Redirect::Follow,
            }),
            HostCall::FetchSend {
                id: 3,
                piece: Some(b"piece".to_vec()),
            },
            HostCall::FetchSend { id: 3, piece: None },
            HostCall::ResponseHead {
                status: 206,
                headers: vec![("content-type".into(), b"text/event-stream".to_vec())],
            },
            HostCall::ResponseChunk(b"data: 1\n\n".to_vec()),
            HostCall::ResponseChunk(Vec::new()),
            HostCall::ResponseEnd,
            HostCall::FetchWait { timeout_ms: None },
            HostCall::FetchWait {
                timeout_ms: Some(250),
            },
            HostCall::FetchCancel(3),
            HostCall::FetchRead(4),
            HostCall::Respond(crate::Response {
                status: 202,
                headers: vec![("x".into(), b"y".to_vec())],
                body: b"accepted".to_vec(),
            }),
        ];
        for call in calls {
            assert_eq!(HostCall::decode(&call.encode()).unwrap(), call);
        }
    }

    #[test]
    fn replies_round_trip() {
        let replies = [
            HostReply::KvValue(None),
            HostReply::KvValue(Some((b"v".to_vec(), None))),
            HostReply::Done,
            HostReply::KvKeys {
                keys: vec![KvKey {
                    name: "a".into(),
                    expires_at_ms: 5,
                    metadata: Some("m".into()),
                }],
                cursor: "a".into(),
            },
            HostReply::Sql(vec![SqlResult {
                columns: vec!["id".into()],
                rows: vec![vec![SqlValue::Integer(1)], vec![SqlValue::Null]],
                changes: 2,
                last_row_id: 9,
            }]),
            HostReply::Redis(RedisValue::Array(vec![
                RedisValue::Nil,
                RedisValue::Int(3),
                RedisValue::Data(b"x".to_vec()),
                RedisValue::Status("OK".into()),
            ])),
            HostReply::FetchStarted(7),
            HostReply::FetchDone {
                id: 7,
                result: Ok(FetchResponse {
                    status: 201,
                    status_text: "Created".into(),
                    url: "http://a/b".into(),
                    redirected: true,
                    headers: vec![("x".into(), b"1".to_vec())],
                    body: vec![0, 1, 2],
                    more: true,
                }),
            },
            HostReply::FetchDone {
                id: 8,
                result: Err("fetch: refused".into()),
            },
            HostReply::FetchTimedOut,
            HostReply::FetchChunk {
                id: 2,
                result: Ok(Some(b"piece".to_vec())),
            },
            HostReply::FetchChunk {
                id: 2,
                result: Ok(None),
            },
            HostReply::FetchChunk {
                id: 3,
                result: Err("fetch: cut off".into()),
            },
            HostReply::FetchSent {
                id: 4,
                result: Ok(()),
            },
            HostReply::FetchSent {
                id: 4,
                result: Err("fetch: gone".into()),
            },
        ];
        for reply in replies {
            assert_eq!(HostReply::decode(&reply.encode()).unwrap(), reply);
        }
    }

    #[test]
    fn rejects_bogus_counts() {
        let mut evil = vec![TAG_CALL, 5];
        evil.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(HostCall::decode(&evil).is_err());
    }
}
