//! Outbound `fetch` end to end: a real `wisp` binary calling a real upstream HTTP server on
//! loopback (a small threaded HTTP/1.1 server in this process): allowed, denied, redirects
//! (followed with the Fetch standard's method rewrite and `Authorization` dropped across
//! origins, `manual`, `error`), a timeout, a response over the size cap, the subrequest budget,
//! and a response body that streams from the upstream through the function to the client.

mod common;

use common::{Upload, Wisp};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// The upstream: answers by path; every response names the method, body and auth it saw.
fn upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream, port));
        }
    });
    port
}

fn serve(stream: TcpStream, port: u16) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let (mut length, mut auth, mut chunked) = (0usize, String::from("none"), false);
    // `x-in`'s value as hex bytes, and whether an Accept-Encoding came: for `/headers`.
    let (mut x_in, mut accept_encoding) = (String::from("none"), false);
    loop {
        let mut raw = Vec::new();
        if reader.read_until(b'\n', &mut raw).unwrap_or(0) == 0 || raw == b"\r\n" {
            break;
        }
        let h = String::from_utf8_lossy(&raw).into_owned();
        let (name, value) = h.split_once(':').unwrap_or((&h, ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "authorization" => auth = value.trim().to_owned(),
            "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
            "accept-encoding" => accept_encoding = true,
            "x-in" => {
                let bytes = &raw[name.len() + 1..raw.len() - 2];
                x_in = bytes
                    .iter()
                    .skip_while(|b| **b == b' ')
                    .map(|b| format!("{b:02x}"))
                    .collect();
            }
            _ => {}
        }
    }
    let mut out = stream;
    if path == "/echo-chunks" {
        echo_chunks(&mut reader, &mut out);
        return;
    }
    // Like most servers, read the whole request before answering (a server that answers and
    // closes while the client still sends makes the client see a reset, not the answer).
    let body = if chunked {
        read_chunked(&mut reader)
    } else {
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        body
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    if let Some(rest) = path.strip_prefix("/drip") {
        drip(&mut out, rest);
        return;
    }
    if path == "/huge" && method == "HEAD" {
        // The head of a body far past max_response_bytes, which a HEAD response never has.
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\ncontent-length: 104857600\r\nconnection: close\r\n\r\n"
        );
        return;
    }
    let (status, extra, payload): (&str, String, String) = match path.as_str() {
        "/hello" => ("200 OK", String::new(), "hello from upstream".into()),
        "/echo" => (
            "200 OK",
            String::new(),
            format!("{method} {body} auth={auth}"),
        ),
        "/to-echo-302" => ("302 Found", "location: /echo\r\n".into(), String::new()),
        "/to-echo-307" => (
            "307 Temporary Redirect",
            "location: /echo\r\n".into(),
            String::new(),
        ),
        // Same host by another name: another origin, so Authorization must not follow.
        "/cross-origin" => (
            "302 Found",
            format!("location: http://localhost:{port}/echo\r\n"),
            String::new(),
        ),
        "/loop" => ("302 Found", "location: /loop\r\n".into(), String::new()),
        "/slow" => {
            std::thread::sleep(Duration::from_secs(3));
            ("200 OK", String::new(), "late".into())
        }
        "/big" => ("200 OK", String::new(), "x".repeat(300_000)),
        "/pair" => ("200 OK", String::new(), meet_partner().into()),
        "/reason" => ("200 Everything Fine", String::new(), "fine".into()),
        "/headers" => (
            "200 OK",
            String::new(),
            format!("x-in={x_in} accept-encoding={accept_encoding}"),
        ),
        "/to-utf8" => (
            "302 Found",
            "location: /caf\u{e9}\r\n".into(),
            String::new(),
        ),
        "/caf%C3%A9" => ("200 OK", String::new(), "followed".into()),
        _ => ("404 Not Found", String::new(), "no such path".into()),
    };
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nx-upstream: yes\r\nconnection: close\r\n{extra}\r\n{payload}",
        payload.len()
    );
}

