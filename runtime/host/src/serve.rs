//! The HTTP front: hyper over TCP, HTTP/1.1 with keep-alive, a function behind it.
//!
//! Per request: health check short-circuit → for `wisp serve`, the [`crate::router`] picks the
//! function (404 when none; its metrics are recorded around the call) → body size limit (413) → a concurrency permit
//! (503 at once when none is free: no unbounded queue) → the request in the ABI's shape →
//! [`Function::invoke`] → the response, or a JSON error whose detail depends on `debug`, written
//! once the other requests ready on the worker have run (so that responses leave in bursts).
//! SIGTERM (or the shutdown future) stops accepting and lets in-flight requests finish.

use crate::body::{BodyStream, Start};
use crate::component::ComponentFunction;
use crate::errors::InvokeError;
use crate::function::{Function, Reply};
use crate::metrics::{ActiveInstance, FunctionMetrics};
use crate::pool::Runtime;
use crate::router::Deployed;
use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The path of the built-in health check.
pub const HEALTH_PATH: &str = "/_wisp/health";
/// The response header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What a server serves: one function (`wisp run`) or every function of a platform
/// (`wisp serve`, routed per request).
pub enum Functions {
    One(Handler),
    Many(Arc<crate::platform::Platform>),
}

/// What an [`App`] serves: a JS function or a WebAssembly component.
#[derive(Clone)]
pub enum Handler {
    Js(Arc<Function>),
    Component(Arc<ComponentFunction>),
}

impl Handler {
    pub fn name(&self) -> &str {
        match self {
            Handler::Js(f) => &f.name,
            Handler::Component(c) => &c.name,
        }
    }
    pub fn hash(&self) -> &str {
        match self {
            Handler::Js(f) => &f.info.hash,
            Handler::Component(c) => &c.info.hash,
        }
    }
}

impl From<Arc<Function>> for Handler {
    fn from(f: Arc<Function>) -> Self {
        Handler::Js(f)
    }
}

impl From<Arc<ComponentFunction>> for Handler {
    fn from(c: Arc<ComponentFunction>) -> Self {
        Handler::Component(c)
    }
}

pub struct App {
    pub functions: Functions,
    pub runtime: Runtime,
    pub max_body_bytes: u64,
    /// Error messages and JS stacks in 500 bodies (development only: they can leak internals).
    pub debug: bool,
    permits: Arc<Semaphore>,
    /// How many permits there are: all of them free means no instance is running.
    max_concurrent_requests: u32,
    ids: RequestIds,
}

impl App {
    pub fn new(
        function: impl Into<Handler>,
        runtime: Runtime,
        max_concurrent_requests: usize,
        max_body_bytes: u64,
        debug: bool,
    ) -> App {
        Self::serving(
            Functions::One(function.into()),
            runtime,
            max_concurrent_requests,
            max_body_bytes,
            debug,
        )
    }

    pub fn serving(
        functions: Functions,
        runtime: Runtime,
        max_concurrent_requests: usize,
        max_body_bytes: u64,
        debug: bool,
    ) -> App {
        // The configuration allows at most MAX_CONCURRENT_REQUESTS.
        let max_concurrent_requests = u32::try_from(max_concurrent_requests)
            .unwrap_or(u32::MAX)
            .min(crate::config::MAX_CONCURRENT_REQUESTS);
        App {
            functions,
            runtime,
            max_body_bytes,
            debug,
            permits: Arc::new(Semaphore::new(max_concurrent_requests as usize)),
            max_concurrent_requests,
            ids: RequestIds::new(),
        }
    }
}

/// Request ids: a per-process random prefix and a counter; unique and cheap.
struct RequestIds {
    prefix: u32,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        RequestIds {
            prefix: u32::from_le_bytes(b),
            next: AtomicU64::new(1),
        }
    }
    /// `prefix-counter` in hex, written by hand: `format!` was a measurable share of a request's
    /// host CPU (benches/README.md, stop 25).
    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut id = String::with_capacity(8 + 1 + 16);
        push_hex(&mut id, u64::from(self.prefix), 8);
        id.push('-');
        push_hex(&mut id, n, 1);
        id
    }
}

