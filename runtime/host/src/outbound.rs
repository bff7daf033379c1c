//! Outbound HTTP for functions: what JS `fetch` reaches through `wisp.call`.
//!
//! One hyper client (HTTP/1.1, rustls with the Mozilla roots and `[net] ca_file`, connection
//! pooling) per server.
//! Every request, and every redirect hop, is checked against the function's [`AllowList`] and
//! counted against the request's subrequest budget; the whole exchange (connect, headers, body)
//! runs under `[net] timeout_ms` and the request's own deadline, whichever is sooner; a response
//! body past `[net] max_response_bytes` fails the call (or, once streaming, the read that
//! crosses the cap). Redirects follow the Fetch standard: 303 (and 301/302 after a POST) become
//! a GET without a body, `Authorization` is dropped when the origin changes, at most
//! `[net] max_redirects` hops.
//!
//! Bodies stream both ways ([`crate::body`]): what has arrived of a response with its head
//! comes back with it, and when that is not the whole body the rest stays here as a
//! [`BodyStream`] that the engine reads piece by piece (`HostCall::FetchRead`); a request body
//! that JS gives as a `ReadableStream` is sent as it is produced (`HostCall::FetchSend`), and a
//! redirect that would have to send it again (307, 308) fails the fetch, as the Fetch standard
//! says. A function can so pass a large or endless body between its client and an upstream
//! without holding it.
//!
//! Errors are strings because they become the message of the JS `TypeError` that `fetch`
//! rejects with; they say what was refused and what to change.

use crate::body::{BodySink, BodyStream, CutSwitch, SendBody, Start};
use crate::config::NetConfig;
use crate::net::AllowList;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, HeaderName, HeaderValue, LOCATION};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use url::Url;
use wisp_abi::hostcall::{FetchBody, FetchRequest, FetchResponse, HostReply, Redirect};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
/// An outbound request body: whole, or streamed from the engine.
type OutBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A request body as it is sent, hop after hop.
enum Payload {
    Whole(Bytes),
    /// Sent once (`None` after the first hop took it); dropping the switch without keeping it
    /// (a redirect that drops the body or refuses to send it again, a failure, the time limit)
    /// cuts the body off, even on a connection hyper still holds.
    Stream(Option<SendBody>, Option<CutSwitch>),
}

impl Payload {
    fn streamed(&self) -> bool {
        matches!(self, Payload::Stream(..))
    }

    fn for_hop(&mut self) -> Option<OutBody> {
        match self {
            Payload::Whole(bytes) => Some(
                Full::new(bytes.clone())
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            ),
            Payload::Stream(body, _) => Some(body.take()?.map_err(Into::into).boxed_unsync()),
        }
    }

    /// The response has come: a streamed body goes on being sent (the upstream may read it
    /// while it answers).
    fn keep(&mut self) {
        if let Payload::Stream(_, Some(switch)) = self {
            switch.keep();
        }
    }
}

/// The server's outbound HTTP client and its limits.
pub struct Outbound {
    client: Client<Connector, OutBody>,
    timeout: Duration,
    max_response_bytes: usize,
    max_redirects: u32,
    /// Outbound requests (redirect hops included) one incoming request may make.
    pub max_subrequests: u32,
    /// The TLS settings, also given to components' outgoing requests.
    pub tls: std::sync::Arc<rustls::ClientConfig>,
}