/// A chunked body without a length: `/drip` sends "first piece\n", waits 1.5 s, then sends
/// "second piece\n"; `/drip-big` sends 300,000 bytes in 10,000-byte chunks.
fn drip(out: &mut TcpStream, kind: &str) {
    let _ = write!(
        out,
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\nx-upstream: yes\r\nconnection: close\r\n\r\n"
    );
    let chunk = |out: &mut TcpStream, data: &[u8]| {
        let _ = write!(out, "{:x}\r\n", data.len());
        let _ = out.write_all(data);
        let _ = out.write_all(b"\r\n");
        let _ = out.flush();
    };
    if kind == "-big" {
        for _ in 0..30 {
            chunk(out, &[b'y'; 10_000]);
        }
    } else {
        chunk(out, b"first piece\n");
        std::thread::sleep(Duration::from_millis(1500));
        chunk(out, b"second piece\n");
    }
    let _ = out.write_all(b"0\r\n\r\n");
}

/// A chunked request body, read to its last chunk (or as far as it goes).
fn read_chunked(reader: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).unwrap_or(0) == 0 {
            return body;
        }
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body;
        };
        let mut data = vec![0; n + 2];
        if reader.read_exact(&mut data).is_err() || n == 0 {
            return body;
        }
        body.extend_from_slice(&data[..n]);
    }
}

/// `/echo-chunks`: a chunked request body sent back chunk by chunk, each as soon as it arrives.
fn echo_chunks(reader: &mut BufReader<TcpStream>, out: &mut TcpStream) {
    let _ = write!(
        out,
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-upstream: yes\r\nconnection: close\r\n\r\n"
    );
    let _ = out.flush();
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).unwrap_or(0) == 0 {
            return; // cut off: no terminating chunk either
        }
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return;
        };
        let mut data = vec![0; n + 2];
        if reader.read_exact(&mut data).is_err() {
            return;
        }
        let _ = write!(out, "{n:x}\r\n");
        let _ = out.write_all(&data);
        let _ = out.flush();
        if n == 0 {
            return;
        }
    }
}

/// Waits up to 2 s for a second `/pair` request: "together" if it came, "alone" if not. Only
/// two requests in flight at the same time both answer "together".
fn meet_partner() -> &'static str {
    use std::sync::{Condvar, Mutex};
    static ARRIVED: Mutex<u64> = Mutex::new(0);
    static BELL: Condvar = Condvar::new();
    let mut n = ARRIVED.lock().unwrap();
    *n += 1;
    let me = *n;
    BELL.notify_all();
    // Partners are requests 2k-1 and 2k.
    let partner = if me % 2 == 1 { me + 1 } else { me - 1 };
    let (n, timeout) = BELL
        .wait_timeout_while(n, Duration::from_secs(2), |n| *n < partner)
        .unwrap();
    drop(n);
    if timeout.timed_out() {
        "alone"
    } else {
        "together"
    }
}

/// The server goes on serving, fetches included.
fn still_fetches(w: &Wisp, port: u16) {
    let (status, j) = call(w, &format!("url=http://127.0.0.1:{port}/hello"));
    assert_eq!(
        (status, j["body"].as_str()),
        (200, Some("hello from upstream"))
    );
}

/// The fixture served with the upstream on `port` allowed, and `extra` flags.
fn allowed_to(port: u16, extra: &[&str]) -> Wisp {
    let allow = format!("127.0.0.1:{port}");
    let mut args = vec!["--allow-net", allow.as_str()];
    args.extend_from_slice(extra);
    Wisp::start("tests/fixtures/outbound.js", &args)
}

fn call(w: &Wisp, query: &str) -> (u16, serde_json::Value) {
    let r = w.get(&format!("/?{query}"));
    (r.status, r.json())
}

#[test]
fn fetch_reaches_allowed_hosts_only() {
    let port = upstream();
    let w = allowed_to(port, &["--allow-net", &format!("localhost:{port}")]);
    let (status, j) = call(&w, &format!("url=http://127.0.0.1:{port}/hello"));
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["status"], 200);
    assert_eq!(j["body"], "hello from upstream");
    assert_eq!(j["upstream"], "yes");
    assert_eq!(j["redirected"], false);

    let (status, j) = call(
        &w,
        &format!("url=http://127.0.0.1:{port}/echo&method=PUT&body=payload"),
    );
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["body"], "PUT payload auth=none");

    let (_, j) = call(&w, &format!("url=http://127.0.0.1:{port}/missing"));
    assert_eq!(
        j["status"], 404,
        "an upstream error status is a response, not a rejection"
    );

    // Another port on the same host is another entry.
    let (status, j) = call(&w, "url=http://127.0.0.1:1/hello");
    assert_eq!(status, 502);
    assert_eq!(j["error"], "TypeError");
    let msg = j["message"].as_str().unwrap();
    assert!(
        msg.contains("not on this function's allowlist") && msg.contains("--allow-net 127.0.0.1:1"),
        "{msg}"
    );

    let (_, j) = call(&w, "url=ftp://127.0.0.1/x");
    assert_eq!(j["error"], "TypeError");
}

