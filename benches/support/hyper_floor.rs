//! The floor: a native hyper server with the same routes as `js-examples/hello` (no JS, no
//! sandbox), run beside Wisp by `benches/load.sh` so both are measured in the same run.
//!
//! `cargo run --release --example hyper-floor -- 127.0.0.1:8090`

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

fn json(
    status: StatusCode,
    body: String,
    extra: &[(&'static str, &'static str)],
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    for (k, v) in extra {
        r.headers_mut().insert(*k, v.parse().unwrap());
    }
    r
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// `FLOOR_WORK_US=N`: each request also spins for N µs of CPU, standing in for a sandbox's
/// work, to show what the same server does at a given cost per request.
fn simulated_work() {
    static WORK: std::sync::LazyLock<std::time::Duration> = std::sync::LazyLock::new(|| {
        std::time::Duration::from_micros(
            std::env::var("FLOOR_WORK_US")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        )
    });
    if WORK.is_zero() {
        return;
    }
    let start = std::time::Instant::now();
    while start.elapsed() < *WORK {
        std::hint::spin_loop();
    }
}

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    simulated_work();
    let route = (req.method().clone(), req.uri().path().to_owned());
    Ok(match (&route.0, route.1.as_str()) {
        (&Method::GET, "/api/hello") => json(
            StatusCode::OK,
            serde_json::json!({
                "message": "Hello from WasmEdge QuickJS!",
                "timestamp": now_ms() as u64,
                "region": std::env::var("EDGE_REGION").unwrap_or_else(|_| "unknown".into()),
            })
            .to_string(),
            &[
                ("cache-control", "max-age=60"),
                ("x-edge-runtime", "native-hyper"),
            ],
        ),
        (&Method::POST, "/api/transform") => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            match serde_json::from_slice::<serde_json::Value>(&body) {
                Ok(data) => {
                    let upper = data["name"].as_str().map(str::to_uppercase);
                    json(
                        StatusCode::OK,
                        serde_json::json!({
                            "original": data,
                            "processed": true,
                            "uppercase_name": upper,
                            "timestamp": now_ms() as u64,
                        })
                        .to_string(),
                        &[],
                    )
                }
                Err(e) => json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({ "error": e.to_string() }).to_string(),
                    &[],
                ),
            }
        }
        (&Method::GET, "/api/health") => json(
            StatusCode::OK,
            r#"{"status":"ok","runtime":"native"}"#.into(),
            &[],
        ),
        _ => json(
            StatusCode::NOT_FOUND,
            r#"{"error":"not found"}"#.into(),
            &[],
        ),
    })
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("binding");
    println!(
        "hyper-floor: serving on http://{}",
        listener.local_addr().unwrap()
    );
    loop {
        let (stream, _) = listener.accept().await.expect("accept");
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .await;
        });
    }
}
