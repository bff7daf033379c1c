//! Micro-costs of the request path, measured in-process with criterion:
//! - `trivial`: instantiate the snapshot + call a handler returning `new Response('ok')` + drop;
//! - `hello`: the same for the WasmEdge article's `/api/hello` handler (URL parsing, JSON, an
//!   EdgeResponse with three headers);
//! - `transform`: the article's `POST /api/transform` (JSON body parsed and re-serialised).
//!
//! - `component-*`: the Rust fast path: `rust-examples/edge-handler` (built here for
//!   wasm32-wasip2) as a wasi:http component: instantiate + drop, and `GET /api/hello`
//!   (instantiate + call + read the response + drop).
//!
//! `cargo bench --bench instantiate` (`-- component` for the component cases only)

use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;
use wisp_host::config::Config;
use wisp_host::function::{Function, Loader};

fn load(rt: &tokio::runtime::Runtime, loader: &Loader, path: &str) -> Function {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let input = wisp_host::source::read(
        &root.join(path),
        vec![("EDGE_REGION".into(), "bench".into())],
    )
    .expect("reading the function");
    rt.block_on(loader.load("bench", &input))
        .unwrap_or_else(|e| panic!("loading {path}: {e}"))
}

fn request(method: &str, path: &str, body: &[u8]) -> wisp_abi::Request {
    wisp_abi::Request {
        method: method.into(),
        url: format!("http://127.0.0.1:8080{path}"),
        headers: vec![
            ("host".into(), b"127.0.0.1:8080".to_vec()),
            ("user-agent".into(), b"criterion".to_vec()),
            ("accept".into(), b"*/*".to_vec()),
        ],
        body: body.to_vec(),
        client_addr: "127.0.0.1:50000".into(),
        request_id: "bench".into(),
        ..Default::default()
    }
}

fn per_request(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut config = Config::default();
    config.cache.dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("bench-cache")
        .display()
        .to_string();
    let loader = Loader::new(&config).unwrap();
    // `WISP_BENCH_JS=path/to/handler.js` adds a case for any handler (GET /, or POST / with
    // `WISP_BENCH_BODY` as the body), so that a change to the polyfills or a user's function can
    // be measured without editing this file.
    let extra = std::env::var("WISP_BENCH_JS").ok().map(|p| {
        let p: &'static str = Box::leak(p.into_boxed_str());
        match std::env::var("WISP_BENCH_BODY") {
            Ok(body) => (
                "custom",
                p,
                "POST",
                "/",
                &*Box::leak(body.into_bytes().into_boxed_slice()),
            ),
            Err(_) => ("custom", p, "GET", "/", &b""[..]),
        }
    });
    let cases = [
        (
            "trivial",
            "benches/fixtures/trivial.js",
            "GET",
            "/",
            &b""[..],
        ),
        (
            "hello",
            "js-examples/hello/index.js",
            "GET",
            "/api/hello",
            &b""[..],
        ),
        (
            "transform",
            "js-examples/hello/index.js",
            "POST",
            "/api/transform",
            &br#"{"name":"wisp","tags":["a","b"]}"#[..],
        ),
    ];
    // `WISP_BENCH_LOOP=case:N` serves that case N times and exits, without criterion: a fixed
    // amount of work for `perf stat` (`task-clock` on VMs without hardware counters, such as
    // this one; `instructions:u`, which varies far less between runs, where there are some).
    let fixed_loop = std::env::var("WISP_BENCH_LOOP").ok().map(|v| {
        let (case, n) = v.split_once(':').expect("WISP_BENCH_LOOP=case:N");
        (
            case.to_owned(),
            n.parse::<u64>().expect("WISP_BENCH_LOOP=case:N"),
        )
    });
    let mut group = c.benchmark_group("instantiate+call+drop");
    for (name, path, method, url, body) in cases.into_iter().chain(extra) {
        if fixed_loop.as_ref().is_some_and(|(case, _)| case != name) {
            continue;
        }
        let f = load(&rt, &loader, path);
        // Fail loudly rather than benchmark an error path.
        let resp = rt
            .block_on(f.invoke(&loader.runtime, request(method, url, body)))
            .unwrap();
        assert_eq!(resp.status, 200, "{name}");
        if let Some((_, n)) = fixed_loop {
            let start = std::time::Instant::now();
            for _ in 0..n {
                let resp = rt
                    .block_on(f.invoke(&loader.runtime, request(method, url, body)))
                    .unwrap();
                assert_eq!(resp.status, 200);
            }
            eprintln!(
                "wisp: {name}: {n} requests, {:.1} µs each",
                start.elapsed().as_secs_f64() * 1e6 / n as f64
            );
            std::process::exit(0);
        }
        if name == "trivial" {
            group.bench_function("instantiate-only", |b| {
                b.iter(|| {
                    rt.block_on(f.instantiate_and_drop(&loader.runtime))
                        .unwrap()
                })
            });
        }
        group.bench_function(name, |b| {
            b.iter(|| {
                let resp = rt
                    .block_on(f.invoke(&loader.runtime, request(method, url, body)))
                    .unwrap();
                assert_eq!(resp.status, 200);
                resp
            })
        });
    }
    group.finish();
}

/// Builds the example component (like tests/common's helper) and returns its path.
fn example_component() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasm32-wasip2");
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args([
            "build",
            "--release",
            "-q",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(root.join("rust-examples/edge-handler"))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("running cargo build for wasm32-wasip2");
    assert!(
        status.success(),
        "building rust-examples/edge-handler failed"
    );
    target.join("wasm32-wasip2/release/edge_handler.wasm")
}

fn component(c: &mut Criterion) {
    use wisp_host::component::{Capabilities, ComponentLoader};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut config = Config::default();
    config.cache.dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("bench-cache")
        .display()
        .to_string();
    let loader = Loader::new(&config).unwrap();
    let components = ComponentLoader::new(loader.runtime.clone()).unwrap();
    let f = components
        .load(
            &loader.cache,
            "bench",
            &example_component(),
            Capabilities::default(),
        )
        .unwrap_or_else(|e| panic!("loading the example component: {e}"));
    let request = || {
        hyper::Request::builder()
            .uri("http://127.0.0.1:8080/api/hello")
            .header("user-agent", "criterion")
            .header("accept", "*/*")
            .body(bytes::Bytes::new())
            .unwrap()
    };
    let resp = rt
        .block_on(f.invoke(&loader.runtime, request(), "bench"))
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut group = c.benchmark_group("instantiate+call+drop");
    group.bench_function("component-instantiate-only", |b| {
        b.iter(|| {
            rt.block_on(f.instantiate_and_drop(&loader.runtime))
                .unwrap()
        })
    });
    group.bench_function("component-hello", |b| {
        b.iter(|| {
            let resp = rt
                .block_on(f.invoke(&loader.runtime, request(), "bench"))
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp
        })
    });
    group.finish();
}

criterion_group!(benches, per_request, component);
criterion_main!(benches);
