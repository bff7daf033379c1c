//! The WasmEdge article's Rust edge function, ported to the standard `wasi:http/proxy` world.
//!
//! - `GET /api/geo`: where the edge is (JSON, cacheable for 5 minutes)
//! - `POST /api/process`: the body with 1 added to every byte
//! - `GET /api/health`: status, runtime, version and the time
//! - `GET /api/hello`: a plain greeting (the benchmarks' hello route)
//! - `GET|PUT|DELETE /api/kv/<key>`: the function's KV namespace, through Wisp's `wisp:edge`
//!   (the same data its JavaScript twin sees through `env.KV` or `wasmedge-kv`)
//! - `POST /api/notes` (the body is a note) / `GET /api/notes`: the function's SQLite database,
//!   through `wisp:edge`
//! - anything else: 404
//!
//! Build: `cargo build --release --target wasm32-wasip2`; serve:
//! `wisp run target/wasm32-wasip2/release/edge_handler.wasm`.

use serde::Serialize;
use std::io::{Read, Write};
use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

mod edge {
    wit_bindgen::generate!({ path: "../../wit", world: "wisp:edge/imports" });
}
use edge::wisp::edge::{kv, sqlite};

#[derive(Serialize)]
struct GeoInfo {
    country: String,
    city: String,
    latency_ms: u64,
}

/// A response before it is sent.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: body.into(),
        }
    }

    fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply::new(status, "application/json", value.to_string())
    }
}

struct Handler;

impl wasi::exports::http::incoming_handler::Guest for Handler {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let reply = route(&request);
        send(out, reply);
    }
}

wasi::http::proxy::export!(Handler);

fn route(request: &IncomingRequest) -> Reply {
    let path_and_query = request.path_with_query().unwrap_or_else(|| "/".into());
    let path = path_and_query.split('?').next().unwrap_or("/");
    match (request.method(), path) {
        (Method::Get, "/api/geo") => {
            let geo = GeoInfo {
                country: "TW".to_string(),
                city: "Taipei".to_string(),
                latency_ms: 3,
            };
            let mut r = Reply::new(
                200,
                "application/json",
                serde_json::to_vec(&geo).unwrap_or_default(),
            );
            r.headers.push(("cache-control", "max-age=300".into()));
            r
        }
        (Method::Post, "/api/process") => match read_body(request) {
            Ok(input) => Reply::new(200, "application/octet-stream", process_data(&input)),
            Err(e) => Reply::json(400, &serde_json::json!({ "error": e })),
        },
        (Method::Get, "/api/health") => Reply::json(
            200,
            &serde_json::json!({
                "status": "healthy",
                "runtime": "wisp",
                "version": env!("CARGO_PKG_VERSION"),
                "timestamp": rfc3339_now(),
            }),
        ),
        (Method::Get, "/api/hello") => Reply::new(200, "text/plain", "Hello from Rust on Wisp!"),
        (Method::Post, "/api/notes") => match read_body(request) {
            Ok(body) => add_note(&String::from_utf8_lossy(&body)),
            Err(e) => Reply::json(400, &serde_json::json!({ "error": e })),
        },
        (Method::Get, "/api/notes") => list_notes(),
        (method, p) if p.starts_with("/api/kv/") => {
            kv_route(request, method, &p["/api/kv/".len()..])
        }
        _ => Reply::json(404, &serde_json::json!({ "error": "not found" })),
    }
}

/// The function's KV namespace over HTTP: GET reads, PUT stores the body, DELETE removes.
fn kv_route(request: &IncomingRequest, method: Method, key: &str) -> Reply {
    if key.is_empty() {
        return Reply::json(400, &serde_json::json!({ "error": "missing key" }));
    }
    let result = match method {
        Method::Get => kv::get(key).map(|v| match v {
            Some(value) => Reply::new(200, "application/octet-stream", value),
            None => Reply::json(
                404,
                &serde_json::json!({ "error": "no such key", "key": key }),
            ),
        }),
        Method::Put | Method::Post => match read_body(request) {
            Ok(body) => kv::put(key, &body, 0)
                .map(|()| Reply::json(200, &serde_json::json!({ "stored": key }))),
            Err(e) => Ok(Reply::json(400, &serde_json::json!({ "error": e }))),
        },
        Method::Delete => {
            kv::delete(key).map(|()| Reply::json(200, &serde_json::json!({ "deleted": key })))
        }
        _ => Ok(Reply::json(
            405,
            &serde_json::json!({ "error": "method not allowed" }),
        )),
    };
    result.unwrap_or_else(|e| Reply::json(500, &serde_json::json!({ "error": e })))
}

const NOTES_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)";

/// Stores a note in the function's own SQLite database ("" = its own).
fn add_note(text: &str) -> Reply {
    let result = sqlite::execute("", NOTES_TABLE, &[]).and_then(|_| {
        sqlite::execute(
            "",
            "INSERT INTO notes (text) VALUES (?)",
            &[sqlite::Value::Text(text.to_owned())],
        )
    });
    match result {
        Ok(c) => Reply::json(201, &serde_json::json!({ "id": c.last_insert_rowid })),
        Err(e) => Reply::json(500, &serde_json::json!({ "error": e })),
    }
}

fn list_notes() -> Reply {
    let result = sqlite::execute("", NOTES_TABLE, &[])
        .and_then(|_| sqlite::query("", "SELECT id, text FROM notes ORDER BY id", &[]));
    match result {
        Ok(rows) => {
            let notes: Vec<serde_json::Value> = rows
                .rows
                .into_iter()
                .map(|row| match row.as_slice() {
                    [sqlite::Value::Integer(id), sqlite::Value::Text(text)] => {
                        serde_json::json!({ "id": id, "text": text })
                    }
                    _ => serde_json::Value::Null,
                })
                .collect();
            Reply::json(200, &serde_json::json!(notes))
        }
        Err(e) => Reply::json(500, &serde_json::json!({ "error": e })),
    }
}

fn process_data(input: &[u8]) -> Vec<u8> {
    input.iter().map(|b| b.wrapping_add(1)).collect()
}

fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, String> {
    let body = request
        .consume()
        .map_err(|()| "the body was already taken".to_string())?;
    let mut bytes = Vec::new();
    {
        let mut stream = body.stream().map_err(|()| "no body stream".to_string())?;
        stream
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading the body: {e}"))?;
    }
    Ok(bytes)
}

fn send(out: ResponseOutparam, reply: Reply) {
    let headers = Fields::new();
    for (name, value) in &reply.headers {
        let _ = headers.append(name, value.as_bytes());
    }
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(reply.status);
    let Ok(body) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    {
        let Ok(mut stream) = body.write() else {
            return;
        };
        if stream
            .write_all(&reply.body)
            .and_then(|()| Write::flush(&mut stream))
            .is_err()
        {
            return;
        }
    }
    let _ = OutgoingBody::finish(body, None);
}

/// Now as RFC 3339 (UTC, seconds).
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
