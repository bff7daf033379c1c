//! End-to-end tests of the core runtime: the real `wisp` binary, real wasmtime instances of the
//! real engine, over real HTTP.

mod common;

use common::{Conn, Wisp, http};
use std::time::{Duration, Instant};

#[test]
fn article_hello_transform_health_and_404() {
    let w = Wisp::start(
        "js-examples/hello/index.js",
        &["--env", "EDGE_REGION=ap-east-1"],
    );
    let r = w.get("/api/hello");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("cache-control"), Some("max-age=60"));
    assert_eq!(r.header("x-edge-runtime"), Some("wasmedge-quickjs"));
    assert!(r.header("x-request-id").is_some_and(|id| !id.is_empty()));
    let j = r.json();
    assert_eq!(j["message"], "Hello from WasmEdge QuickJS!");
    assert_eq!(j["region"], "ap-east-1");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    assert!(
        (j["timestamp"].as_f64().unwrap() - now_ms).abs() < 60_000.0,
        "{j}"
    );

    let r = w.request(
        "POST",
        "/api/transform",
        &[("content-type", "application/json")],
        br#"{"name":"wisp","n":[1,2]}"#,
    );
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(
        j["original"],
        serde_json::json!({"name": "wisp", "n": [1, 2]})
    );
    assert_eq!(j["processed"], true);
    assert_eq!(j["uppercase_name"], "WISP");
    assert!(j["timestamp"].as_str().unwrap().ends_with('Z'));

    assert_eq!(
        w.get("/api/health").json(),
        serde_json::json!({"status": "ok", "runtime": "quickjs"})
    );
    let r = w.get("/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not found");
    let r = w.get("/_wisp/health");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
}

#[test]
fn module_worker_default_export_with_env() {
    let w = Wisp::start(
        "js-examples/module-worker/index.js",
        &["--env", "EDGE_REGION=eu-west-3"],
    );
    let j = w.get("/greet/ada?lang=fr").json();
    assert_eq!(j["greeting"], "Bonjour, ada!");
    assert_eq!(j["region"], "eu-west-3");
    assert_eq!(w.get("/greet/ada?lang=xx").status, 400);
    let r = w.request("POST", "/echo", &[], br#"{"a":[1,2,3]}"#);
    assert_eq!(r.header("x-echo"), Some("yes"));
    assert_eq!(r.json()["received"]["a"][2], 3);
    let r = w.get("/old");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("http://wisp.test/greet/world"));
    assert_eq!(w.get("/missing").text(), "not found\n");
}

#[test]
fn exported_handle_request_with_edge_response() {
    let w = Wisp::start("js-examples/user-profile/index.js", &[]);
    let r = w.get("/?user_id=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "Ada Lovelace");
    assert_eq!(w.get("/?user_id=9").status, 404);
    let r = w.get("/");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "user_id is required");
}

#[test]
fn headers_and_text_bodies_cross_the_abi_as_bytes() {
    let w = Wisp::start("tests/fixtures/wire.js", &[]);
    assert_eq!(w.get("/lone").body, "a\u{FFFD}b".as_bytes());
    let r = w.get("/error");
    assert_eq!(
        (r.status, r.json()["kind"].as_str()),
        (500, Some("bad_response"))
    );
    let r = w.get("/stream");
    assert_eq!((r.status, r.text()), (203, "streamed".to_owned()));
    let r = w.get("/used");
    assert_eq!(r.status, 500, "{}", r.text());
    let r = w.request("GET", "/codes", &[("x-l", "é")], b"");
    assert_eq!(r.text(), "[195,169]");
    // A value past Latin-1 goes out as UTF-8; an empty one stays.
    assert_eq!(r.header("x-out"), Some("€"));
    assert_eq!(r.header("x-empty"), Some(""));

    let r = w.request(
        "GET",
        "/headers",
        &[
            ("accept", "a/b"),
            ("Accept", "c/d"),
            ("X-Mixed", "m"),
            ("x-empty", ""),
            ("cookie", "k=v"),
        ],
        b"",
    );
    let seen: serde_json::Value = serde_json::from_str(r.header("x-seen").unwrap()).unwrap();
    assert_eq!(
        seen,
        serde_json::json!({
            "accept": "a/b, c/d", "mixed": "m", "missing": null, "empty": "", "has": [true, false],
            "cookie": "k=v",
            "copy": [["accept", "a/b, c/d"], ["x-empty", ""], ["x-mixed", "m"]],
            "after": ["changed", "a/b, c/d", true],
            "response": ["1", "text/plain;charset=UTF-8", false],
        })
    );
    assert_eq!(r.header("x-a"), Some("1"));
    assert_eq!(r.header("x-b"), Some("2"));
    assert_eq!(r.header("content-type"), Some("text/plain;charset=UTF-8"));
    let cookies: Vec<&str> = r
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["c=1", "d=2"]);
    assert_eq!(r.text(), "body");
}

