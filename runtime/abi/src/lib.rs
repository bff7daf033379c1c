//! The contract between the Wisp host and the Wisp engine (the QuickJS guest).
//!
//! This crate is the only place that knows the byte layout of what crosses the sandbox
//! boundary. Both sides depend on it: the host (native) and the engine (`wasm32-wasip1`).
//!
//! # Calls
//!
//! The engine exports, all taking and returning `i32` (Wasm32 pointers and lengths):
//!
//! | export                  | signature              | when                                       |
//! |-------------------------|------------------------|--------------------------------------------|
//! | [`EXPORT_INPUT_BUFFER`] | `() -> ptr`            | where inputs up to [`INPUT_BUFFER_SIZE`] go |
//! | [`EXPORT_ALLOC`]        | `(len) -> ptr`         | guest memory for a larger input            |
//! | [`EXPORT_INIT`]         | `(ptr, len) -> output` | once, under Wizer, with an [`InitInput`]   |
//! | [`EXPORT_HANDLE`]       | `(ptr, len) -> output` | once per instance, with a [`Request`]      |
//!
//! `ptr`/`len` are `i32`; `output` is an `i64` made by [`pack_output`]: where the output lies
//! and whether it is a [`Failure`] (otherwise a [`Response`], or empty after init). A request
//! therefore costs one guest call when it fits the input buffer, whose address the host asks
//! once per snapshot. A buffer from `wisp_alloc` belongs to the guest once the call is made.
//!
//! The engine imports, from module [`IMPORT_MODULE`]:
//!
//! | import         | signature                       | what                                    |
//! |----------------|---------------------------------|-----------------------------------------|
//! | [`IMPORT_LOG`] | `(level, ptr, len) -> ()`       | one console line (UTF-8) to the host log |
//! | [`IMPORT_CALL`] | `(ptr, len) -> output`         | a [`hostcall::HostCall`] (KV, SQL, Redis); async on the host |
//! | [`IMPORT_TAKE`] | `(ptr, len) -> ()`             | copy the pending reply of the last call to `ptr` |
//!
//! plus the WASI preview 1 calls that Rust's standard library and QuickJS use (clocks,
//! random bytes, `poll_oneoff` for timers, `fd_write` for panics).
//!
//! # Encoding
//!
//! Little-endian. A *string* or *bytes* is a `u32` length followed by that many bytes;
//! strings are UTF-8 except header values, which are bytes (HTTP allows obs-text). Every
//! message starts with a one-byte tag so that a mismatch is an error, not garbage.
//!
//! A [`Request`]'s or [`Response`]'s headers travel as one *bytes* field, `name\nvalue\nname\n
//! value` ([`join_headers`], [`HeaderLines`]): no header name or value can hold a newline, and
//! the engine hands that one field to JavaScript as one string (and gets one back), which
//! costs far less in the guest than a string per name and per value.

#![forbid(unsafe_code)]

pub mod hostcall;

use std::fmt;

/// Guest export: `() -> ptr: i32`, the guest's static input buffer.
pub const EXPORT_INPUT_BUFFER: &str = "wisp_input_buffer";
/// Size of the static input buffer: most requests fit and need no `wisp_alloc` call.
pub const INPUT_BUFFER_SIZE: usize = 64 * 1024;
/// Size of the engine's shadow stack (QuickJS's C frames), placed first in its linear memory.
///
/// Every request's memory slot is reset by copying the whole memory back from the snapshot, so
/// the stack's size is paid on every request (`benches/README.md`). 640 KiB allows about 2,400
/// nested JS calls; overflowing it traps (below address 0) and is reported as a stack overflow.
pub const ENGINE_STACK_BYTES: usize = 640 * 1024;
/// Guest export: `(len: i32) -> ptr: i32`, reserve `len` bytes of guest memory for an input.
pub const EXPORT_ALLOC: &str = "wisp_alloc";
/// Guest export: `(ptr, len) -> output: i64`, evaluate the polyfills and the user's code.
pub const EXPORT_INIT: &str = "wisp_init";
/// Guest export: `(ptr, len) -> output: i64`, handle one request.
pub const EXPORT_HANDLE: &str = "wisp_handle";
/// The module name of the host functions the guest imports.
pub const IMPORT_MODULE: &str = "wisp";
/// Host import: `(level: i32, ptr: i32, len: i32)`, one console line.
pub const IMPORT_LOG: &str = "log";
/// Host import: `(ptr: i32, len: i32) -> output: i64`, perform an encoded
/// [`hostcall::HostCall`]; the output word (address 0) gives the reply's length and whether it
/// is an error message.
pub const IMPORT_CALL: &str = "call";
/// Host import: `(ptr: i32, len: i32)`, copy the pending reply (exactly `len` bytes) to `ptr`.
pub const IMPORT_TAKE: &str = "take";

