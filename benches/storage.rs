//! The cost of storage calls from JS, next to the same store used directly from Rust:
//! - `js/<op> x100`: one request (fresh instance) doing 100 `kv.get` of a 100-byte value,
//!   100 `kv.set`, 100 SQLite point lookups, 100 `crypto.subtle.digest` of 1 KiB, 100 `fetch`es
//!   to a keep-alive upstream on loopback, or 100 `await null` (`js/none x100`, the baseline).
//!   Per operation: (time − baseline) / 100.
//! - `rust/<op>`: one `SledKv::get`/`put` or `SqliteStore::run` point lookup, from Rust.
//!
//! `cargo bench --bench storage`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wisp_abi::hostcall::SqlValue;
use wisp_host::capabilities::Stores;
use wisp_host::config::Config;
use wisp_host::function::Loader;
use wisp_storage::kv::{Durability, Entry, KvLimits, KvStore, SledKv};
use wisp_storage::sqlite::SqliteStore;

const OPS: u64 = 100;

fn request(query: &str) -> wisp_abi::Request {
    wisp_abi::Request {
        method: "GET".into(),
        url: format!("http://127.0.0.1:8080/?{query}"),
        headers: vec![("host".into(), b"127.0.0.1:8080".to_vec())],
        client_addr: "127.0.0.1:50000".into(),
        request_id: "bench".into(),
        ..Default::default()
    }
}

fn from_js(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.cache.dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("bench-cache")
        .display()
        .to_string();
    config.storage.data_dir = data.path().display().to_string();
    let upstream = loopback_upstream();
    config.net.allow = vec![format!("127.0.0.1:{upstream}")];
    config.net.max_subrequests = 1000;
    let loader = Loader::new(&config).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut input = wisp_host::source::read(&root.join("benches/fixtures/storage.js"), vec![])
        .expect("reading the fixture");
    input.bindings = config.bindings();
    let mut f = rt
        .block_on(loader.load("bench", &input))
        .unwrap_or_else(|e| panic!("{e}"));
    f.grant = Some(Stores::new(&config).unwrap().grant("bench"));
    let invoke = |query: &str| {
        let resp = rt
            .block_on(f.invoke(&loader.runtime, request(query)))
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(
            resp.status,
            200,
            "{query}: {}",
            String::from_utf8_lossy(&resp.body)
        );
    };
    invoke("op=setup");
    let mut group = c.benchmark_group("storage");
    group.throughput(Throughput::Elements(OPS));
    for op in [
        "none",
        "kv-get",
        "kv-set",
        "sql-get",
        "digest-1k",
        "fetch",
        "fetch-parallel",
    ] {
        let query = format!("op={op}&n={OPS}&url=http://127.0.0.1:{upstream}/");
        invoke(&query);
        group.bench_function(format!("js/{op} x{OPS}"), |b| b.iter(|| invoke(&query)));
    }
    group.finish();
}

/// A keep-alive HTTP/1.1 server on loopback answering every request with `ok`: the far end of
/// the `fetch` benchmark (requests carry no body).
fn loopback_upstream() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => {
                            if out
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                                .is_err()
                            {
                                return;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    port
}

fn from_rust(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let kv = SledKv::open(
        &data.path().join("kv"),
        KvLimits::default(),
        Durability::Periodic(Duration::from_millis(500)),
        Duration::from_secs(60),
    )
    .unwrap();
    let value = Entry {
        value: vec![b'v'; 100],
        expires_at_ms: 0,
        metadata: None,
    };
    rt.block_on(kv.put("bench", "k100", value.clone())).unwrap();
    let sqlite = SqliteStore::new(
        &data.path().join("sqlite"),
        Default::default(),
        Duration::from_secs(5),
    );
    let far = || Instant::now() + Duration::from_secs(60);
    let stmt = |sql: &str, params: Vec<SqlValue>| vec![(sql.to_owned(), params)];
    rt.block_on(sqlite.run(
        "bench",
        "",
        stmt(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
            vec![],
        ),
        far(),
    ))
    .unwrap();
    for i in 1..=100 {
        rt.block_on(sqlite.run(
            "bench",
            "",
            stmt(
                "INSERT INTO users VALUES (?, ?)",
                vec![SqlValue::Integer(i), SqlValue::Text(format!("user {i}"))],
            ),
            far(),
        ))
        .unwrap();
    }
    let kv: Arc<dyn KvStore> = kv;
    let mut group = c.benchmark_group("storage");
    group.bench_function("rust/kv-get", |b| {
        b.iter(|| rt.block_on(kv.get("bench", "k100")).unwrap().unwrap())
    });
    let mut i = 0u64;
    group.bench_function("rust/kv-set", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(kv.put("bench", &format!("set:{}", i % 1000), value.clone()))
                .unwrap()
        })
    });
    let mut id = 0i64;
    group.bench_function("rust/sql-get", |b| {
        b.iter(|| {
            id = id % 100 + 1;
            rt.block_on(sqlite.run(
                "bench",
                "",
                stmt(
                    "SELECT id, name FROM users WHERE id = ?",
                    vec![SqlValue::Integer(id)],
                ),
                far(),
            ))
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, from_js, from_rust);
criterion_main!(benches);