#[test]
fn nothing_is_allowed_without_an_allowlist() {
    let port = upstream();
    let w = Wisp::start("tests/fixtures/outbound.js", &[]);
    let (status, j) = call(&w, &format!("url=http://127.0.0.1:{port}/hello"));
    assert_eq!(status, 502, "{j}");
    assert!(j["message"].as_str().unwrap().contains("allowlist"), "{j}");
}

#[test]
fn redirects_follow_the_fetch_standard() {
    let port = upstream();
    let w = allowed_to(port, &["--allow-net", &format!("localhost:{port}")]);
    let base = format!("http://127.0.0.1:{port}");
    // 302 after a POST becomes a GET without a body; 307 keeps both.
    let (_, j) = call(&w, &format!("url={base}/to-echo-302&method=POST&body=data"));
    assert_eq!(j["body"], "GET  auth=none", "{j}");
    assert_eq!(j["redirected"], true);
    assert_eq!(j["url"], format!("{base}/echo"));
    let (_, j) = call(&w, &format!("url={base}/to-echo-307&method=POST&body=data"));
    assert_eq!(j["body"], "POST data auth=none", "{j}");
    // Authorization stays within the origin.
    let (_, j) = call(
        &w,
        &format!("url={base}/to-echo-307&method=POST&body=x&auth=secret"),
    );
    assert_eq!(j["body"], "POST x auth=secret", "{j}");
    let (_, j) = call(&w, &format!("url={base}/cross-origin&auth=secret"));
    assert_eq!(j["body"], "GET  auth=none", "{j}");
    // manual hands back the 3xx; error rejects; a loop stops.
    let (_, j) = call(&w, &format!("url={base}/to-echo-302&redirect=manual"));
    assert_eq!(j["status"], 302, "{j}");
    let (status, j) = call(&w, &format!("url={base}/to-echo-302&redirect=error"));
    assert_eq!(
        (status, j["error"].as_str()),
        (502, Some("TypeError")),
        "{j}"
    );
    let (_, j) = call(&w, &format!("url={base}/loop"));
    let msg = j["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("redirects") || msg.contains("subrequests"),
        "{j}"
    );
}

#[test]
fn timeouts_size_caps_and_budgets() {
    let port = upstream();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wisp.toml");
    std::fs::write(
        &config,
        format!(
            "[net]\nallow = [\"127.0.0.1:{port}\"]\ntimeout_ms = 500\nmax_response_bytes = 100000\nmax_subrequests = 3\n"
        ),
    )
    .unwrap();
    let w = Wisp::start(
        "tests/fixtures/outbound.js",
        &["--config", config.to_str().unwrap()],
    );
    let base = format!("http://127.0.0.1:{port}");
    let (status, j) = call(&w, &format!("url={base}/slow"));
    assert_eq!(status, 502, "{j}");
    assert!(
        j["message"].as_str().unwrap().contains("within 500 ms"),
        "{j}"
    );
    let too_large = |j: &serde_json::Value| {
        let message = j["message"].as_str().unwrap_or_default();
        assert!(message.contains("larger than 100000 bytes"), "{j}");
    };
    let (_, j) = call(&w, &format!("url={base}/big"));
    too_large(&j);
    // Without a Content-Length the cap is found while the body streams: reading it fails.
    let (status, j) = call(&w, &format!("url={base}/drip-big"));
    assert_eq!(status, 502, "{j}");
    assert_eq!(j["error"], "TypeError", "{j}");
    too_large(&j);
    // Each hop of a redirect loop spends one of the 3 subrequests.
    let (_, j) = call(&w, &format!("url={base}/loop"));
    assert!(
        j["message"]
            .as_str()
            .unwrap()
            .contains("all of its 3 subrequests"),
        "{j}"
    );
    // The budget is per request: the next request starts afresh.
    let (status, j) = call(&w, &format!("url={base}/hello"));
    assert_eq!(
        (status, &j["body"]),
        (200, &serde_json::json!("hello from upstream"))
    );
}

