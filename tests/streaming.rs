//! End-to-end tests of streamed response bodies: a JS `ReadableStream` reaches the client chunk
//! by chunk while the function's instance keeps running (real `wisp` binary, real HTTP, read
//! off a raw socket to see when each byte arrives).

mod common;

use common::{Upload, Wisp, dechunk};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A response read off the wire: the head, the decoded chunked body, whether the body ended
/// with the terminating chunk, and when each piece of it arrived.
struct Wire {
    head: String,
    body: Vec<u8>,
    complete: bool,
    /// (time since the request was sent, bytes of body decoded so far)
    arrivals: Vec<(Duration, Vec<u8>)>,
}

fn get_raw(addr: SocketAddr, path: &str) -> Wire {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = Instant::now();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let mut arrivals = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                arrivals.push((started.elapsed(), raw.clone()));
            }
        }
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let (body, complete) = dechunk(&raw[split..]);
    let arrivals = arrivals
        .into_iter()
        .map(|(t, r)| {
            (
                t,
                if r.len() > split {
                    dechunk(&r[split..]).0
                } else {
                    Vec::new()
                },
            )
        })
        .collect();
    Wire {
        head,
        body,
        complete,
        arrivals,
    }
}

impl Wire {
    /// When the decoded body first started with `prefix`.
    fn arrived(&self, prefix: &[u8]) -> Duration {
        self.arrivals
            .iter()
            .find(|(_, b)| b.starts_with(prefix))
            .unwrap_or_else(|| panic!("{:?} never arrived", String::from_utf8_lossy(prefix)))
            .0
    }
}

#[test]
fn a_stream_reaches_the_client_chunk_by_chunk() {
    let w = Wisp::start("tests/fixtures/streaming.js", &[]);
    let r = get_raw(w.addr, "/slow");
    assert!(r.head.starts_with("http/1.1 200"), "{}", r.head);
    assert!(r.head.contains("transfer-encoding: chunked"), "{}", r.head);
    assert!(r.head.contains("x-streamed: yes"), "{}", r.head);
    assert_eq!(r.body, b"chunk 0\nchunk 1\nchunk 2\n");
    assert!(r.complete, "the body ends with the last chunk");
    // The first line is on the client's side before the function has made the last one.
    let first = r.arrived(b"chunk 0\n");
    let last = r.arrivals.last().unwrap().0;
    assert!(
        first < Duration::from_millis(250),
        "first chunk after {first:?}"
    );
    assert!(
        last >= Duration::from_millis(550),
        "whole body after {last:?}"
    );
    assert!(
        !r.arrivals
            .iter()
            .any(|(t, b)| *t < Duration::from_millis(250) && b.len() > 8),
        "later chunks were not held back: {:?}",
        r.arrivals
            .iter()
            .map(|(t, b)| (*t, b.len()))
            .collect::<Vec<_>>()
    );

    let r = get_raw(w.addr, "/transform");
    assert!(r.head.starts_with("http/1.1 201"), "{}", r.head);
    assert_eq!(r.body, b"ALPHA BETA GAMMA");
    assert!(r.complete);
}

#[test]
fn a_large_stream_arrives_whole() {
    let w = Wisp::start("tests/fixtures/streaming.js", &[]);
    // 16 MiB: more than the instance's memory could hold at once if it were buffered twice.
    let r = get_raw(w.addr, "/big?n=256");
    assert!(r.complete);
    assert_eq!(r.body.len(), 256 * 65536);
    for (i, chunk) in r.body.chunks(65536).enumerate() {
        assert!(chunk.iter().all(|&b| b == i as u8), "chunk {i} is intact");
    }
}