/// Bit 31 of an output's length word: the output is a [`Failure`].
const FAILURE_BIT: u32 = 1 << 31;

/// Packs where a call's output lies, and whether it is a failure, into one `i64`.
/// Outputs are smaller than 2 GiB (a Wasm32 guest with a memory limit cannot make more).
pub fn pack_output(ptr: u32, len: u32, failure: bool) -> i64 {
    debug_assert!(len < FAILURE_BIT);
    let len = if failure { len | FAILURE_BIT } else { len };
    ((u64::from(ptr) << 32) | u64::from(len)) as i64
}

/// The inverse of [`pack_output`]: `(ptr, len, failure)`.
pub fn unpack_output(output: i64) -> (u32, u32, bool) {
    let v = output as u64;
    let len = v as u32;
    ((v >> 32) as u32, len & !FAILURE_BIT, len & FAILURE_BIT != 0)
}

const TAG_INIT: u8 = 0xA1;
const TAG_REQUEST: u8 = 0xA2;
const TAG_RESPONSE: u8 = 0xA3;
const TAG_FAILURE: u8 = 0xA4;

/// How the user's code is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A classic script (service-worker style, `addEventListener('fetch', …)`).
    Script = 0,
    /// An ES module (`export default { fetch }`, `export function handleRequest`).
    Module = 1,
}

/// What the guest needs at pre-initialisation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitInput {
    pub kind: SourceKind,
    /// The name errors and stacks use for the user's code, e.g. `index.js`.
    pub filename: String,
    pub source: String,
    /// Environment (`process.env`, the module `env` argument), baked into the snapshot.
    pub env: Vec<(String, String)>,
    /// Storage bindings that appear on the module `env` argument (`env.KV`, `env.DB`).
    pub bindings: Vec<Binding>,
}

/// What a name on the module `env` argument is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// The function's KV namespace (`env.KV`).
    Kv { name: String },
    /// A SQLite database (`env.DB`): `database` is a configured name, or empty for the
    /// function's own database.
    Sqlite { name: String, database: String },
}

/// One HTTP request as the guest sees it. (The engine reads it in place, as a
/// [`RequestView`].)
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    pub method: String,
    /// The absolute URL, e.g. `http://127.0.0.1:8080/api/hello?x=1`.
    pub url: String,
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, or the part of it that had arrived when the request was handed over.
    pub body: Vec<u8>,
    /// Set when the body continues: the id under which the rest streams, read piece by piece
    /// with [`hostcall::HostCall::FetchRead`] exactly like a fetch response's body.
    pub body_rest: Option<u32>,
    /// The client's socket address, `ip:port`.
    pub client_addr: String,
    /// The id the host logs with and returns to the client.
    pub request_id: String,
}

/// A [`Request`] read in place from its encoding: nothing is copied. What the engine decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestView<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// `name\nvalue\n…` (see the crate's doc); header values may hold any byte but a newline.
    pub headers: &'a [u8],
    pub body: &'a [u8],
    pub body_rest: Option<u32>,
    pub client_addr: &'a str,
    pub request_id: &'a str,
}

