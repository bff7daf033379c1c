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
//! Response bodies stream: what has arrived with the head comes back with it, and when that is
//! not the whole body the rest stays here as a [`BodyStream`] that the engine reads piece by
//! piece (`HostCall::FetchRead`), so a function can pass a large or endless upstream body on to
//! its client without holding it.
//!
//! Errors are strings because they become the message of the JS `TypeError` that `fetch`
//! rejects with; they say what was refused and what to change.

use crate::config::NetConfig;
use crate::net::AllowList;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, HeaderName, HeaderValue, LOCATION};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use url::Url;
use wisp_abi::hostcall::{FetchRequest, FetchResponse, HostReply, Redirect};

/// What the head carries of a body at most; the rest streams.
const FIRST_PIECE_BYTES: usize = 256 * 1024;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// The server's outbound HTTP client and its limits.
pub struct Outbound {
    client: Client<Connector, Full<Bytes>>,
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
    /// subrequests its incoming request has left), before `deadline`.
    pub async fn fetch(
        &self,
        allow: &AllowList,
        req: FetchRequest,
        budget: &AtomicU32,
        deadline: Instant,
    ) -> Result<Fetched, String> {
        let now = Instant::now();
        let deadline = deadline.min(now + self.timeout);
        let limit = deadline.saturating_duration_since(now);
        let work = self.follow(allow, req, budget, deadline);
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
        budget: &AtomicU32,
        deadline: Instant,
    ) -> Result<Fetched, String> {
        let FetchRequest {
            mut method,
            url,
            mut headers,
            mut body,
            redirect,
        } = req;
        let mut url = Url::parse(&url).map_err(|e| format!("fetch: invalid URL {url:?}: {e}"))?;
        let mut hops = 0;
        loop {
            self.check(allow, &url, budget)?;
            let response = self.send(&method, &url, &headers, body.clone()).await?;
            let status = response.status();
            let location = response.headers().get(LOCATION).cloned();
            let is_redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
            if !is_redirect || redirect == Redirect::Manual || location.is_none() {
                return self.finish(response, &url, hops > 0, deadline).await;
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
            let next = location
                .to_str()
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
        body: Option<Vec<u8>>,
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
            // Framing is the client's business; `Host` follows the URL.
            if !matches!(
                n.as_str(),
                "host" | "content-length" | "transfer-encoding" | "connection" | "keep-alive"
            ) {
                out.append(n, v);
            }
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("fetch: {e}"))?;
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
        url: &Url,
        redirected: bool,
        deadline: Instant,
    ) -> Result<Fetched, String> {
        let (parts, body) = response.into_parts();
        let length = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if length.is_some_and(|n| n > self.max_response_bytes as u64) {
            return Err(self.too_large(url));
        }
        let mut rest = BodyStream {
            body: body.map_err(|e| e.to_string()).boxed(),
            url: url.to_string(),
            deadline: deadline.into(),
            left: self.max_response_bytes,
            max: self.max_response_bytes,
        };
        let mut first = Vec::new();
        let mut ended = false;
        // A small body with a known length is worth waiting for: one round trip instead of a
        // stream. Anything else takes only what is already here.
        let wait = length.is_some_and(|n| n <= FIRST_PIECE_BYTES as u64);
        while first.len() < FIRST_PIECE_BYTES {
            let piece = if wait {
                rest.read().await?
            } else {
                match now_or_never(rest.read()) {
                    Some(piece) => piece?,
                    None => break,
                }
            };
            match piece {
                Some(bytes) => first.extend_from_slice(&bytes),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        let response = FetchResponse {
            status: parts.status.as_u16(),
            status_text: parts.status.canonical_reason().unwrap_or("").to_owned(),
            url: url.to_string(),
            redirected,
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: first,
            more: !ended,
        };
        Ok(Fetched {
            response,
            rest: (!ended).then_some(rest),
        })
    }

    fn too_large(&self, url: &Url) -> String {
        too_large(url.as_str(), self.max_response_bytes)
    }
}

fn too_large(url: &str, max: usize) -> String {
    format!(
        "fetch: the response body of {url} is larger than {max} bytes ([net] max_response_bytes)"
    )
}

/// Polls `future` once: its output if it is ready now.
fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => None,
    }
}

/// A fetch's outcome: the response, and the rest of its body when that is still arriving.
pub struct Fetched {
    pub response: FetchResponse,
    pub rest: Option<BodyStream>,
}

/// The part of a response body that has not arrived yet, read piece by piece as the function
/// asks, under the fetch's deadline and size cap.
pub struct BodyStream {
    body: BoxBody<Bytes, String>,
    url: String,
    deadline: tokio::time::Instant,
    /// Bytes still allowed under `[net] max_response_bytes`.
    left: usize,
    max: usize,
}

impl BodyStream {
    /// The next piece of data; `None` at the end.
    pub async fn read(&mut self) -> Result<Option<Bytes>, String> {
        loop {
            let frame = match tokio::time::timeout_at(self.deadline, self.body.frame()).await {
                Err(_) => {
                    return Err(format!(
                        "fetch: the body of {} did not arrive within the fetch's time limit \
                         ([net] timeout_ms, or the rest of the request's)",
                        self.url
                    ));
                }
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => {
                    return Err(format!("fetch: reading the body of {}: {e}", self.url));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            // Trailers are not passed on (the Fetch API has none).
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            if data.len() > self.left {
                return Err(too_large(&self.url, self.max));
            }
            self.left -= data.len();
            return Ok(Some(data));
        }
    }
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
/// from them: they run at the same time, as tokio tasks, while the engine runs other JS; the
/// engine collects their outcomes one by one (`HostCall::FetchWait`). Dropping this (the
/// instance ends) aborts whatever still runs and closes every body.
#[derive(Default)]
pub struct InFlight {
    tasks: tokio::task::JoinSet<(u32, Outcome)>,
    /// The fetches with work in `tasks`: started, or reading a piece of their body.
    aborts: HashMap<u32, tokio::task::AbortHandle>,
    /// Bodies with more to read and no read running.
    bodies: HashMap<u32, BodyStream>,
    next_id: u32,
}

enum Outcome {
    Head(Result<Fetched, String>),
    /// A piece of a body, and the body to keep reading.
    Piece(Result<Option<Bytes>, String>, BodyStream),
}

impl InFlight {
    /// Runs `work` in the background; returns the id its outcome will carry.
    pub fn start(
        &mut self,
        work: impl Future<Output = Result<Fetched, String>> + Send + 'static,
    ) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let handle = self
            .tasks
            .spawn(async move { (id, Outcome::Head(work.await)) });
        self.aborts.insert(id, handle);
        id
    }

    /// Starts reading the next piece of fetch `id`'s body; it comes back from [`Self::next`].
    pub fn read(&mut self, id: u32) -> Result<(), String> {
        let Some(mut body) = self.bodies.remove(&id) else {
            return Err(if self.aborts.contains_key(&id) {
                "fetch: a read of this body is already running".into()
            } else {
                "fetch: this response has no more body to read".into()
            });
        };
        let handle = self.tasks.spawn(async move {
            let piece = body.read().await;
            (id, Outcome::Piece(piece, body))
        });
        self.aborts.insert(id, handle);
        Ok(())
    }

    /// Abandons fetch `id` (its `AbortSignal` fired, or its body stream was cancelled):
    /// running work is aborted and its body closed; unknown or finished ids are ignored.
    pub fn cancel(&mut self, id: u32) {
        if let Some(handle) = self.aborts.remove(&id) {
            handle.abort();
        }
        self.bodies.remove(&id);
    }

    /// The next outcome (a response, or a piece of a body), waiting at most `timeout` (none:
    /// until one comes).
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
                    if self.aborts.remove(&id).is_some() {
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
                result: result.map(|fetched| {
                    if let Some(rest) = fetched.rest {
                        self.bodies.insert(id, rest);
                    }
                    fetched.response
                }),
            },
            Outcome::Piece(result, body) => {
                if matches!(result, Ok(Some(_))) {
                    self.bodies.insert(id, body);
                }
                HostReply::FetchChunk {
                    id,
                    result: result.map(|piece| piece.map(|b| b.to_vec())),
                }
            }
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
        BodyStream {
            body: Full::new(Bytes::from_static(text.as_bytes()))
                .map_err(|never| match never {})
                .boxed(),
            url: "http://upstream/".into(),
            deadline: tokio::time::Instant::now() + Duration::from_secs(5),
            left: max,
            max,
        }
    }

    #[tokio::test]
    async fn finished_fetches_come_back_and_cancelled_ones_never_do() {
        let mut in_flight = InFlight::default();
        let slow = in_flight.start(async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(response(500))
        });
        let fast = in_flight.start(async { Ok(response(200)) });
        let failing = in_flight.start(async { Err("refused".to_owned()) });
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
        let id = in_flight.start(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok(response(204))
        });
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
        let id = in_flight.start(async {
            let mut fetched = response(200);
            fetched.response.more = true;
            fetched.rest = Some(body_of("rest of the body", 1024));
            Ok(fetched)
        });
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
            ids.push(in_flight.start(async {
                let mut fetched = response(200);
                fetched.response.more = true;
                fetched.rest = Some(body_of("twelve bytes", 4));
                Ok(fetched)
            }));
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
}
