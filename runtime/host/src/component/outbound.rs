//! Outbound HTTP from components (`wasi:http/outgoing-handler`): every request is checked
//! against the server's allowlist (the same one JS `fetch` obeys) before a connection is made;
//! anything not allowed fails with `HTTP-request-denied`. Allowed requests are sent over
//! HTTP/1.1 by hyper, `https` through rustls with the same roots as JS `fetch` (`crate::tls`).

use http::uri::Scheme;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Which `host:port` pairs a function may reach.
pub type Allow = Arc<dyn Fn(&str, u16) -> bool + Send + Sync>;

/// The hooks of one request's wasi:http context.
pub struct Outbound {
    pub allow: Allow,
    pub tls: Arc<rustls::ClientConfig>,
    pub function: Arc<str>,
    pub request_id: String,
}

/// Nothing is allowed (the default, as for JS `fetch`).
pub fn deny_all() -> Allow {
    Arc::new(|_, _| false)
}

/// What the server's allowlist (`[net] allow`, `--allow-net`) permits.
pub fn from_allowlist(list: crate::net::AllowList) -> Allow {
    Arc::new(move |host, port| list.allows(host, port))
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

impl WasiHttpHooks for Outbound {
    fn is_supported_scheme(&mut self, scheme: &Scheme) -> bool {
        *scheme == Scheme::HTTP || *scheme == Scheme::HTTPS
    }

    fn default_scheme(&mut self) -> Option<Scheme> {
        Some(Scheme::HTTP)
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_done: IoFuture,
    ) -> SendFuture {
        let uri = request.uri().clone();
        let host = uri.host().unwrap_or_default().to_owned();
        let tls = (uri.scheme() == Some(&Scheme::HTTPS)).then(|| self.tls.clone());
        let port = uri
            .port_u16()
            .unwrap_or(if tls.is_some() { 443 } else { 80 });
        if !(self.allow)(&host, port) {
            tracing::warn!(
                function = &*self.function,
                request_id = self.request_id,
                "outbound request to {host}:{port} denied: not in the allowlist ([net] allow / --allow-net)"
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        Box::new(send(request, host, port, tls, options))
    }
}

async fn send(
    request: http::Request<WasiBody>,
    host: String,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
    options: Option<RequestOptions>,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(Duration::from_secs(10));
    // An IPv6 literal without its brackets, as a socket address and a TLS name take it.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .map_or(host.clone(), str::to_owned);
    let connect = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(Error::Connect)?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = tls else {
            return Ok(Stream::Plain(tcp));
        };
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| {
                // The guest only sees an error code: the reason goes to the log.
                tracing::warn!("outbound TLS handshake with {host}:{port} failed: {e}");
                Error::Tls(e)
            })?;
        Ok(Stream::Tls(Box::new(stream)))
    };
    match tokio::time::timeout(connect_timeout, connect).await {
        Ok(Ok(Stream::Plain(s))) => exchange(s, request).await,
        Ok(Ok(Stream::Tls(s))) => exchange(*s, request).await,
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::ConnectionTimeout),
    }
}

enum Stream {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

/// One HTTP/1.1 request on a fresh connection.
async fn exchange<S>(
    stream: S,
    mut request: http::Request<WasiBody>,
) -> Result<(http::Response<WasiBody>, IoFuture), Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use http_body_util::BodyExt;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(Error::Hyper)?;
    // The request line carries only the path: the authority is in the Host header.
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(
            request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/"),
        )
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    // The connection is driven by its own task; it ends when the response body is dropped or
    // read to the end, which can outlive the guest's request.
    let driver = tokio::spawn(conn);
    let response = sender.send_request(request).await.map_err(Error::Hyper)?;
    let response = response.map(|body| body.map_err(Error::Hyper).boxed_unsync());
    let io: IoFuture = Box::new(async move {
        match driver.await {
            Ok(r) => r.map_err(Error::Hyper),
            Err(_) => Err(Error::ConnectionTerminated),
        }
    });
    Ok((response, io))
}