impl Outbound {
    pub fn new(config: &NetConfig) -> anyhow::Result<Outbound> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_millis(config.timeout_ms)));
        let tls = crate::tls::client_config(config)?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Outbound {
            client,
            timeout: Duration::from_millis(config.timeout_ms),
            max_response_bytes: config.max_response_bytes as usize,
            max_redirects: config.max_redirects,
            max_subrequests: config.max_subrequests,
            tls,
        })
    }

    /// Performs `req` for a function allowed to reach `allow`, spending from `budget` (the
    /// subrequests its incoming request has left), before `deadline`. `stream` is the body
    /// when `req.body` is [`FetchBody::Stream`].
    pub async fn fetch(
        &self,
        allow: &AllowList,
        req: FetchRequest,
        stream: Option<SendBody>,
        budget: &AtomicU32,
        deadline: Instant,
    ) -> Result<Fetched, String> {
        let now = Instant::now();
        let deadline = deadline.min(now + self.timeout);
        let limit = deadline.saturating_duration_since(now);
        let work = self.follow(allow, req, stream, budget, deadline);
        match tokio::time::timeout_at(deadline.into(), work).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "fetch: no complete response within {} ms{}",
                limit.as_millis(),
                if limit < self.timeout {
                    " (the rest of the request's time limit)"
                } else {
                    " ([net] timeout_ms)"
                }
            )),
        }
    }

    async fn follow(
        &self,
        allow: &AllowList,
        req: FetchRequest,
        stream: Option<SendBody>,
        budget: &AtomicU32,
        deadline: Instant,
    ) -> Result<Fetched, String> {
        let FetchRequest {
            mut method,
            url,
            mut headers,
            body,
            redirect,
        } = req;
        let mut body = match body {
            FetchBody::None => None,
            FetchBody::Bytes(bytes) => Some(Payload::Whole(bytes.into())),
            FetchBody::Stream => {
                let mut stream = stream;
                let switch = stream.as_mut().and_then(SendBody::switch);
                Some(Payload::Stream(stream, switch))
            }
        };
        let mut url = Url::parse(&url).map_err(|e| format!("fetch: invalid URL {url:?}: {e}"))?;
        let mut hops = 0;
        loop {
            self.check(allow, &url, budget)?;
            // A streamed body is taken by the first hop; the redirect check below makes sure
            // no later hop needs it.
            let out = body.as_mut().and_then(Payload::for_hop);
            let response = self.send(&method, &url, &headers, out).await?;
            let status = response.status();
            let location = response.headers().get(LOCATION).cloned();
            let is_redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
            if !is_redirect || redirect == Redirect::Manual || location.is_none() {
                let fetched = self
                    .finish(response, &method, &url, hops > 0, deadline)
                    .await;
                if fetched.is_ok()
                    && let Some(body) = body.as_mut()
                {
                    body.keep();
                }
                return fetched;
            }
            if redirect == Redirect::Error {
                return Err(format!(
                    "fetch: {url} answered with a redirect ({status}) and the request has redirect: 'error'"
                ));
            }
            hops += 1;
            if hops > self.max_redirects {
                return Err(format!(
                    "fetch: more than {} redirects, starting from {url}",
                    self.max_redirects
                ));
            }
            let location = location.unwrap();
            // Browsers read a raw UTF-8 Location (and percent-encode it); `join` encodes it.
            let next = std::str::from_utf8(location.as_bytes())
                .ok()
                .and_then(|l| url.join(l).ok())
                .ok_or_else(|| format!("fetch: {url} redirected to an invalid location"))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(format!(
                    "fetch: {url} redirected to {next}, which is not http(s)"
                ));
            }
            // The Fetch standard's method rewrite: 303 always, 301/302 from a POST.
            let code = status.as_u16();
            if code == 303 && method != "GET" && method != "HEAD"
                || (code == 301 || code == 302) && method == "POST"
            {
                method = "GET".into();
                body = None;
                headers.retain(|(n, _)| {
                    !matches!(
                        n.to_ascii_lowercase().as_str(),
                        "content-type"
                            | "content-length"
                            | "content-encoding"
                            | "content-language"
                            | "content-location"
                    )
                });
            }
            // The Fetch standard: a body that cannot be sent again cannot follow a redirect
            // that keeps it.
            if body.as_ref().is_some_and(Payload::streamed) {
                return Err(format!(
                    "fetch: {url} redirected ({status}) to {next}, which needs the request body \
                     sent again, and a ReadableStream body cannot be (send it as bytes, or use \
                     redirect: 'manual')"
                ));
            }
            if next.origin() != url.origin() {
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case(AUTHORIZATION.as_str()));
            }
            // The redirect's own body is not wanted; dropping it closes or reuses the connection.
            drop(response);
            url = next;
        }
    }

    fn check(&self, allow: &AllowList, url: &Url, budget: &AtomicU32) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "fetch: the scheme of {url} is not supported (only http and https)"
            ));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(a)) => format!("[{a}]"),
            Some(h) => h.to_string(),
            None => return Err(format!("fetch: {url} has no host")),
        };
        let port = url.port_or_known_default().unwrap_or(80);
        if !allow.allows(&host, port) {
            return Err(format!(
                "fetch: {host}:{port} is not on this function's allowlist \
                 (add it to [net] allow in wisp.toml or pass --allow-net {host}:{port})"
            ));
        }
        budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
            .map_err(|_| {
                format!(
                    "fetch: this request has used all of its {} subrequests ([net] max_subrequests)",
                    self.max_subrequests
                )
            })?;
        Ok(())
    }

    async fn send(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, Vec<u8>)],
        body: Option<OutBody>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        let method = hyper::Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("fetch: invalid method {method:?}"))?;
        let mut builder = hyper::Request::builder().method(method).uri(url.as_str());
        let out = builder.headers_mut().expect("a fresh builder has headers");
        for (name, value) in headers {
            let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value),
            ) else {
                return Err(format!("fetch: invalid header {name:?}"));
            };
            // Framing is the client's business; `Host` follows the URL. `Accept-Encoding` (a
            // forwarded browser request's, say) would get a compressed body that fetch does not
            // decode: without it, servers send the body as it is.
            if !matches!(
                n.as_str(),
                "host"
                    | "content-length"
                    | "transfer-encoding"
                    | "connection"
                    | "keep-alive"
                    | "accept-encoding"
            ) {
                out.append(n, v);
            }
        }
        let body = body.unwrap_or_else(|| {
            Full::new(Bytes::new())
                .map_err(|never| match never {})
                .boxed_unsync()
        });
        let request = builder.body(body).map_err(|e| format!("fetch: {e}"))?;
        self.client
            .request(request)
            .await
            .map_err(|e| format!("fetch: {url}: {}", describe(&e)))
    }

    /// The head, and as much of the body as has arrived (all of it when it is small and
    /// complete); the rest is left to stream.
    async fn finish(
        &self,
        response: hyper::Response<hyper::body::Incoming>,
        method: &str,
        url: &Url,
        redirected: bool,
        deadline: Instant,
    ) -> Result<Fetched, String> {
        let (parts, body) = response.into_parts();
        let length = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        // A HEAD response, a 204 and a 304 have no body, whatever length their head declares.
        let no_body = method == "HEAD" || matches!(parts.status.as_u16(), 204 | 304);
        if !no_body && length.is_some_and(|n| n > self.max_response_bytes as u64) {
            return Err(self.too_large(url));
        }
        let rest = BodyStream::new(
            body,
            format!("fetch: the response body of {url}"),
            "[net] max_response_bytes",
            self.max_response_bytes,
        )
        .with_deadline(deadline);
        // A small body with a known length is worth waiting for: one round trip instead of a
        // stream. Anything else takes only what is already here.
        let start = if length.is_some_and(|n| n <= crate::body::FIRST_PIECE_BYTES as u64) {
            Start::Whole
        } else {
            Start::Ready
        };
        let (first, rest) = rest.start(start).await?;
        let response = FetchResponse {
            status: parts.status.as_u16(),
            // The reason phrase the server sent (hyper keeps it when it is not the usual one).
            status_text: parts
                .extensions
                .get::<hyper::ext::ReasonPhrase>()
                .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
                .unwrap_or_else(|| parts.status.canonical_reason().unwrap_or("").to_owned()),
            url: url.to_string(),
            redirected,
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: first,
            more: rest.is_some(),
        };
        Ok(Fetched { response, rest })
    }

    fn too_large(&self, url: &Url) -> String {
        format!(
            "fetch: the response body of {url} is larger than {} bytes ([net] max_response_bytes)",
            self.max_response_bytes
        )
    }
}