#[test]
fn crypto_subtle_matches_published_vectors() {
    let w = Wisp::start("tests/fixtures/web-crypto.js", &[]);
    let r = w.get("/");
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["failed"], serde_json::json!([]), "{j:#}");
    assert_eq!(
        (j["passed"].as_u64(), j["total"].as_u64()),
        (Some(5), Some(5)),
        "{j}"
    );
}

#[test]
fn fetch_speaks_https_and_checks_the_certificate() {
    let upstream = common::TlsUpstream::start("hello over tls");
    let allow = format!("localhost:{}", upstream.port);
    let url = format!("url=https://localhost:{}/", upstream.port);

    // Trusting the test CA ([net] ca_file): the exchange works.
    let config = upstream.config_file();
    let w = Wisp::start(
        "tests/fixtures/outbound.js",
        &["--allow-net", &allow, "--config", config.to_str().unwrap()],
    );
    let (status, j) = call(&w, &url);
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["status"], 200);
    assert_eq!(j["body"], "hello over tls");
    drop(w);

    // With the Mozilla roots only, the certificate is refused and fetch says so.
    let w = Wisp::start("tests/fixtures/outbound.js", &["--allow-net", &allow]);
    let (status, j) = call(&w, &url);
    assert_eq!(status, 502, "{j}");
    assert_eq!(j["error"], "TypeError");
    let message = j["message"].as_str().unwrap_or_default().to_lowercase();
    assert!(message.contains("certificate"), "{j}");
}

#[test]
fn fetches_run_at_the_same_time_and_abort_midway() {
    let port = upstream();
    let w = allowed_to(port, &[]);

    // The upstream answers "together" only to two requests in flight at once.
    let (status, j) = call(&w, &format!("pair=1&url=http://127.0.0.1:{port}/pair"));
    assert_eq!(status, 200, "{j}");
    assert_eq!(
        j["bodies"],
        serde_json::json!(["together", "together"]),
        "{j}"
    );

    // An AbortSignal that fires while the upstream is still answering (it takes 3 s) rejects
    // the fetch then, not when the answer comes.
    let started = std::time::Instant::now();
    let (status, j) = call(&w, &format!("abort=200&url=http://127.0.0.1:{port}/slow"));
    assert_eq!(status, 502, "{j}");
    assert_eq!(j["error"], "TimeoutError", "{j}");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the abort waited for the upstream: {:?}",
        started.elapsed()
    );
    still_fetches(&w, port);
}