/// One HTTP response as the guest produced it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// Why a guest call did not produce its normal output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// JavaScript threw (or a promise rejected) with an error.
    Exception = 0,
    /// The handler's promise can never settle: no jobs and no timers are left.
    NeverSettled = 1,
    /// The handler settled with something that is not a Response.
    BadResponse = 2,
    /// No fetch handler is registered.
    NoHandler = 3,
    /// The input could not be decoded (a host/guest version mismatch).
    BadInput = 4,
}

/// A failure reported by the guest, with the JS message and stack when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    pub stack: String,
}

/// A message that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed Wisp ABI message: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

struct Writer(Vec<u8>);

impl Writer {
    fn with_capacity(tag: u8, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity + 1);
        buf.push(tag);
        Writer(buf)
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        let len = u32::try_from(v.len()).expect("ABI fields are limited to 4 GiB");
        self.u32(len);
        self.0.extend_from_slice(v);
    }
    /// Headers as one *bytes* field ([`join_headers`]), written in place.
    fn headers(&mut self, pairs: &[(String, Vec<u8>)]) {
        let len = u32::try_from(joined_len(pairs)).expect("ABI fields are limited to 4 GiB");
        self.u32(len);
        push_headers(&mut self.0, pairs);
    }
    fn pairs(&mut self, pairs: &[(String, Vec<u8>)]) {
        self.u32(pairs.len() as u32);
        for (name, value) in pairs {
            self.bytes(name.as_bytes());
            self.bytes(value);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], tag: u8) -> Result<Self, DecodeError> {
        match buf.split_first() {
            Some((&t, rest)) if t == tag => Ok(Reader(rest)),
            Some(_) => Err(DecodeError("unexpected message tag")),
            None => Err(DecodeError("empty message")),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        self.take(len)
    }
    fn str(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| DecodeError("string is not UTF-8"))
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        self.str().map(str::to_owned)
    }
    fn pairs(&mut self) -> Result<Vec<(String, Vec<u8>)>, DecodeError> {
        let n = self.u32()? as usize;
        // Each pair takes at least 8 bytes: bound the allocation by what is really there.
        if n > self.0.len() / 8 {
            return Err(DecodeError("pair count exceeds message"));
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let name = self.string()?;
            let value = self.bytes()?.to_vec();
            out.push((name, value));
        }
        Ok(out)
    }
    fn finish(self) -> Result<(), DecodeError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DecodeError("trailing bytes"))
        }
    }
}

/// Headers as they travel in a [`Request`] or a [`Response`]: `name\nvalue\nname\nvalue`.
///
/// # Panics
/// In debug builds, if a name or a value holds a newline: HTTP allows neither, and every path
/// that makes headers (hyper's types, the polyfills' checks) refuses them first.
pub fn join_headers(pairs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(joined_len(pairs));
    push_headers(&mut out, pairs);
    out
}

/// The length of [`join_headers`]'s result.
fn joined_len(pairs: &[(String, Vec<u8>)]) -> usize {
    pairs
        .iter()
        .map(|(k, v)| k.len() + v.len() + 2)
        .sum::<usize>()
        .saturating_sub(1)
}

/// Appends the lines of [`join_headers`] to `out`.
fn push_headers(out: &mut Vec<u8>, pairs: &[(String, Vec<u8>)]) {
    for (i, (name, value)) in pairs.iter().enumerate() {
        debug_assert!(!name.contains('\n') && !value.contains(&b'\n'));
        if i > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(value);
    }
}

/// The lines of headers joined by [`join_headers`].
type Lines<'a> = std::slice::Split<'a, u8, fn(&u8) -> bool>;

/// The `(name, value)` pairs of headers joined by [`join_headers`], in order.
#[derive(Debug, Clone)]
pub struct HeaderLines<'a>(Option<Lines<'a>>);

impl<'a> HeaderLines<'a> {
    pub fn new(wire: &'a [u8]) -> Self {
        let newline: fn(&u8) -> bool = |b| *b == b'\n';
        HeaderLines((!wire.is_empty()).then(|| wire.split(newline)))
    }
}