/// A fetch's outcome: the response, and the rest of its body when that is still arriving.
pub struct Fetched {
    pub response: FetchResponse,
    pub rest: Option<BodyStream>,
}

/// The innermost cause of a client error: "connection refused" rather than "client error
/// (Connect)".
fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    let mut text = e.to_string();
    while let Some(next) = source.source() {
        text = next.to_string();
        source = next;
    }
    text
}

/// The fetches one request has started and not yet collected, and the bodies still streaming
/// to and from them: they run at the same time, as tokio tasks, while the engine runs other JS;
/// the engine collects their outcomes one by one (`HostCall::FetchWait`). Dropping this (the
/// instance ends) aborts whatever still runs, closes every response body and cuts off every
/// request body.
#[derive(Default)]
pub struct InFlight {
    tasks: tokio::task::JoinSet<(u32, Outcome)>,
    /// The work running in `tasks`, by fetch and lane: a fetch may be sending a piece of its
    /// request body while its response arrives or its body is read.
    aborts: HashMap<(u32, Lane), tokio::task::AbortHandle>,
    /// Bodies with more to read and no read running: fetch responses', and the incoming
    /// request's ([`Self::stream`]).
    bodies: HashMap<u32, BodyStream>,
    /// Streamed request bodies of fetches, still taking pieces.
    sinks: HashMap<u32, BodySink>,
    next_id: u32,
    /// The incoming request's body, when it streams ([`Self::stream`]).
    request_body: Option<u32>,
    /// Its cap, once a read found it larger.
    request_body_refused: Option<usize>,
}