#[test]
fn a_failing_stream_cuts_the_body_and_the_server_keeps_serving() {
    let w = Wisp::start("tests/fixtures/streaming.js", &["--timeout-ms", "700"]);
    let r = get_raw(w.addr, "/fails");
    assert!(r.head.starts_with("http/1.1 200"), "{}", r.head);
    assert_eq!(r.body, b"first\n");
    assert!(!r.complete, "a failed stream must not look complete");
    // The stream's error is logged (as an unhandled rejection) inside the guest, before the
    // host's line about the failure: wait for the line asserted on, not just the first one.
    w.wait_for_log("the source broke");
    let log = w.wait_for_log("the function failed after its response was sent");
    assert!(
        log.contains("the function failed after its response was sent"),
        "{log}"
    );

    // A stream that fails at once: an ordinary 500 when the instance ended before the server
    // sent anything, else (an epoch tick let the head go first) a cut body. Never a body that
    // looks complete.
    let r = get_raw(w.addr, "/bad-chunk");
    assert!(
        r.head.starts_with("http/1.1 500") || (r.head.starts_with("http/1.1 200") && !r.complete),
        "{}",
        r.head
    );
    w.wait_for_log("body chunks must be Uint8Array");

    // The time limit applies to the whole stream.
    let started = Instant::now();
    let r = get_raw(w.addr, "/forever");
    assert!(!r.complete);
    assert!(!r.body.is_empty(), "some of it was sent before the limit");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    w.wait_for_log("time limit");

    assert_eq!(w.get("/").text(), "ok");
    let r = get_raw(w.addr, "/slow");
    assert!(r.complete);
}

#[test]
fn the_streaming_example_sends_events_as_they_happen() {
    let w = Wisp::start("js-examples/streaming/index.js", &[]);
    let r = get_raw(w.addr, "/events?n=3&every=300");
    assert!(
        r.head.contains("content-type: text/event-stream"),
        "{}",
        r.head
    );
    assert!(r.complete);
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert_eq!(text.matches("event: tick\n").count(), 3, "{text}");
    assert!(text.contains("data: {\"n\":3,"), "{text}");
    let first = r.arrived(b"id: 1\n");
    assert!(
        first < Duration::from_millis(250),
        "first event after {first:?}"
    );
    assert!(r.arrivals.last().unwrap().0 >= Duration::from_millis(550));
    w.wait_for_log("streamed 3 events");

    let r = w.request("POST", "/upper", &[], b"edge functions\nstream too\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "EDGE FUNCTIONS\nSTREAM TOO\n");
    assert_eq!(w.get("/nope").status, 404);
}

#[test]
fn a_request_body_streams_into_the_function_and_out_again() {
    let w = Wisp::start(
        "tests/fixtures/streaming.js",
        &["--max-body-bytes", "100000"],
    );
    // The function answers with the body it is still receiving: the first chunk comes back
    // before the client sends the second.
    common::echoes_while_uploading(w.addr, "/echo-upload");

    // Read whole while it trickles in, in many chunks.
    let mut up = Upload::start(w.addr, "POST", "/read-upload");
    for i in 0..20 {
        up.send(format!("{i:05}|").repeat(100).as_bytes());
        if i % 5 == 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    up.finish();
    let r = up.read_to_end();
    let j: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(j["length"], 12_000, "{j}");
    assert_eq!(
        (j["head"].as_str(), j["tail"].as_str()),
        (Some("00000|"), Some("00019|"))
    );

    // Past --max-body-bytes while the function reads (the rest is sent only once it has
    // started): its read fails with the limit named.
    let mut up = Upload::start(w.addr, "POST", "/read-and-report");
    up.send(&[b'a'; 60_000]);
    let started = up.read_until(b"started\n", Duration::from_secs(10));
    assert_eq!(started.body, b"started\n", "{started:?}");
    up.send(&[b'b'; 60_000]);
    up.finish();
    let r = up.read_to_end();
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "started\nTypeError: the request body is larger than 100000 bytes ([http] max_body_bytes)\n"
    );
    assert!(r.complete, "{r:?}");
    // A function that lets that failure through: 413, as if the length had been known.
    let mut up = Upload::start(w.addr, "POST", "/read-uncaught");
    up.send(&[b'a'; 60_000]);
    std::thread::sleep(Duration::from_millis(300));
    up.send(&[b'b'; 60_000]);
    up.finish();
    let r = up.read_to_end();
    assert!(r.head.starts_with("http/1.1 413"), "{r:?}");
    let j: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(j["kind"], "body_too_large", "{j}");
    assert_eq!(w.get("/").text(), "ok");
}