/// `n` in lower-case hex, zero-padded to at least `min_digits`.
fn push_hex(out: &mut String, n: u64, min_digits: u32) {
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(min_digits);
    for shift in (0..digits).rev() {
        let nibble = ((n >> (shift * 4)) & 0xf) as u8;
        out.push(char::from(if nibble < 10 {
            b'0' + nibble
        } else {
            b'a' + nibble - 10
        }));
    }
}

/// `ip:port`, as `SocketAddr`'s `Display` writes it; an IPv4 address (nearly every client) by
/// hand: the formatting machinery was about 1 % of a hello request's host CPU.
fn client_text(addr: SocketAddr) -> String {
    let SocketAddr::V4(v4) = addr else {
        return addr.to_string();
    };
    let mut text = String::with_capacity(21);
    for (i, octet) in v4.ip().octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        push_decimal(&mut text, u32::from(octet));
    }
    text.push(':');
    push_decimal(&mut text, u32::from(v4.port()));
    text
}

/// `n` in decimal.
fn push_decimal(out: &mut String, n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// What a response body may fail with once streaming (the client sees the connection cut).
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;
/// The body of every response the server sends: whole (most JS responses) or streamed (a JS
/// `ReadableStream`, a component's outgoing body).
pub type Body = http_body_util::combinators::BoxBody<Bytes, BodyError>;
type HttpResponse = hyper::Response<Body>;

/// A body that is already complete.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// Binds the listening socket. With `reuse_port`, several `wisp` processes can share the port
/// and the kernel spreads connections between them (one single-threaded process per core keeps
/// each process's page-table changes from interrupting the other cores).
pub fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Accepts connections on `listener` until `shutdown` resolves, then waits (up to `grace`) for
/// the requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> Result<()> {
    let local = listener.local_addr()?;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    tokio::pin!(shutdown);
    loop {
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = service_fn(move |req| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(handle(&app, req, client, local).await) }
        });
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%client, "connection ended: {e}");
            }
        });
    }
    // New connections are refused from now on, not left waiting in the backlog.
    drop(listener);
    tracing::info!("shutting down: finishing requests in flight");
    // An instance outlives its connection when its response went early (a streamed body,
    // `waitUntil` work); it holds a concurrency permit until it is gone.
    let finished = async {
        graceful.shutdown().await;
        let _ = app.permits.acquire_many(app.max_concurrent_requests).await;
    };
    tokio::select! {
        () = finished => tracing::info!("all requests finished"),
        () = tokio::time::sleep(grace) => tracing::warn!("grace period over; closing remaining connections"),
    }
    Ok(())
}