/// Which way a piece of work moves data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Lane {
    /// The response: its head, then pieces of its body.
    In,
    /// Pieces of the request body.
    Out,
}

enum Outcome {
    Head(Result<Fetched, String>),
    /// A piece of a body, and the body to keep reading.
    Piece(Result<Option<Bytes>, String>, BodyStream),
    /// A piece of a request body went upstream, or could not.
    Sent(Result<(), String>),
}

impl Outcome {
    fn lane(&self) -> Lane {
        match self {
            Outcome::Head(_) | Outcome::Piece(..) => Lane::In,
            Outcome::Sent(_) => Lane::Out,
        }
    }
}

impl InFlight {
    fn new_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    fn spawn(&mut self, id: u32, lane: Lane, work: impl Future<Output = Outcome> + Send + 'static) {
        let handle = self.tasks.spawn(async move { (id, work.await) });
        self.aborts.insert((id, lane), handle);
    }

    /// Runs `work` in the background; returns the id its outcome will carry. `sink` feeds its
    /// request body when that streams ([`Self::send`]).
    pub fn start(
        &mut self,
        work: impl Future<Output = Result<Fetched, String>> + Send + 'static,
        sink: Option<BodySink>,
    ) -> u32 {
        let id = self.new_id();
        self.spawn(id, Lane::In, async move { Outcome::Head(work.await) });
        if let Some(sink) = sink {
            self.sinks.insert(id, sink);
        }
        id
    }

    /// Keeps a body that is read like a fetch response's (the incoming request's rest);
    /// returns its id.
    pub fn stream(&mut self, body: BodyStream) -> u32 {
        let id = self.new_id();
        self.bodies.insert(id, body);
        self.request_body = Some(id);
        id
    }

    /// The request body's cap, if the function read past it (a failure then is a 413).
    pub fn request_body_refused(&self) -> Option<usize> {
        self.request_body_refused
    }

    /// Starts reading the next piece of body `id`; it comes back from [`Self::next`].
    pub fn read(&mut self, id: u32) -> Result<(), String> {
        let Some(mut body) = self.bodies.remove(&id) else {
            return Err(if self.aborts.contains_key(&(id, Lane::In)) {
                "a read of this body is already running".into()
            } else {
                "this body has no more to read".into()
            });
        };
        self.spawn(id, Lane::In, async move {
            let piece = body.read().await;
            Outcome::Piece(piece, body)
        });
        Ok(())
    }

    /// Starts sending the next piece of fetch `id`'s streamed request body (`None`: its end);
    /// [`Self::next`] says when the upstream has taken it.
    pub fn send(&mut self, id: u32, piece: Option<Vec<u8>>) -> Result<(), String> {
        if self.aborts.contains_key(&(id, Lane::Out)) {
            return Err("fetch: a piece of this request body is already being sent".into());
        }
        // The end lets go of the sink: the body is complete once it is through.
        let sink = if piece.is_none() {
            self.sinks.remove(&id)
        } else {
            self.sinks.get(&id).cloned()
        };
        let sink =
            sink.ok_or_else(|| "fetch: this fetch has no request body being sent".to_owned())?;
        self.spawn(id, Lane::Out, async move {
            Outcome::Sent(sink.send(piece).await)
        });
        Ok(())
    }

    /// Abandons fetch `id` (its `AbortSignal` fired, or a body stream was cancelled): running
    /// work is aborted, its response body closed and its request body cut off; unknown or
    /// finished ids are ignored.
    pub fn cancel(&mut self, id: u32) {
        for lane in [Lane::In, Lane::Out] {
            if let Some(handle) = self.aborts.remove(&(id, lane)) {
                handle.abort();
            }
        }
        self.bodies.remove(&id);
        self.sinks.remove(&id);
    }

