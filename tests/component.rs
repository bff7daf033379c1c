//! WebAssembly components (the Rust fast path) served by the real `wisp` binary over HTTP: the
//! article's Rust handler (`rust-examples/edge-handler`, built here for wasm32-wasip2), AOT
//! compilation with `wisp compile`, what is refused at load, what fails at run time (and that
//! the server keeps serving), WASI environment and directories, and KV shared with JS through
//! `wisp:edge`.

mod common;

use common::{Wisp, build_component, cache_dir, wisp};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn example() -> PathBuf {
    build_component("rust-examples/edge-handler", "edge_handler")
}

fn misbehave() -> PathBuf {
    build_component("tests/fixtures/components/misbehave", "misbehave")
}

fn not_a_proxy() -> PathBuf {
    build_component("tests/fixtures/components/misbehave", "not-a-proxy")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_article_handler_serves_every_route() {
    let w = Wisp::start(s(&example()), &[]);

    let r = w.get("/api/geo");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("cache-control"), Some("max-age=300"));
    assert_eq!(
        r.json(),
        serde_json::json!({ "country": "TW", "city": "Taipei", "latency_ms": 3 })
    );
    assert!(r.header("x-request-id").is_some_and(|id| !id.is_empty()));

    let r = w.request("POST", "/api/process", &[], b"abc\x00\xff");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body, b"bcd\x01\x00");

    // A body larger than the guest's write buffer and the host's chunking.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let r = w.request("POST", "/api/process", &[], &big);
    assert_eq!(r.status, 200);
    let expected: Vec<u8> = big.iter().map(|b| b.wrapping_add(1)).collect();
    assert!(r.body == expected, "the processed body differs");

    let r = w.get("/api/health");
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["status"], "healthy");
    assert_eq!(j["version"], "0.1.0");
    assert!(j["timestamp"].as_str().unwrap().starts_with("20"), "{j}");

    assert_eq!(w.get("/api/hello").text(), "Hello from Rust on Wisp!");

    let r = w.get("/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not found");
    let r = w.request("DELETE", "/api/geo", &[], b"");
    assert_eq!(r.status, 404);

    let r = w.get("/_wisp/health");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["function"], "edge_handler");
}