#[test]
fn each_request_finds_the_snapshots_spare_body_as_new() {
    let w = Wisp::start("tests/fixtures/spare-bodies.js", &[]);
    for (i, how) in ["text", "reader", "text", "reader"].into_iter().enumerate() {
        let payload = format!("{{\"n\":{i}}}");
        let r = w.request("POST", "/", &[("x-read", how)], payload.as_bytes());
        let j: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
        assert_eq!(
            j,
            serde_json::json!({
                "used": false, "stream": true, "locked": false, "text": payload, "same": true,
                "read": payload, "usedAfter": true, "second": format!("second:{payload}"),
            }),
            "request {i} ({how})"
        );
    }
    let rest = [
        serde_json::json!([
            200,
            "",
            "default",
            "content-type:text/plain;charset=UTF-8",
            "plain"
        ]),
        serde_json::json!([204, "", "default", "", ""]),
        serde_json::json!([
            404,
            "",
            "default",
            "content-type:text/plain;charset=UTF-8",
            "gone"
        ]),
    ];
    let firsts = [
        (
            "edge",
            serde_json::json!([
                201,
                "",
                "default",
                "content-type:text/plain;charset=UTF-8,x-a:1",
                "edge"
            ]),
        ),
        (
            "json",
            serde_json::json!([
                200,
                "",
                "default",
                "content-type:application/json",
                "{\"j\":1}"
            ]),
        ),
        ("error", serde_json::json!([0, "", "error", "", null])),
        (
            "general",
            serde_json::json!([
                202,
                "Yes",
                "default",
                "content-type:text/plain;charset=UTF-8",
                "gen"
            ]),
        ),
    ];
    for (first, expected) in firsts {
        let r = w.request("GET", "/responses", &[("x-first", first)], b"");
        let j: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
        let mut all = vec![expected];
        all.extend(rest.iter().cloned());
        assert_eq!(j, serde_json::json!(all), "first: {first}");
    }
    // A request without a body has none, and its second body is still made.
    let j: serde_json::Value = serde_json::from_str(&w.get("/").text()).unwrap();
    assert_eq!(
        j,
        serde_json::json!({
            "used": false, "stream": false, "locked": null, "text": null, "same": true,
            "usedAfter": false, "second": "second:",
        })
    );
}

#[test]
fn global_handle_request_and_app_object() {
    let w = Wisp::start("tests/fixtures/handle-request-global.js", &[]);
    assert_eq!(w.request("PUT", "/", &[], b"x").text(), "global PUT");
    let w = Wisp::start("tests/fixtures/app-object.js", &[]);
    assert_eq!(w.get("/about").text(), "about");
    assert_eq!(w.get("/zzz").status, 404);
}

#[test]
fn every_request_gets_a_fresh_instance() {
    let w = Wisp::start("tests/fixtures/counter.js", &[]);
    let mut randoms = std::collections::HashSet::new();
    let mut uuids = std::collections::HashSet::new();
    let mut conn = Conn::open(w.addr);
    for i in 0..8 {
        // Alternate fresh connections and one keep-alive connection.
        // Every third request grows and fills the memory; the slot reset must undo that too.
        let path = if i % 3 == 0 { "/?grow" } else { "/" };
        let r = if i % 2 == 0 {
            w.get(path)
        } else {
            conn.get(path)
        };
        assert_eq!(r.status, 200);
        let j = r.json();
        assert_eq!(
            j["count"], 1,
            "request {i} saw state from an earlier one: {j}"
        );
        assert_eq!(j["leak"], 1, "{j}");
        assert_eq!(
            j["sawBig"], false,
            "request {i} saw an earlier one's memory: {j}"
        );
        randoms.insert(j["random"].to_string());
        uuids.insert(j["uuid"].to_string());
    }
    // A snapshot freezes the PRNG: Math.random and randomUUID must still differ per request.
    assert_eq!(randoms.len(), 8);
    assert_eq!(uuids.len(), 8);
}