impl<'a> Iterator for HeaderLines<'a> {
    /// A name and its value; `Err` for a name without a value (a malformed field).
    type Item = Result<(&'a [u8], &'a [u8]), DecodeError>;
    fn next(&mut self) -> Option<Self::Item> {
        let lines = self.0.as_mut()?;
        let name = lines.next()?;
        Some(
            lines
                .next()
                .map(|value| (name, value))
                .ok_or(DecodeError("a header name without a value")),
        )
    }
}

/// The value of header `name` in headers joined by [`join_headers`]: several values joined
/// with `, ` (as the Fetch standard's `Headers.get` combines them); `None` when there is none.
pub fn header_value<'a>(wire: &'a [u8], name: &[u8]) -> Option<std::borrow::Cow<'a, [u8]>> {
    let mut found: Option<std::borrow::Cow<'a, [u8]>> = None;
    for (line, value) in HeaderLines::new(wire).map_while(Result::ok) {
        if line == name {
            found = Some(match found {
                None => std::borrow::Cow::Borrowed(value),
                Some(before) => std::borrow::Cow::Owned([&before[..], b", ", value].concat()),
            });
        }
    }
    found
}

/// [`HeaderLines`] as owned pairs, names checked to be UTF-8.
fn split_headers(wire: &[u8]) -> Result<Vec<(String, Vec<u8>)>, DecodeError> {
    HeaderLines::new(wire)
        .map(|pair| {
            let (name, value) = pair?;
            let name =
                std::str::from_utf8(name).map_err(|_| DecodeError("header name is not UTF-8"))?;
            Ok((name.to_owned(), value.to_vec()))
        })
        .collect()
}

/// A response's encoding, written straight from its parts: `headers` joined as
/// [`join_headers`] joins them. What the engine sends, without a [`Response`] in between.
pub fn encode_response(status: u16, headers: &[u8], body: &[u8]) -> Vec<u8> {
    let mut w = Writer::with_capacity(TAG_RESPONSE, 10 + headers.len() + body.len());
    w.u16(status);
    w.bytes(headers);
    w.bytes(body);
    w.0
}

fn pairs_len(pairs: &[(String, Vec<u8>)]) -> usize {
    pairs
        .iter()
        .map(|(k, v)| 8 + k.len() + v.len())
        .sum::<usize>()
        + 4
}

impl InitInput {
    pub fn encode(&self) -> Vec<u8> {
        let env: Vec<(String, Vec<u8>)> = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
            .collect();
        let mut w = Writer::with_capacity(
            TAG_INIT,
            32 + self.filename.len() + self.source.len() + pairs_len(&env),
        );
        w.u8(self.kind as u8);
        w.bytes(self.filename.as_bytes());
        w.bytes(self.source.as_bytes());
        w.pairs(&env);
        w.u32(self.bindings.len() as u32);
        for b in &self.bindings {
            match b {
                Binding::Kv { name } => {
                    w.u8(0);
                    w.bytes(name.as_bytes());
                }
                Binding::Sqlite { name, database } => {
                    w.u8(1);
                    w.bytes(name.as_bytes());
                    w.bytes(database.as_bytes());
                }
            }
        }
        w.0
    }

    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf, TAG_INIT)?;
        let kind = match r.u8()? {
            0 => SourceKind::Script,
            1 => SourceKind::Module,
            _ => return Err(DecodeError("unknown source kind")),
        };
        let filename = r.string()?;
        let source = r.string()?;
        let env = r
            .pairs()?
            .into_iter()
            .map(|(k, v)| {
                String::from_utf8(v)
                    .map(|v| (k, v))
                    .map_err(|_| DecodeError("env value is not UTF-8"))
            })
            .collect::<Result<_, _>>()?;
        let n = r.u32()? as usize;
        let mut bindings = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            bindings.push(match r.u8()? {
                0 => Binding::Kv { name: r.string()? },
                1 => Binding::Sqlite {
                    name: r.string()?,
                    database: r.string()?,
                },
                _ => return Err(DecodeError("unknown binding kind")),
            });
        }
        r.finish()?;
        Ok(InitInput {
            kind,
            filename,
            source,
            env,
            bindings,
        })
    }
}

