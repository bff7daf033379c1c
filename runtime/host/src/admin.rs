//! The admin API of `wisp serve`, on its own listener (`[admin] listen`): deploys, versions,
//! rollbacks, deletes, logs and `/metrics`. Every call needs `Authorization: Bearer TOKEN`
//! when a token is configured (compared in constant time); without one the server only binds
//! the admin API to a loopback address (see [`check_exposure`]). Reference: `docs/api.md`.

use crate::platform::{ChangeError, Platform};
use crate::registry::Settings;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Every API path starts with this.
pub const API_PREFIX: &str = "/_wisp/api/v1";
/// The header that carries a deploy's settings, as JSON (see [`Settings`]).
pub const SETTINGS_HEADER: &str = "x-wisp-settings";

pub type AdminBody = BoxBody<Bytes, Infallible>;
type Response = hyper::Response<AdminBody>;

pub struct Admin {
    pub platform: Arc<Platform>,
    /// SHA-256 of the token: comparing digests takes the same time whatever the lengths.
    token: Option<[u8; 32]>,
    /// Set at shutdown: ends streamed logs, which would otherwise hold the shutdown open.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Admin {
    pub fn new(platform: Arc<Platform>, token: Option<String>) -> Admin {
        Admin {
            platform,
            token: token.map(|t| Sha256::digest(t.as_bytes()).into()),
            stopping: tokio::sync::watch::channel(false).0,
        }
    }

    /// Whether the request carries the right token (or none is needed).
    fn authorized(&self, req: &hyper::Request<Incoming>) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let given = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        token_matches(expected, given)
    }
}

/// Constant-time comparison of `given` with the digest of the expected token.
pub fn token_matches(expected_digest: &[u8; 32], given: &str) -> bool {
    use subtle::ConstantTimeEq;
    let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
    bool::from(digest.ct_eq(expected_digest)) && !given.is_empty()
}

/// Without a token, the admin API must not be reachable from other machines.
pub fn check_exposure(addr: SocketAddr, token: Option<&str>) -> anyhow::Result<()> {
    if token.is_none() && !addr.ip().is_loopback() {
        anyhow::bail!(
            "[admin] listen: {addr} is not a loopback address and no admin token is set; \
             set [admin] token or WISP_ADMIN_TOKEN, or listen on 127.0.0.1"
        );
    }
    Ok(())
}

/// Accepts admin connections until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    admin: Arc<Admin>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> anyhow::Result<()> {
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
                    tracing::warn!("admin accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let admin = admin.clone();
        let service = service_fn(move |req| {
            let admin = admin.clone();
            async move { Ok::<_, Infallible>(handle(&admin, req).await) }
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%client, "admin connection ended: {e}");
            }
        });
    }
    admin.stopping.send_replace(true);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(grace) => {},
    }
    Ok(())
}

async fn handle(admin: &Admin, req: hyper::Request<Incoming>) -> Response {
    if !admin.authorized(&req) {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid `Authorization: Bearer TOKEN` header is required",
        );
        r.headers_mut()
            .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        return r;
    }
    let path = req.uri().path().to_owned();
    let platform = &admin.platform;
    if path == "/metrics" || path == format!("{API_PREFIX}/metrics") {
        let mut r = text(StatusCode::OK, platform.metrics.render());
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return r;
    }
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such endpoint");
    };
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let method = req.method().clone();
    let result = match (&method, segments.as_slice()) {
        (&Method::GET, ["functions"]) => platform.list().map(|v| json(StatusCode::OK, &v)),
        (&Method::GET, ["functions", name]) => {
            platform.describe(name).map(|v| json(StatusCode::OK, &v))
        }
        (&Method::PUT, ["functions", name]) => {
            let name = name.to_string();
            deploy(platform, &name, req).await
        }
        (&Method::DELETE, ["functions", name]) => platform
            .delete(name)
            .await
            .map(|()| json(StatusCode::OK, &serde_json::json!({ "deleted": name }))),
        (&Method::POST, ["functions", name, "rollback"]) => {
            let name = name.to_string();
            rollback(platform, &name, req).await
        }
        (&Method::GET, ["functions", name, "logs"]) => {
            logs(platform, name, &req, admin.stopping.subscribe())
        }
        (_, ["functions"] | ["functions", _] | ["functions", _, "rollback" | "logs"]) => Ok(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            &format!("{method} is not allowed on {path}"),
        )),
        _ => Ok(error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint",
        )),
    };
    result.unwrap_or_else(|e| match e {
        ChangeError::Invalid(m) => error(StatusCode::BAD_REQUEST, "invalid", &m),
        ChangeError::NotFound(m) => error(StatusCode::NOT_FOUND, "not_found", &m),
        ChangeError::Internal(e) => {
            tracing::error!("admin {method} {path}: {e:#}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &format!("{e:#}"),
            )
        }
    })
}