#[test]
fn web_apis_behave() {
    let w = Wisp::start(
        "tests/fixtures/web-apis.js",
        &["--env", "WISP_TEST_VAR=from the command line"],
    );
    let j = w.get("/").json();
    assert_eq!(j["failed"], serde_json::json!([]), "{j:#}");
    assert_eq!(j["passed"], 35, "{j}");

    let r = w.request(
        "POST",
        "/request?x=1",
        &[("x-custom", "yes"), ("user-agent", "wisp-test")],
        br#"{"k":"v"}"#,
    );
    let j = r.json();
    assert_eq!(j["method"], "POST");
    assert_eq!(j["url"], "http://wisp.test/request?x=1");
    assert_eq!(j["custom"], "yes");
    assert_eq!(j["ua"], "wisp-test");
    assert_eq!(j["parsed"], serde_json::json!({"k": "v"}));
    assert_eq!(j["bodyIsStream"], true);
    let j = w.get("/request").json();
    assert_eq!(j["bodyIsStream"], serde_json::Value::Null);
}

/// GETs `path`, which must answer a 500 whose JSON body names the failure `kind`; the response
/// and its body, for further checks.
fn failed(w: &Wisp, path: &str, kind: &str) -> (common::Resp, serde_json::Value) {
    let r = w.get(path);
    assert_eq!(r.status, 500, "{path}: {}", r.text());
    let j = r.json();
    assert_eq!(j["kind"], kind, "{path}: {j}");
    (r, j)
}

#[test]
fn failures_are_500_with_generic_bodies_and_logged_stacks() {
    let w = Wisp::start("tests/fixtures/failures.js", &["--timeout-ms", "1500"]);
    // The async handler's answers that are not failures: a Blob's bytes, a thenable, a
    // `Response` subclass, a `Headers` object (which the dispatcher's `finish` takes apart).
    let r = w.get("/blob");
    assert_eq!(
        (r.status, r.header("content-type"), r.text()),
        (201, Some("text/x"), "blob body".to_owned())
    );
    let r = w.get("/thenable");
    assert_eq!((r.status, r.text()), (200, "from a thenable".to_owned()));
    let r = w.get("/subclass");
    assert_eq!((r.status, r.text()), (202, "made by a subclass".to_owned()));
    let r = w.get("/headers-object");
    assert_eq!(
        (r.status, r.header("x-h"), r.text()),
        (200, Some("1"), "with a Headers".to_owned())
    );
    for (path, kind) in [
        ("/throw", "exception"),
        ("/reject", "exception"),
        ("/never", "never_settled"),
        ("/not-a-response", "bad_response"),
        ("/error-response", "bad_response"),
    ] {
        let (r, j) = failed(&w, path, kind);
        assert!(
            !r.text().contains("hunter2"),
            "exception text leaked to the client"
        );
        assert!(
            j["request_id"]
                .as_str()
                .is_some_and(|id| Some(id) == r.header("x-request-id"))
        );
    }
    // The last failure logged; the log reader runs on its own thread.
    let log = w.wait_for_log("instead of a Response");
    assert!(
        log.contains("Error: secret database password is hunter2"),
        "{log}"
    );
    assert!(
        log.contains("failures.js:"),
        "the log must carry the JS stack: {log}"
    );
    assert!(log.contains("instead of a Response"), "{log}");
    // And the server still serves.
    assert_eq!(w.get("/ok").text(), "ok");
}

#[test]
fn a_synchronous_handlers_answer_is_checked_and_a_thenable_adopted() {
    let w = Wisp::start("tests/fixtures/sync-answers.js", &[]);
    let r = w.get("/response");
    assert_eq!((r.status, r.text()), (200, "sync".to_owned()));
    let r = w.get("/thenable");
    assert_eq!((r.status, r.text()), (200, "sync thenable".to_owned()));
    for (path, kind) in [
        ("/thenable-to-nothing", "bad_response"),
        ("/thenable-rejects", "exception"),
        ("/plain-object", "bad_response"),
        ("/object-with-then", "bad_response"),
        ("/undefined", "bad_response"),
    ] {
        failed(&w, path, kind);
    }
    let log = w.wait_for_log("refused by the thenable");
    assert!(log.contains("refused by the thenable"), "{log}");
    assert_eq!(w.get("/response").text(), "sync");
}

#[test]
fn debug_mode_shows_message_and_stack() {
    let w = Wisp::start("tests/fixtures/failures.js", &["--debug"]);
    let j = w.get("/throw").json();
    assert_eq!(j["error"], "Error: secret database password is hunter2");
    assert!(j["stack"].as_str().unwrap().contains("failures.js:"), "{j}");
    let j = w.get("/reject").json();
    assert_eq!(j["error"], "TypeError: rejected on purpose");
}

#[test]
fn stack_overflow_is_a_500_and_the_server_survives() {
    let w = Wisp::start("tests/fixtures/failures.js", &["--debug"]);
    let r = w.get("/stack");
    assert_eq!(r.status, 500, "{}", r.text());
    let text = r.text().to_lowercase();
    assert!(text.contains("stack overflow"), "{text}");
    // Ordinary recursion is far from the limit.
    assert_eq!(w.get("/deep?n=2000").text(), "2000");
    assert_eq!(w.get("/ok").text(), "ok");
}