    /// The next outcome (a response, a piece of a body, a piece sent), waiting at most
    /// `timeout` (none: until one comes).
    pub async fn next(&mut self, timeout: Option<Duration>) -> Result<HostReply, String> {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let joined = match deadline {
                Some(d) => match tokio::time::timeout_at(d, self.tasks.join_next()).await {
                    Ok(joined) => joined,
                    Err(_) => return Ok(HostReply::FetchTimedOut),
                },
                None => self.tasks.join_next().await,
            };
            match joined {
                None => return Err("fetch: no fetch is in flight".into()),
                // One cancelled after it finished is not reported either: the engine has
                // already stopped counting it.
                Some(Ok((id, outcome))) => {
                    if self.aborts.remove(&(id, outcome.lane())).is_some() {
                        return Ok(self.report(id, outcome));
                    }
                }
                // An abandoned fetch: nobody waits for it.
                Some(Err(e)) if e.is_cancelled() => continue,
                Some(Err(e)) => return Err(format!("fetch: the request task failed: {e}")),
            }
        }
    }

    fn report(&mut self, id: u32, outcome: Outcome) -> HostReply {
        match outcome {
            Outcome::Head(result) => HostReply::FetchDone {
                id,
                result: result
                    .inspect_err(|_| {
                        // A failed fetch takes no more body.
                        self.sinks.remove(&id);
                    })
                    .map(|fetched| {
                        if let Some(rest) = fetched.rest {
                            self.bodies.insert(id, rest);
                        }
                        fetched.response
                    }),
            },
            Outcome::Piece(result, body) => {
                if matches!(result, Ok(Some(_))) {
                    self.bodies.insert(id, body);
                } else if self.request_body == Some(id) {
                    self.request_body_refused = body.refused_past();
                }
                HostReply::FetchChunk {
                    id,
                    result: result.map(|piece| piece.map(|b| b.to_vec())),
                }
            }
            Outcome::Sent(result) => HostReply::FetchSent { id, result },
        }
    }
}

#[cfg(test)]
mod in_flight_tests {
    use super::*;

    fn response(status: u16) -> Fetched {
        Fetched {
            response: FetchResponse {
                status,
                status_text: String::new(),
                url: "http://upstream/".into(),
                redirected: false,
                headers: Vec::new(),
                body: Vec::new(),
                more: false,
            },
            rest: None,
        }
    }

    fn body_of(text: &'static str, max: usize) -> BodyStream {
        BodyStream::new(
            Full::new(Bytes::from_static(text.as_bytes())),
            "fetch: the response body of http://upstream/".into(),
            "[net] max_response_bytes",
            max,
        )
        .with_deadline(Instant::now() + Duration::from_secs(5))
    }

