//! End-to-end tests of the web platform polyfills: each fixture in `tests/fixtures/web-*.js`
//! runs groups of checks inside the real engine (real `wisp` binary, real wasmtime, real HTTP)
//! and answers `{ passed, total, failed: [{ name, error }] }`; a failure names its check.

mod common;

use common::Wisp;
use serde_json::json;

/// Runs a fixture's checks with `GET /` and asserts that all `expected` of them passed.
fn run_checks(w: &Wisp, expected: u64) {
    let r = w.get("/");
    assert_eq!(r.status, 200, "{}\n{}", r.text(), w.stderr());
    let j = r.json();
    assert_eq!(j["failed"], json!([]), "failed checks: {j:#}");
    assert_eq!(
        j["total"], expected,
        "the fixture's number of checks changed: {j}"
    );
    assert_eq!(j["passed"], expected, "{j}");
}

#[test]
fn events_abort_signals_and_global_scope() {
    let w = Wisp::start("tests/fixtures/web-events.js", &[]);
    run_checks(&w, 15);
    // reportError logs what no listener handled, as an uncaught error.
    let log = w.wait_for_log("logged as uncaught");
    assert!(log.contains("Uncaught"), "{log}");
}

#[test]
fn streams() {
    let w = Wisp::start("tests/fixtures/web-streams.js", &[]);
    run_checks(&w, 19);
    let r = w.get("/stream");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.text(), "part0;part1;part2;");
}

#[test]
fn blobs_form_data_and_bodies() {
    let w = Wisp::start("tests/fixtures/web-bodies.js", &[]);
    run_checks(&w, 18);

    // A multipart request as a client sends it, parsed by request.formData().
    let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nh\xc3\xa9llo\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a.bin\"\r\nContent-Type: application/x-thing\r\n\r\n\x00\x01\xff\r\n\
--XyZ--\r\n";
    let r = w.request(
        "POST",
        "/form",
        &[("content-type", "multipart/form-data; boundary=XyZ")],
        body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"title": "héllo", "upload": {"name": "a.bin", "type": "application/x-thing", "bytes": [0, 1, 255]}})
    );
    let r = w.request(
        "POST",
        "/form",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"title=a+b%21",
    );
    assert_eq!(r.json(), json!({"title": "a b!"}));
    let r = w.request("POST", "/form", &[("content-type", "text/plain")], b"x");
    assert_eq!(r.status, 400, "{}", r.text());

    // A FormData response body: multipart with a boundary in its content type.
    let r = w.get("/multipart");
    let ct = r.header("content-type").unwrap().to_owned();
    let boundary = ct
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("content-type {ct}"));
    let text = r.text();
    assert!(text.starts_with(&format!("--{boundary}\r\n")), "{text}");
    assert!(text.ends_with(&format!("--{boundary}--\r\n")), "{text}");
    assert!(
        text.contains("Content-Disposition: form-data; name=\"f\"; filename=\"n.txt\"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n"),
        "{text}"
    );
}

#[test]
fn compression_streams() {
    let w = Wisp::start("tests/fixtures/web-compression.js", &[]);
    run_checks(&w, 4);
    // A gzipped streamed response reaches the client as gzip bytes with its header.
    let r = w.get("/gzip");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(&r.body[..2], &[0x1f, 0x8b], "{:?}", r.body);
}