#[test]
fn an_upstream_body_streams_through_to_the_client() {
    let port = upstream();
    let w = allowed_to(port, &[]);

    // The function returns the upstream's response as it is. Its first piece reaches the
    // client while the upstream is still sending (it pauses 1.5 s before the second).
    let mut s = TcpStream::connect(w.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = std::time::Instant::now();
    write!(
        s,
        "GET /?proxy=1&url=http://127.0.0.1:{port}/drip HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let mut first_at = None;
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&raw);
        if first_at.is_none() && text.contains("first piece") {
            first_at = Some(started.elapsed());
        }
    }
    let total = started.elapsed();
    let text = String::from_utf8_lossy(&raw).to_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(text.contains("x-upstream: yes"), "{text}");
    assert!(text.contains("transfer-encoding: chunked"), "{text}");
    assert!(text.contains("second piece"), "{text}");
    assert!(
        text.ends_with("0\r\n\r\n"),
        "the body ends with the last chunk: {text}"
    );
    let first_at = first_at.expect("the first piece arrived");
    assert!(
        first_at < Duration::from_millis(1200) && total >= Duration::from_millis(1400),
        "the first piece waited for the whole body: first after {first_at:?}, all after {total:?}"
    );

    // Read through the API, the same body comes whole; a reader that stops after the first
    // piece and cancels closes the upstream connection and answers at once.
    let (status, j) = call(&w, &format!("url=http://127.0.0.1:{port}/drip"));
    assert_eq!(status, 200, "{j}");
    assert_eq!(j["body"], "first piece\nsecond piece\n", "{j}");
    let started = std::time::Instant::now();
    let (status, j) = call(&w, &format!("first=1&url=http://127.0.0.1:{port}/drip"));
    assert_eq!(
        (status, &j["first"]),
        (200, &serde_json::json!("first piece\n")),
        "{j}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
    still_fetches(&w, port);
}

#[test]
fn a_request_body_streams_through_fetch_and_back() {
    let port = upstream();
    let w = allowed_to(port, &[]);

    // client → wisp → upstream → wisp → client, each hop chunk by chunk: the first chunk's
    // echo comes back while the client has not sent the second.
    let head = common::echoes_while_uploading(
        w.addr,
        &format!("/?pipe=1&url=http://127.0.0.1:{port}/echo-chunks"),
    );
    assert!(head.contains("x-upstream: yes"), "{head}");

    // A small body that arrived whole is sent whole: the upstream sees its length.
    let r = w.request(
        "POST",
        &format!("/?pipe=1&url=http://127.0.0.1:{port}/echo"),
        &[],
        b"in one piece",
    );
    assert_eq!(r.text(), "POST in one piece auth=none");

    // A stream cannot be sent twice: a 307 (which keeps the body) fails the fetch, a 302
    // after a POST becomes a GET without it, as the Fetch standard says.
    for (path, status, expected) in [
        ("/to-echo-307", 502, "ReadableStream body cannot"),
        ("/to-echo-302", 200, "GET  auth=none"),
    ] {
        let mut up = Upload::start(
            w.addr,
            "POST",
            &format!("/?pipe=1&url=http://127.0.0.1:{port}{path}"),
        );
        up.send(b"streamed");
        // The rest comes later: the function starts with a body still arriving.
        std::thread::sleep(Duration::from_millis(300));
        up.finish();
        let r = up.read_to_end();
        let text = String::from_utf8_lossy(&r.body).into_owned();
        assert!(
            r.head.starts_with(&format!("http/1.1 {status}")),
            "{path}: {r:?}"
        );
        assert!(text.contains(expected), "{path}: {text}");
    }
    still_fetches(&w, port);
}

#[test]
fn an_upload_that_fails_midway_ends_the_proxied_response_at_once() {
    let port = upstream();
    let w = allowed_to(
        port,
        &["--max-body-bytes", "100000", "--timeout-ms", "20000"],
    );
    // The response (the upstream's echo) is already streaming when the client's upload runs
    // past --max-body-bytes: the upload fails, and with it the response body, now rather than
    // at the time limit; the client sees it cut off, never complete.
    let mut up = Upload::start(
        w.addr,
        "POST",
        &format!("/?pipe=1&url=http://127.0.0.1:{port}/echo-chunks"),
    );
    up.send(b"first\n");
    let early = up.read_until(b"first\n", Duration::from_secs(10));
    assert_eq!(early.body, b"first\n", "{early:?}");
    let started = std::time::Instant::now();
    up.send(&[b'x'; 120_000]);
    let r = up.read_until(b"\0never\0", Duration::from_secs(15));
    assert!(!r.complete, "a failed upload must not end the echo cleanly");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the response waited for the time limit: {:?}",
        started.elapsed()
    );
    still_fetches(&w, port);
}

#[test]
fn heads_reasons_header_bytes_and_utf8_locations_come_through() {
    let port = upstream();
    let w = allowed_to(port, &[]);
    // A HEAD response declares the length of a body it does not have: no size cap applies.
    let (status, j) = call(&w, &format!("url=http://127.0.0.1:{port}/huge&method=HEAD"));
    assert_eq!(
        (status, j["status"].clone(), j["length"].clone()),
        (200, 200.into(), 0.into()),
        "{j}"
    );
    // The reason phrase the server sent.
    let (_, j) = call(&w, &format!("url=http://127.0.0.1:{port}/reason"));
    assert_eq!(j["statusText"], "Everything Fine", "{j}");
    // A header value goes out byte for byte as JS holds it (one byte per character up to
    // U+00FF), and no Accept-Encoding asks for a body fetch would not decode.
    let (_, j) = call(
        &w,
        &format!("url=http://127.0.0.1:{port}/headers&hdr=caf%C3%A9"),
    );
    assert_eq!(j["body"], "x-in=636166e9 accept-encoding=false", "{j}");
    // A Location in raw UTF-8 is followed, percent-encoded.
    let (_, j) = call(&w, &format!("url=http://127.0.0.1:{port}/to-utf8"));
    assert_eq!(
        (j["status"].clone(), j["body"].clone()),
        (200.into(), "followed".into()),
        "{j}"
    );
}