#[test]
fn infinite_loop_gets_504_and_others_are_served_meanwhile() {
    let w = Wisp::start("tests/fixtures/failures.js", &["--timeout-ms", "1000"]);
    let addr = w.addr;
    let looping = std::thread::spawn(move || {
        let started = Instant::now();
        let r = http(addr, "GET", "/loop", &[], b"");
        (r, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(150));
    // While the loop spins, other requests are served promptly.
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(w.get("/ok").text(), "ok");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }
    let (r, took) = looping.join().unwrap();
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.json()["kind"], "timeout");
    assert!(r.text().contains("1000 ms"), "{}", r.text());
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(w.get("/ok").text(), "ok");
}

#[test]
fn memory_limit_is_a_500_naming_the_limit() {
    let w = Wisp::start("tests/fixtures/failures.js", &["--max-memory-pages", "512"]);
    for path in ["/alloc", "/big-buffer"] {
        let r = w.get(path);
        assert_eq!(r.status, 500, "{path}: {}", r.text());
        assert_eq!(r.json()["kind"], "memory_limit", "{path}: {}", r.text());
        assert!(r.text().contains("32 MiB"), "{}", r.text());
    }
    assert_eq!(w.get("/ok").text(), "ok");
}

#[test]
fn slow_request_does_not_block_a_fast_one() {
    let w = Wisp::start("tests/fixtures/failures.js", &[]);
    let addr = w.addr;
    let started = Instant::now();
    let slow = std::thread::spawn(move || http(addr, "GET", "/sleep?ms=800", &[], b""));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(w.get("/ok").text(), "ok");
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "fast request waited: {:?}",
        started.elapsed()
    );
    let r = slow.join().unwrap();
    assert_eq!(r.text(), "slept 800");
    assert!(started.elapsed() >= Duration::from_millis(800));
}

#[test]
fn over_the_concurrency_limit_is_503_at_once() {
    let w = Wisp::start(
        "tests/fixtures/failures.js",
        &["--max-concurrent-requests", "1"],
    );
    let addr = w.addr;
    let slow = std::thread::spawn(move || http(addr, "GET", "/sleep?ms=1000", &[], b""));
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let r = w.get("/ok");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(slow.join().unwrap().status, 200);
    assert_eq!(w.get("/ok").status, 200);
}

#[test]
fn a_full_instance_pool_is_503_not_a_queue() {
    let w = Wisp::start(
        "tests/fixtures/failures.js",
        &["--max-instances", "1", "--max-concurrent-requests", "8"],
    );
    let addr = w.addr;
    let slow = std::thread::spawn(move || http(addr, "GET", "/sleep?ms=1000", &[], b""));
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let r = w.get("/ok");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["kind"], "busy");
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(slow.join().unwrap().status, 200);
    assert_eq!(w.get("/ok").text(), "ok");
}

#[test]
fn ten_megabyte_bodies_both_ways_and_413_past_the_limit() {
    let w = Wisp::start(
        "tests/fixtures/failures.js",
        &["--max-body-bytes", "12000000"],
    );
    let body: Vec<u8> = (0..10_000_000u32).map(|i| (i % 251) as u8).collect();
    let r = w.request("POST", "/echo", &[], &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-length"), Some("10000000"));
    assert!(r.body == body, "the echoed body differs");
    let r = w.get("/big?n=10485760");
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 10_485_760);
    assert!(r.body.iter().all(|&b| b == b'a'));
    let r = w.request("POST", "/echo", &[], &vec![0u8; 12_000_001]);
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["kind"], "body_too_large");
}

#[test]
fn console_goes_to_the_log_with_function_and_request_id() {
    let w = Wisp::start("tests/fixtures/failures.js", &[]);
    let r = w.get("/log");
    assert_eq!(r.text(), "logged");
    let id = r.header("x-request-id").unwrap().to_owned();
    let log = w.wait_for_log("an error line");
    let line = log
        .lines()
        .find(|l| l.contains("hello from the log"))
        .expect(&log);
    assert!(line.contains("{ a: 1 }"), "{line}");
    assert!(
        line.contains("function=\"fixtures\"") || line.contains("function=fixtures"),
        "{line}"
    );
    assert!(line.contains(&id), "{line}");
    assert!(
        log.lines()
            .any(|l| l.contains("an error line") && l.contains("ERROR")),
        "{log}"
    );
}

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let mut w = Wisp::start("tests/fixtures/failures.js", &[]);
    let addr = w.addr;
    let slow = std::thread::spawn(move || http(addr, "GET", "/sleep?ms=700", &[], b""));
    std::thread::sleep(Duration::from_millis(200));
    w.terminate();
    let r = slow.join().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "slept 700");
    let status = w
        .wait(Duration::from_secs(5))
        .expect("wisp did not exit after SIGTERM");
    assert!(status.success(), "{status}");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still accepting after shutdown"
    );
}

