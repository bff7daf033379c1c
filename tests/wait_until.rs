//! End-to-end tests of `waitUntil`: work that goes on after the client has its response, on the
//! same instance, within the request's time limit (real `wisp` binary, real KV on sled).

mod common;

use common::Wisp;
use std::time::{Duration, Instant};

fn read_until(w: &Wisp, key: &str, want: &str) -> (String, Duration) {
    let started = Instant::now();
    loop {
        let got = w.get(&format!("/read?key={key}")).text();
        if got == want || started.elapsed() > Duration::from_secs(5) {
            return (got, started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn work_continues_after_the_response() {
    let w = Wisp::start("tests/fixtures/wait-until.js", &[]);
    let started = Instant::now();
    let r = w.get("/later?key=a");
    let answered = started.elapsed();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "sent first");
    assert!(
        answered < Duration::from_millis(300),
        "answered after {answered:?}"
    );
    // Not written yet when the client has the answer…
    assert_eq!(w.get("/read?key=a").text(), "missing");
    // …but soon after, by the same request's instance.
    let (got, _) = read_until(&w, "a", "written after the response");
    assert_eq!(got, "written after the response");
    w.wait_for_log("waitUntil done for a");

    assert_eq!(w.get("/sent-is-used?key=c").text(), "once");
    let (got, _) = read_until(&w, "c", "true threw TypeError");
    assert_eq!(got, "true threw TypeError");

    let r = w.get("/stream-then-work?key=b");
    assert_eq!(r.text(), "streamed");
    let (got, _) = read_until(&w, "b", "after the stream");
    assert_eq!(got, "after the stream");
}

#[test]
fn failing_or_endless_work_is_logged_and_bounded() {
    let w = Wisp::start("tests/fixtures/wait-until.js", &["--timeout-ms", "600"]);
    let r = w.get("/fails");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok despite the failure");
    let log = w.wait_for_log("the background job broke");
    assert!(log.contains("waitUntil:"), "{log}");
    assert!(
        log.contains("wait-until.js"),
        "the stack points at the source: {log}"
    );

    let started = Instant::now();
    let r = w.get("/forever");
    assert_eq!(r.text(), "answered");
    assert!(started.elapsed() < Duration::from_millis(400));
    let log = w.wait_for_log("failed after its response was sent");
    assert!(log.contains("time limit of 600 ms"), "{log}");
    // The server is unaffected.
    assert_eq!(w.get("/").text(), "ok");
}

#[test]
fn sigterm_lets_wait_until_work_finish() {
    let mut w = Wisp::start("tests/fixtures/wait-until.js", &[]);
    let r = w.get("/later?key=s");
    assert_eq!(r.text(), "sent first");
    // The client has its answer; the instance has 400 ms of work left when the signal comes.
    w.terminate();
    let status = w
        .wait(Duration::from_secs(10))
        .expect("wisp did not exit after SIGTERM");
    assert!(status.success(), "{status}");
    let log = w.wait_for_log("waitUntil done for s");
    assert!(
        log.contains("waitUntil done for s"),
        "the work was cut short by the shutdown: {log}"
    );
}

#[test]
fn a_streamed_body_ends_before_its_wait_until_work_and_is_never_cut_by_it() {
    let w = Wisp::start("tests/fixtures/wait-until.js", &["--timeout-ms", "800"]);
    let started = Instant::now();
    let r = w.get("/stream-then-long-work");
    assert_eq!((r.status, r.text()), (200, "all of it".to_owned()));
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "the body ended only with the work: {:?}",
        started.elapsed()
    );
    // Work cut by the time limit after the body was complete: the client saw a whole body.
    let r = w.get("/stream-then-long-work?forever");
    assert_eq!((r.status, r.text()), (200, "all of it".to_owned()));
    w.wait_for_log("time limit of 800 ms");
    assert_eq!(w.get("/").text(), "ok");
}

#[test]
fn wait_until_work_runs_even_when_the_handler_fails() {
    let w = Wisp::start("tests/fixtures/wait-until.js", &[]);
    let r = w.get("/throws-after-work?key=e");
    assert_eq!(r.status, 500);
    let (got, _) = read_until(&w, "e", "reported");
    assert_eq!(got, "reported");
}