#[test]
fn compile_then_run_the_cwasm_and_refuse_a_foreign_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("edge.cwasm");
    let cache = cache_dir();
    let o = wisp(&[
        "compile",
        s(&example()),
        "-o",
        s(&out),
        "--cache-dir",
        s(&cache),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let compiled = std::fs::read(&out).unwrap();
    assert!(compiled.starts_with(b"\x7fELF"), "a .cwasm is native code");

    let w = Wisp::start(s(&out), &[]);
    assert_eq!(w.get("/api/hello").text(), "Hello from Rust on Wisp!");
    let r = w.request("POST", "/api/process", &[], b"HAL");
    assert_eq!(r.body, b"IBM");
    drop(w);

    // The same file, as if made by another wasmtime: its version string (the major version,
    // in the `.wasmtime.engine` section) changed.
    let engine = elf_section(&compiled, ".wasmtime.engine").expect("a .wasmtime.engine section");
    let (len, at) = (compiled[engine + 1] as usize, engine + 2);
    assert_eq!(&compiled[at..at + len], b"48", "wasmtime 48 wrote it");
    let mut foreign = compiled.clone();
    foreign[at..at + len].copy_from_slice(b"47");
    let foreign_path = dir.path().join("foreign.cwasm");
    std::fs::write(&foreign_path, &foreign).unwrap();
    let o = wisp(&["run", s(&foreign_path), "--listen", "127.0.0.1:0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "it must not have started serving");
    let e = stderr(&o);
    assert!(
        e.contains("not a component precompiled by this Wisp"),
        "{e}"
    );
    assert!(e.contains("wisp compile"), "{e}");

    // A corrupt one.
    let corrupt_path = dir.path().join("corrupt.cwasm");
    std::fs::write(&corrupt_path, &compiled[..compiled.len() / 3]).unwrap();
    let o = wisp(&["run", s(&corrupt_path), "--listen", "127.0.0.1:0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a component precompiled by this Wisp"));
}

/// The file offset of the ELF64 (little-endian) section `name`.
fn elf_section(elf: &[u8], name: &str) -> Option<usize> {
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let header = |i: usize| shoff + i * shentsize;
    let names = u64_at(header(shstrndx) + 0x18);
    (0..shnum).find_map(|i| {
        let start = names + u32_at(header(i));
        let end = start + elf[start..].iter().position(|&b| b == 0)?;
        (&elf[start..end] == name.as_bytes()).then(|| u64_at(header(i) + 0x18))
    })
}

#[test]
fn a_core_module_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    // The smallest valid core module: the header alone.
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let o = wisp(&["run", s(&core), "--listen", "127.0.0.1:0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let e = stderr(&o);
    assert!(
        e.contains("core WebAssembly module, not a component"),
        "{e}"
    );
    let o = wisp(&["compile", s(&core), "-o", s(&dir.path().join("x.cwasm"))]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!dir.path().join("x.cwasm").exists());
}

#[test]
fn a_component_of_another_world_is_refused() {
    let o = wisp(&[
        "run",
        s(&not_a_proxy()),
        "--listen",
        "127.0.0.1:0",
        "--cache-dir",
        s(&cache_dir()),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("not a wasi:http/proxy component"), "{e}");
    assert!(e.contains("wasi:http/incoming-handler"), "{e}");
}

#[test]
fn a_panic_is_a_500_with_the_message_in_the_log_and_the_server_keeps_serving() {
    let w = Wisp::start(s(&misbehave()), &[]);
    assert_eq!(w.get("/ok").text(), "ok");
    let r = w.get("/panic");
    assert_eq!(r.status, 500, "{}", r.text());
    let j = r.json();
    assert_eq!(j["kind"], "trap");
    let id = j["request_id"].as_str().unwrap().to_owned();
    // The guest's panic message is logged as it is printed, the trap once the call has
    // returned: wait for the later of the two.
    w.wait_for_log("deliberate panic for the test");
    let log = w.wait_for_log("unreachable");
    assert!(log.contains("deliberate panic for the test"), "{log}");
    assert!(
        log.contains(&id),
        "the log lines carry the request id: {log}"
    );
    for _ in 0..3 {
        assert_eq!(w.get("/ok").status, 200);
    }
    // stdout/stderr of a normal request become log lines too.
    w.wait_for_log("misbehave served /ok");
}

#[test]
fn a_handler_past_the_time_limit_is_a_504_and_the_server_keeps_serving() {
    let w = Wisp::start(s(&misbehave()), &["--timeout-ms", "300"]);
    let started = std::time::Instant::now();
    let r = w.get("/loop");
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.json()["kind"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(w.get("/ok").text(), "ok");
}

#[test]
fn memory_exhaustion_is_a_500_naming_the_limit() {
    let w = Wisp::start(s(&misbehave()), &["--max-memory-pages", "128"]);
    let r = w.get("/oom");
    assert_eq!(r.status, 500, "{}", r.text());
    let j = r.json();
    assert_eq!(j["kind"], "memory_limit", "{j}");
    assert!(j["error"].as_str().unwrap().contains("memory"), "{j}");
    assert_eq!(w.get("/ok").text(), "ok");
}

#[test]
fn an_endless_response_body_is_cut_at_the_memory_limit() {
    let w = Wisp::start(s(&misbehave()), &["--max-memory-pages", "128"]);
    let r = w.get("/flood");
    assert_eq!(r.status, 500, "{}", r.text());
    let id = r.json()["request_id"].as_str().unwrap().to_owned();
    let log = w.wait_for_log("larger than the limit of 8388608 bytes");
    assert!(
        log.contains("larger than the limit of 8388608 bytes"),
        "{log}"
    );
    assert!(log.contains(&id), "{log}");
    assert_eq!(w.get("/ok").text(), "ok");
}

#[test]
fn environment_and_preopened_directories_read_only_unless_asked() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("hello.txt"), "from the host").unwrap();
    let ro = format!("{}:/data", data.path().display());
    let w = Wisp::start(
        s(&misbehave()),
        &["--env", "GREETING=hi there", "--dir", &ro],
    );
    assert_eq!(w.get("/env/GREETING").text(), "hi there");
    assert_eq!(w.get("/file/data/hello.txt").text(), "from the host");
    let r = w.get("/write/data/new.txt");
    assert_eq!(r.status, 500);
    assert!(r.text().starts_with("write failed"), "{}", r.text());
    assert!(!data.path().join("new.txt").exists());
    drop(w);

    let rw = format!("{}:/data:rw", data.path().display());
    let w = Wisp::start(s(&misbehave()), &["--dir", &rw]);
    assert_eq!(w.get("/write/data/new.txt").text(), "written");
    assert_eq!(
        std::fs::read_to_string(data.path().join("new.txt")).unwrap(),
        "written"
    );
}

#[test]
fn kv_and_sqlite_written_by_rust_are_read_by_js_and_back() {
    // A component and a JS function named alike ("shop") share a KV namespace.
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let component = root.path().join("shop.wasm");
    std::fs::copy(example(), &component).unwrap();
    let js_dir = root.path().join("shop");
    std::fs::create_dir_all(&js_dir).unwrap();
    std::fs::copy(
        common::root().join("tests/fixtures/storage.js"),
        js_dir.join("index.js"),
    )
    .unwrap();
    let data_args = ["--data-dir", s(&data)];

    let mut w = Wisp::start(s(&component), &data_args);
    let r = w.request("POST", "/api/notes", &[], b"written by rust");
    assert_eq!(r.status, 201, "{}", r.text());
    let r = w.request("PUT", "/api/kv/greeting", &[], b"hello from rust");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(w.get("/api/kv/greeting").text(), "hello from rust");
    assert_eq!(w.get("/api/kv/absent").status, 404);
    w.terminate();
    assert!(w.wait(Duration::from_secs(10)).is_some());

    // One process at a time owns the data directory's KV store.
    let mut js = Wisp::start(s(&js_dir.join("index.js")), &data_args);
    assert_eq!(js.get("/kv/greeting").json()["value"], "hello from rust");
    // The same SQLite file too.
    let query = serde_json::json!({ "sql": "SELECT text FROM notes", "mode": "first" });
    let r = js.request("POST", "/sql", &[], query.to_string().as_bytes());
    assert_eq!(r.json()["first"]["text"], "written by rust", "{}", r.text());
    let insert = serde_json::json!({ "sql": "INSERT INTO notes (text) VALUES (?)", "params": ["written by js"] });
    let r = js.request("POST", "/sql", &[], insert.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let r = js.request("PUT", "/kv/reply", &[], b"hello from js");
    assert_eq!(r.status, 200, "{}", r.text());
    js.terminate();
    assert!(js.wait(Duration::from_secs(10)).is_some());

    let w = Wisp::start(s(&component), &data_args);
    assert_eq!(w.get("/api/kv/reply").text(), "hello from js");
    assert_eq!(
        w.get("/api/notes").json(),
        serde_json::json!([{ "id": 1, "text": "written by rust" }, { "id": 2, "text": "written by js" }])
    );
    assert_eq!(w.request("DELETE", "/api/kv/reply", &[], b"").status, 200);
    assert_eq!(w.get("/api/kv/reply").status, 404);
}

#[test]
fn outbound_http_is_denied_unless_the_allowlist_permits_it() {
    let upstream = Wisp::start(s(&misbehave()), &[]);
    let target = format!("/fetch/{}/ok", upstream.addr);

    let w = Wisp::start(s(&misbehave()), &[]);
    let r = w.get(&target);
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("HttpRequestDenied"), "{}", r.text());
    let log = w.wait_for_log("denied");
    assert!(log.contains("not in the allowlist"), "{log}");
    drop(w);

    let allow = upstream.addr.to_string();
    let w = Wisp::start(s(&misbehave()), &["--allow-net", &allow]);
    let r = w.get(&target);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "ok");
}

#[test]
fn outbound_https_from_a_component() {
    let upstream = common::TlsUpstream::start("hello over tls");
    let allow = format!("localhost:{}", upstream.port);
    let target = format!("/fetchs/localhost:{}/", upstream.port);

    let config = upstream.config_file();
    let w = Wisp::start(
        s(&misbehave()),
        &["--allow-net", &allow, "--config", config.to_str().unwrap()],
    );
    let r = w.get(&target);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "hello over tls");
    drop(w);

    // Without the test CA the handshake fails: an error code for the guest, the reason logged.
    let w = Wisp::start(s(&misbehave()), &["--allow-net", &allow]);
    let r = w.get(&target);
    assert_eq!(r.status, 502, "{}", r.text());
    let log = w.wait_for_log("TLS handshake");
    assert!(log.to_lowercase().contains("certificate"), "{log}");
}