async fn handle(
    app: &App,
    req: hyper::Request<Incoming>,
    client: SocketAddr,
    local: SocketAddr,
) -> HttpResponse {
    let request_id = app.ids.next();
    let mut response = route(app, req, client, local, &request_id).await;
    let_ready_requests_run().await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

/// Lets the requests that are ready on this worker run before this response is written, so that
/// the worker writes its responses in a burst.
///
/// Each response written to a client that is waiting in `epoll` wakes it, and on these VMs the
/// wake-up (an inter-processor interrupt, an exit to the hypervisor) costs the writer a good part
/// of what a small handler costs. A worker that runs every ready request's instance first and
/// then writes the answers wakes each client thread once per burst instead of once per response:
/// with `wrk` on the same machine, about a fifth less server CPU per request (benches/README.md,
/// stop 29). The wait is one trip through the worker's run queue: a response is held back by the
/// tasks queued before it (mostly the requests the last `epoll` made ready, and whatever tokio
/// takes from its shared queue on the way), and with nothing else queued it is written at once.
async fn let_ready_requests_run() {
    // Waking itself puts the task at the back of the worker's run queue (tokio schedules a
    // task woken during its own poll as a yield), behind the connections the last `epoll`
    // made ready. `tokio::task::yield_now` would also wait for the next `epoll`, which costs a
    // system call when nothing else is ready.
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

async fn route(
    app: &App,
    req: hyper::Request<Incoming>,
    client: SocketAddr,
    local: SocketAddr,
    request_id: &str,
) -> HttpResponse {
    if req.uri().path() == HEALTH_PATH {
        let body = match &app.functions {
            Functions::One(f) => serde_json::json!({
                "status": "ok",
                "function": f.name(),
                "hash": f.hash(),
            }),
            Functions::Many(p) => serde_json::json!({
                "status": "ok",
                "functions": p.router.names().len(),
            }),
        };
        return json(StatusCode::OK, &body);
    }
    let host = match req.headers().get(header::HOST) {
        None => local.to_string(),
        Some(given) => match valid_host(given) {
            Some(host) => host,
            None => {
                return error_body(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "invalid Host header: expected host[:port]",
                    request_id,
                );
            }
        },
    };
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    if !path_and_query.starts_with('/') {
        // `OPTIONS *`: there is no resource to hand a function.
        return error_body(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request target must be a path",
            request_id,
        );
    }
    let (function, metrics, path) = match &app.functions {
        Functions::One(f) => (f.clone(), None, path_and_query.to_owned()),
        Functions::Many(p) => match p.router.resolve(Some(&host), path_and_query) {
            Some(routed) => match &routed.target.deployed {
                Deployed::Js(f) => (
                    Handler::Js(f.clone()),
                    Some(routed.target.metrics.clone()),
                    routed.path.into_owned(),
                ),
                Deployed::Component(c) => (
                    Handler::Component(c.clone()),
                    Some(routed.target.metrics.clone()),
                    routed.path.into_owned(),
                ),
            },
            None => {
                p.metrics.unrouted.fetch_add(1, Ordering::Relaxed);
                return error_body(
                    StatusCode::NOT_FOUND,
                    "no_function",
                    "no function is deployed at this address",
                    request_id,
                );
            }
        },
    };
    let started = std::time::Instant::now();
    let response = call(
        app,
        &function,
        metrics.as_ref(),
        req,
        client,
        &host,
        &path,
        request_id,
    )
    .await;
    if let Some(m) = &metrics {
        m.response(response.status().as_u16(), started.elapsed());
    }
    response
}

#[allow(clippy::too_many_arguments)]
async fn call(
    app: &App,
    function: &Handler,
    metrics: Option<&Arc<FunctionMetrics>>,
    req: hyper::Request<Incoming>,
    client: SocketAddr,
    host: &str,
    path: &str,
    request_id: &str,
) -> HttpResponse {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.max_body_bytes) {
        return too_large(app.max_body_bytes, request_id);
    }
    let Ok(permit) = app.permits.clone().try_acquire_owned() else {
        let mut r = error_body(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the server is at its concurrent request limit; retry shortly",
            request_id,
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };

    let (parts, body) = req.into_parts();
    // A component gets its body whole (wasmtime-wasi-http's incoming body is a buffer).
    let whole = matches!(function, Handler::Component(_));
    // The body must arrive within the time the function itself would have.
    let timeout = match function {
        Handler::Js(f) => f.limits.map_or(app.runtime.timeout, |l| l.timeout),
        Handler::Component(_) => app.runtime.timeout,
    };
    let (body, rest) = match incoming_body(app, body, whole, timeout, request_id).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let function = match function {
        Handler::Js(f) => f,
        Handler::Component(c) => {
            return component_request(app, c, parts, body.into(), host, path, request_id).await;
        }
    };
    let request = wisp_abi::Request {
        method: parts.method.as_str().to_owned(),
        url: ["http://", host, path].concat(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
        body,
        body_rest: None,
        client_addr: client_text(client),
        request_id: request_id.to_owned(),
    };
    // Held until the instance is gone, which for a streamed body is after this returns.
    let alive = (permit, metrics.map(ActiveInstance::start));
    match function
        .invoke_streaming(&app.runtime, request, rest, alive)
        .await
    {
        Ok(Reply::Whole(resp)) => to_http(resp, &function.name, request_id),
        Ok(Reply::Streamed(s)) => {
            let head = wisp_abi::Response {
                status: s.status,
                headers: s.headers,
                body: Vec::new(),
            };
            let valid = StatusCode::from_u16(s.status).is_ok();
            let mut out = to_http(head, &function.name, request_id);
            if valid {
                *out.body_mut() = BodyExt::boxed(crate::streaming::ChannelBody(s.body));
            }
            out
        }
        Err(e) => {
            if let Some(m) = metrics {
                match e {
                    InvokeError::Timeout(_) => m.timeouts.fetch_add(1, Ordering::Relaxed),
                    InvokeError::Memory { .. } => m.memory_kills.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
            }
            failure(app, &function.name, e, request_id)
        }
    }
}

/// The start of a request body, and the rest when it is still arriving ([`crate::body`]): a body
/// of known length up to [`crate::body::FIRST_PIECE_BYTES`] is read whole before the function
/// runs (so `request.body` is a buffered stream whose string form is its text, as the WasmEdge
/// article's handlers expect); a longer or chunked one up to its first piece, and the function
/// reads the rest as it comes; `whole` reads it all first whatever its length. Too large → 413,
/// not there within the time limit → 408.
async fn incoming_body(
    app: &App,
    body: Incoming,
    whole: bool,
    timeout: Duration,
    request_id: &str,
) -> Result<(Vec<u8>, Option<BodyStream>), HttpResponse> {
    use hyper::body::Body as _;
    if body.is_end_stream() {
        return Ok((Vec::new(), None));
    }
    let start = match body.size_hint().exact() {
        _ if whole => Start::Whole,
        Some(n) if n <= crate::body::FIRST_PIECE_BYTES as u64 => Start::Whole,
        _ => Start::FirstPiece,
    };
    let stream = BodyStream::new(
        body,
        "the request body".into(),
        crate::body::REQUEST_BODY_CAP,
        app.max_body_bytes as usize,
    );
    match tokio::time::timeout(timeout, stream.start(start)).await {
        Ok(Ok(read)) => Ok(read),
        Ok(Err(e)) => Err(body_failed(app, e, request_id)),
        Err(_) => Err(error_body(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            &format!(
                "the request body did not arrive within {} ms",
                timeout.as_millis()
            ),
            request_id,
        )),
    }
}

/// A request body that could not be read before the function ran: too large (413), or cut off.
fn body_failed(app: &App, message: String, request_id: &str) -> HttpResponse {
    if message.contains(crate::body::REQUEST_BODY_CAP) {
        return too_large(app.max_body_bytes, request_id);
    }
    error_body(StatusCode::BAD_REQUEST, "bad_request", &message, request_id)
}

/// A request for a component: the same head and body, with the full URL it was sent to.
async fn component_request(
    app: &App,
    component: &ComponentFunction,
    mut parts: hyper::http::request::Parts,
    body: Bytes,
    host: &str,
    path: &str,
    request_id: &str,
) -> HttpResponse {
    parts.uri = match hyper::Uri::try_from(format!("http://{host}{path}")) {
        Ok(uri) => uri,
        Err(e) => {
            return error_body(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("invalid Host header or path: {e}"),
                request_id,
            );
        }
    };
    let request = hyper::Request::from_parts(parts, body);
    match component.invoke(&app.runtime, request, request_id).await {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            let mut out = hyper::Response::new(full(body));
            *out.status_mut() = parts.status;
            for (name, value) in parts.headers.iter() {
                if !is_reserved(name) {
                    out.headers_mut().append(name.clone(), value.clone());
                }
            }
            out
        }
        Err(e) => failure(app, &component.name, e, request_id),
    }
}

/// A Host header as the function's URL has it (lower case, without the default port 80), if it
/// is a host and optional port and nothing else. The function's URL is `http://` + host + path:
/// a Host such as `evil/admin?` would otherwise move the path the function (and routing) sees.
fn valid_host(value: &HeaderValue) -> Option<String> {
    let given = value.to_str().ok()?;
    let authority: hyper::http::uri::Authority = given.parse().ok()?;
    if authority.as_str() != given || given.contains('@') || authority.host().is_empty() {
        return None;
    }
    let mut host = given.strip_suffix(":80").unwrap_or(given).to_owned();
    host.make_ascii_lowercase();
    Some(host)
}

/// Hop-by-hop and framing headers are the server's business, not the function's: those of RFC
/// 9110 (section 7.6.1) and the legacy `proxy-connection`.
fn is_reserved(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "upgrade"
            | "te"
            | "trailer"
            | "proxy-connection"
    )
}

fn to_http(resp: wisp_abi::Response, function: &str, request_id: &str) -> HttpResponse {
    let Ok(status) = StatusCode::from_u16(resp.status) else {
        tracing::error!(
            function,
            request_id,
            status = resp.status,
            "the function returned an invalid status"
        );
        return error_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            "bad_response",
            "invalid status",
            request_id,
        );
    };
    let mut out = hyper::Response::new(full(resp.body));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    for (name, value) in resp.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            (Ok(n), Ok(v)) if !is_reserved(&n) => {
                headers.append(n, v);
            }
            (Ok(n), Ok(_)) => {
                tracing::debug!(function, request_id, header = %n, "dropped a reserved response header")
            }
            _ => tracing::warn!(
                function,
                request_id,
                header = name,
                "dropped an invalid response header"
            ),
        }
    }
    out
}