impl Request {
    pub fn encoded_len(&self) -> usize {
        1 + 25
            + if self.body_rest.is_some() { 4 } else { 0 }
            + self.method.len()
            + self.url.len()
            + self.client_addr.len()
            + self.request_id.len()
            + joined_len(&self.headers)
            + self.body.len()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(TAG_REQUEST, self.encoded_len());
        w.bytes(self.method.as_bytes());
        w.bytes(self.url.as_bytes());
        w.bytes(self.client_addr.as_bytes());
        w.bytes(self.request_id.as_bytes());
        w.headers(&self.headers);
        w.bytes(&self.body);
        match self.body_rest {
            None => w.u8(0),
            Some(id) => {
                w.u8(1);
                w.u32(id);
            }
        }
        w.0
    }

    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let view = RequestView::decode(buf)?;
        Ok(Request {
            method: view.method.to_owned(),
            url: view.url.to_owned(),
            headers: split_headers(view.headers)?,
            body: view.body.to_vec(),
            body_rest: view.body_rest,
            client_addr: view.client_addr.to_owned(),
            request_id: view.request_id.to_owned(),
        })
    }
}

impl<'a> RequestView<'a> {
    pub fn decode(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf, TAG_REQUEST)?;
        let method = r.str()?;
        let url = r.str()?;
        let client_addr = r.str()?;
        let request_id = r.str()?;
        let headers = r.bytes()?;
        let body = r.bytes()?;
        let body_rest = match r.u8()? {
            0 => None,
            1 => Some(r.u32()?),
            _ => return Err(DecodeError("bad option tag")),
        };
        r.finish()?;
        Ok(RequestView {
            method,
            url,
            headers,
            body,
            body_rest,
            client_addr,
            request_id,
        })
    }
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        encode_response(self.status, &join_headers(&self.headers), &self.body)
    }

    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf, TAG_RESPONSE)?;
        let status = r.u16()?;
        let headers = split_headers(r.bytes()?)?;
        let body = r.bytes()?.to_vec();
        r.finish()?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>, stack: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            stack: stack.into(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(TAG_FAILURE, 9 + self.message.len() + self.stack.len());
        w.u8(self.kind as u8);
        w.bytes(self.message.as_bytes());
        w.bytes(self.stack.as_bytes());
        w.0
    }

    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf, TAG_FAILURE)?;
        let kind = match r.u8()? {
            0 => FailureKind::Exception,
            1 => FailureKind::NeverSettled,
            2 => FailureKind::BadResponse,
            3 => FailureKind::NoHandler,
            4 => FailureKind::BadInput,
            _ => return Err(DecodeError("unknown failure kind")),
        };
        let message = r.string()?;
        let stack = r.string()?;
        r.finish()?;
        Ok(Failure {
            kind,
            message,
            stack,
        })
    }
}

/// Console levels carried by [`IMPORT_LOG`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