    #[tokio::test]
    async fn finished_fetches_come_back_and_cancelled_ones_never_do() {
        let mut in_flight = InFlight::default();
        let slow = in_flight.start(
            async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(response(500))
            },
            None,
        );
        let fast = in_flight.start(async { Ok(response(200)) }, None);
        let failing = in_flight.start(async { Err("refused".to_owned()) }, None);
        in_flight.cancel(slow);
        let mut seen = Vec::new();
        for _ in 0..2 {
            match in_flight.next(Some(Duration::from_secs(5))).await.unwrap() {
                HostReply::FetchDone { id, result } => seen.push((id, result.map(|r| r.status))),
                other => panic!("unexpected {other:?}"),
            }
        }
        seen.sort_by_key(|(id, _)| *id);
        assert_eq!(
            seen,
            vec![(fast, Ok(200)), (failing, Err("refused".to_owned()))]
        );
        // Only the cancelled one is left: it is never reported.
        assert!(in_flight.next(None).await.is_err());
    }

    #[tokio::test]
    async fn waiting_stops_at_the_timeout() {
        let mut in_flight = InFlight::default();
        let id = in_flight.start(
            async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(response(204))
            },
            None,
        );
        let reply = in_flight
            .next(Some(Duration::from_millis(10)))
            .await
            .unwrap();
        assert_eq!(reply, HostReply::FetchTimedOut);
        let reply = in_flight.next(None).await.unwrap();
        assert!(matches!(reply, HostReply::FetchDone { id: got, result: Ok(_) } if got == id));
    }

    #[tokio::test]
    async fn a_streamed_body_is_read_piece_by_piece_until_it_ends() {
        let mut in_flight = InFlight::default();
        let id = in_flight.start(
            async {
                let mut fetched = response(200);
                fetched.response.more = true;
                fetched.rest = Some(body_of("rest of the body", 1024));
                Ok(fetched)
            },
            None,
        );
        let wait = Some(Duration::from_secs(5));
        assert!(matches!(
            in_flight.next(wait).await.unwrap(),
            HostReply::FetchDone {
                result: Ok(FetchResponse { more: true, .. }),
                ..
            }
        ));
        in_flight.read(id).unwrap();
        assert!(in_flight.read(id).is_err(), "one read at a time");
        assert_eq!(
            in_flight.next(wait).await.unwrap(),
            HostReply::FetchChunk {
                id,
                result: Ok(Some(b"rest of the body".to_vec()))
            }
        );
        in_flight.read(id).unwrap();
        assert_eq!(
            in_flight.next(wait).await.unwrap(),
            HostReply::FetchChunk {
                id,
                result: Ok(None)
            }
        );
        assert!(
            in_flight.read(id).is_err(),
            "an ended body has nothing more"
        );
    }

    #[tokio::test]
    async fn a_streamed_body_past_the_cap_fails_the_read_and_a_cancelled_one_is_closed() {
        let mut in_flight = InFlight::default();
        let mut ids = Vec::new();
        for _ in 0..2 {
            ids.push(in_flight.start(
                async {
                    let mut fetched = response(200);
                    fetched.response.more = true;
                    fetched.rest = Some(body_of("twelve bytes", 4));
                    Ok(fetched)
                },
                None,
            ));
        }
        let wait = Some(Duration::from_secs(5));
        for _ in 0..2 {
            in_flight.next(wait).await.unwrap();
        }
        in_flight.read(ids[0]).unwrap();
        match in_flight.next(wait).await.unwrap() {
            HostReply::FetchChunk {
                result: Err(message),
                ..
            } => {
                assert!(message.contains("max_response_bytes"), "{message}")
            }
            other => panic!("unexpected {other:?}"),
        }
        in_flight.cancel(ids[1]);
        assert!(in_flight.read(ids[1]).is_err());
    }

    #[tokio::test]
    async fn a_request_body_is_sent_piece_by_piece_beside_the_response() {
        let mut in_flight = InFlight::default();
        let (sink, mut body) = crate::body::channel();
        // The "upstream" answers only once it has the whole body.
        let id = in_flight.start(
            async move {
                let got = (&mut body).collect().await.map_err(|e| e.to_string())?;
                let mut fetched = response(200);
                fetched.response.body = got.to_bytes().to_vec();
                Ok(fetched)
            },
            Some(sink),
        );
        let wait = Some(Duration::from_secs(5));
        in_flight.send(id, Some(b"one ".to_vec())).unwrap();
        assert!(
            in_flight.send(id, Some(b"x".to_vec())).is_err(),
            "one send at a time"
        );
        assert_eq!(
            in_flight.next(wait).await.unwrap(),
            HostReply::FetchSent { id, result: Ok(()) }
        );
        in_flight.send(id, Some(b"two".to_vec())).unwrap();
        in_flight.next(wait).await.unwrap();
        in_flight.send(id, None).unwrap();
        let mut seen = Vec::new();
        for _ in 0..2 {
            seen.push(in_flight.next(wait).await.unwrap());
        }
        assert!(
            seen.contains(&HostReply::FetchSent { id, result: Ok(()) }),
            "{seen:?}"
        );
        assert!(
            seen.iter().any(|r| matches!(r, HostReply::FetchDone { result: Ok(res), .. } if res.body == b"one two")),
            "{seen:?}"
        );
        assert!(
            in_flight.send(id, Some(b"late".to_vec())).is_err(),
            "the body has ended"
        );
    }

    #[tokio::test]
    async fn cancelling_a_fetch_cuts_its_request_body_off() {
        let mut in_flight = InFlight::default();
        let (sink, body) = crate::body::channel();
        let id = in_flight.start(std::future::pending(), Some(sink));
        in_flight.send(id, Some(b"partial".to_vec())).unwrap();
        in_flight.next(Some(Duration::from_secs(5))).await.unwrap();
        in_flight.cancel(id);
        let got = body.collect().await;
        assert!(got.is_err(), "a cut-off body must not look complete");
        assert!(in_flight.send(id, None).is_err());
    }
}