fn failure(app: &App, function: &str, e: InvokeError, request_id: &str) -> HttpResponse {
    match e.stack() {
        Some(stack) => tracing::error!(
            function,
            request_id,
            kind = e.kind(),
            "{e}\n{}",
            stack.trim_end()
        ),
        None => tracing::error!(function, request_id, kind = e.kind(), "{e}"),
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = failure_body(app, status, &e, request_id);
    if let InvokeError::Busy = e {
        // Like the concurrency limit's 503: the pool frees a slot as soon as a request ends.
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// The JSON body of a failed request: the error's text and stack with `--debug`, otherwise only
/// what is safe to show a caller.
fn failure_body(app: &App, status: StatusCode, e: &InvokeError, request_id: &str) -> HttpResponse {
    if app.debug {
        let mut body = serde_json::json!({
            "error": e.to_string(),
            "kind": e.kind(),
            "request_id": request_id,
        });
        if let Some(stack) = e.stack() {
            body["stack"] = stack.into();
        }
        return json(status, &body);
    }
    // Without debug, only what is safe to show a caller: limits are the caller's business, a
    // function's exception text is not.
    let message = match e {
        InvokeError::Timeout(_)
        | InvokeError::Busy
        | InvokeError::Memory { .. }
        | InvokeError::BodyTooLarge { .. } => e.to_string(),
        _ => "the function failed; see the server log for this request id".into(),
    };
    error_body(status, e.kind(), &message, request_id)
}

fn too_large(limit: u64, request_id: &str) -> HttpResponse {
    error_body(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        &format!("the request body is larger than the limit of {limit} bytes"),
        request_id,
    )
}

fn error_body(status: StatusCode, kind: &str, message: &str, request_id: &str) -> HttpResponse {
    json(
        status,
        &serde_json::json!({ "error": message, "kind": kind, "request_id": request_id }),
    )
}

fn json(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    let mut r = hyper::Response::new(full(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_written_after_the_requests_already_ready_have_run() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .unwrap();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let events = log.clone();
        runtime.block_on(async move {
            // Spawned from the worker, so the requests wait in its own run queue, as connections
            // that one `epoll` made ready do.
            tokio::spawn(async move {
                let requests: Vec<_> = (0..3)
                    .map(|n| {
                        let log = events.clone();
                        tokio::spawn(async move {
                            log.lock().unwrap().push(format!("ran {n}"));
                            let_ready_requests_run().await;
                            log.lock().unwrap().push(format!("written {n}"));
                        })
                    })
                    .collect();
                for request in requests {
                    request.await.unwrap();
                }
            })
            .await
            .unwrap();
        });
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 6, "{log:?}");
        assert!(
            log[..3].iter().all(|e| e.starts_with("ran")),
            "every ready request ran before the first response was written: {log:?}"
        );
        // With nothing else ready, the response is written without waiting for anything.
        let alone = runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(5),
                tokio::spawn(let_ready_requests_run()),
            )
            .await
        });
        assert!(matches!(alone, Ok(Ok(()))));
    }

    #[test]
    fn request_ids_are_the_prefix_and_a_counter_in_hex() {
        let ids = RequestIds {
            prefix: 0x0a1b,
            next: AtomicU64::new(0xff),
        };
        assert_eq!(ids.next(), "00000a1b-ff");
        assert_eq!(ids.next(), "00000a1b-100");
        let ids = RequestIds {
            prefix: u32::MAX,
            next: AtomicU64::new(0),
        };
        assert_eq!(ids.next(), "ffffffff-0");
        let mut max = String::new();
        push_hex(&mut max, u64::MAX, 1);
        assert_eq!(max, "ffffffffffffffff");
    }

    #[test]
    fn client_addresses_read_as_display_writes_them() {
        for addr in [
            "127.0.0.1:50000",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.20.3.4:8",
            "[::1]:8080",
            "[2001:db8::1]:443",
        ] {
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(client_text(addr), addr.to_string());
        }
    }
}