async fn deploy(
    platform: &Arc<Platform>,
    name: &str,
    req: hyper::Request<Incoming>,
) -> Result<Response, ChangeError> {
    let settings: Settings = match req.headers().get(SETTINGS_HEADER) {
        Some(v) => {
            let text = v.to_str().map_err(|_| {
                ChangeError::Invalid(format!("{SETTINGS_HEADER}: not ASCII (escape as \\uXXXX)"))
            })?;
            serde_json::from_str(text)
                .map_err(|e| ChangeError::Invalid(format!("{SETTINGS_HEADER}: {e}")))?
        }
        None => Settings::default(),
    };
    let limit = platform.config.admin.max_upload_bytes;
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!(
                "the upload is larger than the limit of {limit} bytes ([admin] max_upload_bytes)"
            ),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Ok(too_large());
    }
    let body = match Limited::new(req.into_body(), limit as usize)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Ok(too_large()),
        Err(e) => return Err(ChangeError::Invalid(format!("reading the upload: {e}"))),
    };
    if body.is_empty() {
        return Err(ChangeError::Invalid("the upload is empty".into()));
    }
    let report = platform.deploy(name, body, settings).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::to_value(report).unwrap_or_default(),
    ))
}

async fn rollback(
    platform: &Arc<Platform>,
    name: &str,
    req: hyper::Request<Incoming>,
) -> Result<Response, ChangeError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        version: u64,
    }
    let body = Limited::new(req.into_body(), 4096)
        .collect()
        .await
        .map_err(|e| ChangeError::Invalid(format!("reading the body: {e}")))?
        .to_bytes();
    let Body { version } = serde_json::from_slice(&body).map_err(|e| {
        ChangeError::Invalid(format!("expected a body like {{\"version\": 2}}: {e}"))
    })?;
    let report = platform.rollback(name, version).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::to_value(report).unwrap_or_default(),
    ))
}

fn logs(
    platform: &Arc<Platform>,
    name: &str,
    req: &hyper::Request<Incoming>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> Result<Response, ChangeError> {
    crate::registry::validate_name(name).map_err(|e| ChangeError::Invalid(e.to_string()))?;
    if platform.registry.active(name)?.is_none() {
        return Err(ChangeError::NotFound(format!("no function named {name}")));
    }
    let follow = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .any(|kv| kv == "follow=1" || kv == "follow=true" || kv == "follow");
    let hub = crate::logs::hub();
    // Subscribed before the recent lines are read: a line may then appear twice, never not.
    let live = follow.then(|| hub.subscribe());
    let mut recent = String::new();
    for line in hub.recent(name) {
        recent.push_str(&line);
        recent.push('\n');
    }
    let body: AdminBody = match live {
        None => Full::new(Bytes::from(recent)).boxed(),
        Some(mut live) => {
            let (tx, rx) = mpsc::channel::<Bytes>(256);
            let name: Arc<str> = Arc::from(name);
            tokio::spawn(async move {
                if tx.send(Bytes::from(recent)).await.is_err() {
                    return;
                }
                loop {
                    let next = tokio::select! {
                        next = live.recv() => next,
                        // The client went away: stop following.
                        () = tx.closed() => return,
                        _ = stopping.wait_for(|s| *s) => return,
                    };
                    match next {
                        Ok((function, line)) if function == name => {
                            let mut l = line.to_string();
                            l.push('\n');
                            if tx.send(Bytes::from(l)).await.is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            let note = format!("[wisp] {n} log lines skipped (reader too slow)\n");
                            if tx.send(Bytes::from(note)).await.is_err() {
                                return;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
            StreamBody(rx).boxed()
        }
    };
    let mut r = hyper::Response::new(body);
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(r)
}

/// A response body fed by a channel (streamed logs).
struct StreamBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for StreamBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

fn text(status: StatusCode, body: String) -> Response {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)).boxed());
    *r.status_mut() = status;
    r
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut r = text(status, body.to_string());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    json(
        status,
        &serde_json::json!({ "error": message, "kind": kind }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_digest() {
        let expected: [u8; 32] = Sha256::digest(b"s3cret-token").into();
        assert!(token_matches(&expected, "s3cret-token"));
        for wrong in [
            "",
            "s3cret",
            "s3cret-token ",
            "S3CRET-TOKEN",
            "s3cret-tokem",
        ] {
            assert!(!token_matches(&expected, wrong), "{wrong:?} accepted");
        }
    }

    #[test]
    fn no_token_means_loopback_only() {
        let lo: SocketAddr = "127.0.0.1:8081".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8081".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8081".parse().unwrap();
        assert!(check_exposure(lo, None).is_ok());
        assert!(check_exposure(lo6, None).is_ok());
        let e = check_exposure(any, None).unwrap_err();
        assert!(e.to_string().contains("WISP_ADMIN_TOKEN"), "{e}");
        assert!(check_exposure(any, Some("t")).is_ok());
    }
}