impl LogLevel {
    pub fn from_i32(v: i32) -> LogLevel {
        match v {
            0 => LogLevel::Debug,
            2 => LogLevel::Warn,
            3 => LogLevel::Error,
            _ => LogLevel::Info,
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn header_values_are_found_and_joined_as_headers_get_joins_them() {
        let wire = b"host\nh\naccept\na/b\nx-e\n\naccept\nc/d\nset-cookie\na=1\nset-cookie\nb=2";
        let get = |name: &str| header_value(wire, name.as_bytes()).map(|v| v.into_owned());
        assert_eq!(get("host").as_deref(), Some(&b"h"[..]));
        assert_eq!(get("accept").as_deref(), Some(&b"a/b, c/d"[..]));
        assert_eq!(get("set-cookie").as_deref(), Some(&b"a=1, b=2"[..]));
        assert_eq!(get("x-e").as_deref(), Some(&b""[..]));
        assert_eq!(get("a/b"), None, "values are not names");
        assert_eq!(get("hos"), None);
        assert_eq!(header_value(b"", b"host"), None);
    }

    #[test]
    fn output_words_round_trip() {
        for (ptr, len, failure) in [
            (0, 0, false),
            (0x0010_0000, 12, true),
            (u32::MAX, (1 << 31) - 1, false),
        ] {
            assert_eq!(
                unpack_output(pack_output(ptr, len, failure)),
                (ptr, len, failure)
            );
        }
    }

    #[test]
    fn request_round_trips() {
        let req = Request {
            method: "POST".into(),
            url: "http://example.com/a?b=c".into(),
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body: vec![0, 1, 2, 255],
            body_rest: None,
            client_addr: "127.0.0.1:5000".into(),
            request_id: "r-1".into(),
        };
        let streamed = Request {
            body_rest: Some(7),
            ..req.clone()
        };
        for req in [req, streamed] {
            let bytes = req.encode();
            assert_eq!(bytes.len(), req.encoded_len());
            assert_eq!(Request::decode(&bytes).unwrap(), req);
        }
    }

    #[test]
    fn response_and_failure_round_trip() {
        let resp = Response {
            status: 201,
            headers: vec![("x".into(), b"y".to_vec()), ("x".into(), b"z".to_vec())],
            body: b"hello".to_vec(),
        };
        assert_eq!(Response::decode(&resp.encode()).unwrap(), resp);
        let f = Failure::new(FailureKind::BadResponse, "nope", "at x (index.js:1:2)");
        assert_eq!(Failure::decode(&f.encode()).unwrap(), f);
    }

    #[test]
    fn init_round_trips() {
        let init = InitInput {
            kind: SourceKind::Module,
            filename: "index.js".into(),
            source: "export default {}".into(),
            env: vec![("EDGE_REGION".into(), "ap-east-1".into())],
            bindings: vec![
                Binding::Kv { name: "KV".into() },
                Binding::Sqlite {
                    name: "DB".into(),
                    database: String::new(),
                },
            ],
        };
        assert_eq!(InitInput::decode(&init.encode()).unwrap(), init);
    }

    #[test]
    fn rejects_wrong_tag_truncation_and_trailing_bytes() {
        let resp = Response::default().encode();
        assert_eq!(
            Request::decode(&resp),
            Err(DecodeError("unexpected message tag"))
        );
        assert_eq!(
            Response::decode(&resp[..resp.len() - 1]),
            Err(DecodeError("truncated"))
        );
        let mut long = resp.clone();
        long.push(0);
        assert_eq!(Response::decode(&long), Err(DecodeError("trailing bytes")));
        // A huge length must not allocate before failing.
        let mut evil = vec![TAG_RESPONSE, 200, 0];
        evil.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(Response::decode(&evil).is_err());
        // Header lines not in pairs.
        let odd = encode_response(200, b"a\nb\nc", b"");
        assert_eq!(
            Response::decode(&odd),
            Err(DecodeError("a header name without a value"))
        );
    }

    #[test]
    fn header_lines_keep_empty_values_and_order() {
        let pairs: Vec<(String, Vec<u8>)> = vec![
            ("a".into(), b"".to_vec()),
            ("b".into(), b"\xff x".to_vec()),
            ("a".into(), b"2".to_vec()),
        ];
        let wire = join_headers(&pairs);
        assert_eq!(wire, b"a\n\nb\n\xff x\na\n2");
        assert_eq!(split_headers(&wire).unwrap(), pairs);
        assert_eq!(split_headers(b"").unwrap(), vec![]);
        assert_eq!(HeaderLines::new(b"").count(), 0);
    }

    #[test]
    fn request_view_reads_in_place() {
        let req = Request {
            method: "GET".into(),
            url: "http://h/".into(),
            headers: vec![("host".into(), b"h".to_vec()), ("x".into(), b"1".to_vec())],
            body: vec![],
            body_rest: Some(3),
            client_addr: "1.2.3.4:5".into(),
            request_id: "id".into(),
        };
        let bytes = req.encode();
        let view = RequestView::decode(&bytes).unwrap();
        assert_eq!(
            (view.method, view.url, view.headers, view.body_rest),
            ("GET", "http://h/", &b"host\nh\nx\n1"[..], Some(3))
        );
    }
}