#[test]
fn after_sigterm_new_connections_are_refused_at_once() {
    let mut w = Wisp::start("tests/fixtures/failures.js", &[]);
    let addr = w.addr;
    let slow = std::thread::spawn(move || http(addr, "GET", "/sleep?ms=1500", &[], b""));
    std::thread::sleep(Duration::from_millis(300));
    w.terminate();
    std::thread::sleep(Duration::from_millis(300));
    // The request in flight is still running: the process is alive, but no longer listening.
    let tried = Instant::now();
    let connected = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5));
    assert!(
        connected.is_err(),
        "a new connection was accepted (or left waiting) during shutdown"
    );
    assert!(
        tried.elapsed() < Duration::from_secs(1),
        "{:?}",
        tried.elapsed()
    );
    let r = slow.join().unwrap();
    assert_eq!((r.status, r.text()), (200, "slept 1500".to_owned()));
    assert!(w.wait(Duration::from_secs(5)).is_some_and(|s| s.success()));
}

/// One request written by hand, its raw response read to the end.
fn raw_request(addr: std::net::SocketAddr, head: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).into_owned()
}

#[test]
fn a_host_header_cannot_move_the_path_the_function_sees() {
    let w = Wisp::start("tests/fixtures/echo-url.js", &[]);
    let ok = raw_request(
        w.addr,
        "GET /echo?q=1 HTTP/1.1\r\nHost: Example.com:8080\r\nConnection: close\r\n\r\n",
    );
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    // As the URL standard writes it: the host in lower case, the default port left out.
    assert!(
        ok.ends_with("http://example.com:8080/echo?q=1 /echo"),
        "{ok}"
    );
    let default_port = raw_request(
        w.addr,
        "GET /a HTTP/1.1\r\nHost: EXAMPLE.com:80\r\nConnection: close\r\n\r\n",
    );
    assert!(
        default_port.ends_with("http://example.com/a /a"),
        "{default_port}"
    );
    for host in ["evil.com/x?", "a b", "user@host", "host#frag", ""] {
        let r = raw_request(
            w.addr,
            &format!("GET /echo HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        );
        assert!(r.starts_with("HTTP/1.1 400"), "Host {host:?}: {r}");
        assert!(r.contains("invalid Host header"), "Host {host:?}: {r}");
    }
    let star = raw_request(
        w.addr,
        "OPTIONS * HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
    );
    assert!(star.starts_with("HTTP/1.1 400"), "{star}");
    assert!(star.contains("must be a path"), "{star}");
    assert!(
        w.stderr().lines().all(|l| !l.contains("Invalid URL")),
        "{}",
        w.stderr()
    );
}

#[test]
fn hop_by_hop_headers_from_a_function_are_not_sent() {
    let w = Wisp::start("tests/fixtures/echo-url.js", &[]);
    let r = w.get("/hop-by-hop");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-kept"), Some("yes"));
    for name in ["te", "trailer", "proxy-connection", "keep-alive", "upgrade"] {
        assert_eq!(r.header(name), None, "{name} was sent");
    }
}

#[test]
fn unhandled_rejections_are_logged_with_their_stack() {
    let w = Wisp::start("tests/fixtures/unhandled.js", &[]);
    let r = w.get("/");
    assert_eq!((r.status, r.text()), (200, "still fine".to_owned()));
    let log = w.wait_for_log("Unhandled promise rejection");
    assert!(
        log.contains("Unhandled promise rejection: Error: nobody waits for this"),
        "{log}"
    );
    assert!(log.contains("unhandled.js:4"), "{log}");
    assert!(!log.contains("handled a moment later"), "{log}");
}

#[test]
fn a_body_that_does_not_arrive_gets_408_and_the_server_goes_on() {
    let w = Wisp::start("tests/fixtures/failures.js", &["--timeout-ms", "500"]);
    // Ten of the hundred bytes promised, then nothing: the function never starts.
    let mut s = std::net::TcpStream::connect(w.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    use std::io::{Read, Write};
    write!(
        s,
        "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n0123456789"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"kind\":\"body_timeout\""), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(w.get("/ok").text(), "ok");
}
