//! `wisp serve` end to end: the real binary, its admin API and the `wisp` CLI over HTTP, each
//! test with its own data directory. Deploys, calls by path and by host, a failed redeploy that
//! leaves the old version serving, rollback, delete, restart from the registry, tokens,
//! malicious archives, logs and metrics.

mod common;

use common::{Resp, read_response, wisp_command};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "test-admin-token-0123";

struct Server {
    child: Child,
    addr: SocketAddr,
    admin: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(data: &Path, config: Option<&str>) -> Server {
        Self::try_start(data, config, &[]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start(data: &Path, config: Option<&str>, extra: &[&str]) -> Result<Server, String> {
        let mut cmd = wisp_command();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .env("WISP_ADMIN_TOKEN", TOKEN);
        // The shared test cache, unless the test wants the server's own (DATA/cache).
        if !extra.contains(&"--own-cache") {
            cmd.arg("--cache-dir").arg(common::cache_dir());
        }
        cmd.args(extra.iter().filter(|a| **a != "--own-cache"));
        if !extra.contains(&"--admin-listen") {
            cmd.args(["--admin-listen", "127.0.0.1:0"]);
        }
        if let Some(c) = config {
            let path = data.join("wisp-test.toml");
            std::fs::write(&path, c).unwrap();
            cmd.arg("--config").arg(path);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawning wisp serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "wisp: serving N functions on http://A admin http://B"
        let urls: Vec<SocketAddr> = line
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("http://"))
            .filter_map(|a| a.parse().ok())
            .collect();
        if urls.len() != 2 {
            let status = child.wait().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            return Err(format!(
                "wisp serve did not start ({status}): stdout {line:?}, stderr:\n{}",
                stderr.lock().unwrap()
            ));
        }
        Ok(Server {
            child,
            addr: urls[0],
            admin: urls[1],
            stderr,
        })
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The log once it contains `needle` (stderr is read by another thread), or after 5 s.
    fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.stderr();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A call to a function, with this Host header.
    fn call(&self, host: &str, path: &str) -> Resp {
        raw(self.addr, "GET", path, host, &[], b"")
    }

    fn get(&self, path: &str) -> Resp {
        self.call("wisp.test", path)
    }

    /// An admin call with the right token.
    fn api(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let auth = format!("Bearer {TOKEN}");
        let mut h = vec![("Authorization", auth.as_str())];
        h.extend_from_slice(headers);
        raw(
            self.admin,
            method,
            &format!("/_wisp/api/v1{path}"),
            "admin",
            &h,
            body,
        )
    }

    fn deploy(&self, name: &str, body: &[u8], settings: &str) -> Resp {
        self.api(
            "PUT",
            &format!("/functions/{name}"),
            &[("x-wisp-settings", settings)],
            body,
        )
    }

    fn metrics(&self) -> String {
        let auth = format!("Bearer {TOKEN}");
        let r = raw(
            self.admin,
            "GET",
            "/metrics",
            "admin",
            &[("Authorization", &auth)],
            b"",
        );
        assert_eq!(r.status, 200);
        r.text()
    }

    /// SIGKILL: no shutdown code runs, as in a crash.
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stop(mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: plain syscall on the pid of a child this test spawned and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "wisp serve did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    read_response(&mut BufReader::new(s))
}

const V1: &str = "addEventListener('fetch', (e) => {
  const u = new URL(e.request.url);
  console.log('hit ' + u.pathname);
  e.respondWith(new Response('v1 ' + u.pathname + u.search + ' ' + process.env.GREETING + ' ' + process.env.API_KEY.length));
});
";

const BROKEN: &str = "addEventListener('fetch', (e) => {
  const broken = {;
});
";

fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, text.as_bytes()).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

fn project_v2() -> Vec<u8> {
    tar_gz(&[
        (
            "index.js",
            "import { msg } from './lib/msg.js';\n\
             export default { fetch(req) { return new Response('v2 ' + msg + ' ' + new URL(req.url).pathname); } };\n",
        ),
        ("lib/msg.js", "export const msg = 'from-lib';\n"),
    ])
}

/// The value of a metric line, e.g. `wisp_deploys_total{result="ok"}`.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).map(str::trim))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn deploy_call_fail_rollback_restart_and_delete() {
    let data = tempfile::tempdir().unwrap();
    let config = "[routing]\nbase_domain = \"fn.test\"\n";
    let server = Server::start(data.path(), Some(config));
    assert_eq!(server.get("/hello/").status, 404, "nothing deployed yet");

    // A single file, with an env var and a secret.
    let r = server.deploy(
        "hello",
        V1.as_bytes(),
        r#"{"env":{"GREETING":"hi"},"secrets":{"API_KEY":"sk-very-secret"}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(report["version"], 1);
    let stages: Vec<&str> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    for s in ["bundle", "snapshot", "compile", "activate"] {
        assert!(stages.contains(&s), "{s} missing from {stages:?}");
    }

    // Path prefix (stripped) and host name.
    let r = server.get("/hello/a/b?x=1");
    assert_eq!((r.status, r.text()), (200, "v1 /a/b?x=1 hi 14".into()));
    assert_eq!(server.get("/hello").text(), "v1 / hi 14");
    assert_eq!(server.call("hello.fn.test:80", "/c").text(), "v1 /c hi 14");
    assert_eq!(server.call("nope.fn.test", "/c").status, 404);
    assert!(server.get("/hello/").header("x-request-id").is_some());

    // The description redacts the secret.
    let r = server.api("GET", "/functions/hello", &[], b"");
    assert_eq!(r.status, 200);
    let d = r.json();
    assert_eq!(d["active_version"], 1);
    assert_eq!(
        d["versions"][0]["settings"]["secrets"]["API_KEY"],
        "[redacted]"
    );
    assert_eq!(d["versions"][0]["settings"]["env"]["GREETING"], "hi");
    assert_eq!(d["versions"][0]["upload_bytes"], V1.len());
    assert_eq!(
        d["versions"][0]["upload_sha256"].as_str().unwrap().len(),
        64
    );
    assert!(!r.text().contains("sk-very-secret"));
    // On disk, the secret is this user's only.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.path().join("functions")), 0o700);
    assert_eq!(
        mode(&data.path().join("functions/hello/versions/1/meta.json")),
        0o600
    );

    // A syntax error: 400 with the place, and version 1 keeps serving.
    let r = server.deploy("hello", BROKEN.as_bytes(), "{}");
    assert_eq!(r.status, 400, "{}", r.text());
    let e = r.json()["error"].as_str().unwrap().to_owned();
    assert!(e.contains("index.js:2:"), "{e}");
    // Named as uploaded, not by the server's work folder.
    assert!(!e.contains(".tmp") && !e.contains("/src/"), "{e}");
    assert_eq!(server.get("/hello/x").text(), "v1 /x hi 14");

    // A project as .tar.gz, with a custom route.
    let r = server.deploy("hello", &project_v2(), r#"{"routes":["api.test/v1/*"]}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["version"], 2);
    assert_eq!(server.get("/hello/x").text(), "v2 from-lib /x");
    assert_eq!(
        server.call("api.test", "/v1/users").text(),
        "v2 from-lib /v1/users"
    );
    assert_eq!(server.call("api.test", "/v2").status, 404);

    // Rollback.
    let r = server.api(
        "POST",
        "/functions/hello/rollback",
        &[],
        br#"{"version":1}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.get("/hello/x").text(), "v1 /x hi 14");
    assert_eq!(
        server.call("api.test", "/v1/users").status,
        404,
        "v1 has no route"
    );
    let r = server.api(
        "POST",
        "/functions/hello/rollback",
        &[],
        br#"{"version":9}"#,
    );
    assert_eq!(r.status, 404, "{}", r.text());
    let r = server.api("POST", "/functions/hello/rollback", &[], b"{}");
    assert_eq!(r.status, 400, "{}", r.text());

    // Logs: the console line of the calls above.
    let r = server.api("GET", "/functions/hello/logs", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("hit /x"), "{}", r.text());

    // Metrics moved.
    let m = server.metrics();
    assert!(
        metric(&m, "wisp_requests_total{function=\"hello\",status=\"2xx\"}") >= 6.0,
        "{m}"
    );
    assert!(metric(&m, "wisp_instantiations_total{function=\"hello\"}") >= 6.0);
    assert_eq!(metric(&m, "wisp_deploys_total{result=\"ok\"}"), 2.0);
    assert_eq!(metric(&m, "wisp_deploys_total{result=\"error\"}"), 1.0);
    assert!(metric(&m, "wisp_unrouted_requests_total") >= 2.0);
    assert!(
        metric(
            &m,
            "wisp_request_duration_seconds_count{function=\"hello\"}"
        ) >= 6.0
    );

    // A version deployed with its own (generous) time limit…
    let spin = "export default { fetch() { for (;;) {} } };\n";
    let r = server.deploy("spin", spin.as_bytes(), r#"{"timeout_ms":8000}"#);
    assert_eq!(r.status, 200, "{}", r.text());

    // A restart serves the active version from the registry and the compiled cache.
    server.stop();
    // A function whose registry entry is corrupt is skipped (and logged), not fatal.
    let broken = data.path().join("functions/broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("active"), "not a number").unwrap();
    let server = Server::start(data.path(), Some(config));
    assert_eq!(server.get("/hello/x").text(), "v1 /x hi 14");
    assert_eq!(server.get("/broken/").status, 404);
    std::fs::remove_dir_all(&broken).unwrap();
    let log = server.wait_for_log("registry restored");
    assert!(
        log.contains("functions=2 from_cache=2"),
        "the restart did not use the cache:\n{log}"
    );
    server.stop();
    // …is held to the server's limit when the server comes back with a lower one.
    let server = Server::try_start(data.path(), Some(config), &["--timeout-ms", "500"])
        .unwrap_or_else(|e| panic!("{e}"));
    let t = Instant::now();
    assert_eq!(server.get("/spin/").status, 504);
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "the version's 8 s outlived the server's 500 ms: {:?}",
        t.elapsed()
    );

    // Delete.
    let r = server.api("DELETE", "/functions/hello", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.get("/hello/x").status, 404);
    assert_eq!(server.api("GET", "/functions/hello", &[], b"").status, 404);
    assert_eq!(
        server.api("DELETE", "/functions/hello", &[], b"").status,
        404
    );
    assert!(!data.path().join("functions/hello").exists());
}

#[test]
fn the_admin_api_needs_the_token() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), None);
    for (method, path) in [
        ("GET", "/_wisp/api/v1/functions"),
        ("PUT", "/_wisp/api/v1/functions/x"),
        ("DELETE", "/_wisp/api/v1/functions/x"),
        ("GET", "/metrics"),
    ] {
        let none = raw(server.admin, method, path, "admin", &[], b"x");
        assert_eq!(none.status, 401, "{method} {path} without a token");
        let wrong = raw(
            server.admin,
            method,
            path,
            "admin",
            &[("Authorization", "Bearer test-admin-token-0124")],
            b"x",
        );
        assert_eq!(wrong.status, 401, "{method} {path} with a wrong token");
    }
    assert_eq!(server.api("GET", "/functions", &[], b"").status, 200);
    // Names are validated.
    let r = server.deploy("Bad_Name", V1.as_bytes(), "{}");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("invalid function name"), "{}", r.text());
    for path in [
        "/functions/..",
        "/functions/../logs",
        "/functions/a.b/rollback",
    ] {
        let method = if path.ends_with("rollback") {
            "POST"
        } else {
            "GET"
        };
        let r = server.api(method, path, &[], br#"{"version":1}"#);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
    }
    // Bad settings.
    let r = server.deploy("ok", V1.as_bytes(), r#"{"timeout_ms":99999999}"#);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("timeout_ms"), "{}", r.text());
    drop(server);

    // No token and a public admin address: refused, exit code 2.
    let mut cmd = wisp_command();
    let out = cmd
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(data.path())
        .env_remove("WISP_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no admin token"), "{err}");
}

#[test]
fn malicious_archives_are_rejected() {
    let outer = tempfile::tempdir().unwrap();
    let data = outer.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let server = Server::start(&data, Some("[admin]\nmax_unpacked_bytes = 100000\n"));

    // Raw headers, as an attacker would write them (the tar crate's builder refuses `..`).
    let evil = |kind: tar::EntryType, name: &str, link: &str, body: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, body).unwrap();
        let mut h2 = tar::Header::new_gnu();
        h2.set_size(2);
        h2.set_mode(0o644);
        b.append_data(&mut h2, "index.js", &b"//"[..]).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&b.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    };
    let zip_with = |name: &str| {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"//").unwrap();
        w.finish().unwrap().into_inner()
    };
    let bomb = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("zeros.js", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&vec![b' '; 1 << 20]).unwrap();
        w.finish().unwrap().into_inner()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dot-dot",
            evil(tar::EntryType::Regular, "../../evil.js", "", b"x"),
            "`..`",
        ),
        (
            "absolute",
            evil(tar::EntryType::Regular, "/tmp/evil-wisp.js", "", b"x"),
            "absolute",
        ),
        (
            "symlink out",
            evil(tar::EntryType::Symlink, "link", "../../..", b""),
            "leaves",
        ),
        (
            "hard link out",
            evil(tar::EntryType::Link, "h", "../../../etc/passwd", b""),
            "hard link",
        ),
        ("zip dot-dot", zip_with("../evil.js"), "`..`"),
        ("zip bomb", bomb, "more than 100000 bytes"),
    ];
    for (what, bytes, expect) in cases {
        let r = server.deploy("evil", &bytes, "{}");
        assert_eq!(r.status, 400, "{what}: {}", r.text());
        let e = r.json()["error"].as_str().unwrap().to_owned();
        assert!(e.contains(expect), "{what}: {e}");
    }
    let listed = server.api("GET", "/functions", &[], b"").json();
    assert_eq!(listed["functions"].as_array().unwrap().len(), 0);
    let outside: Vec<_> = std::fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        outside,
        ["data"],
        "something was written beside the data dir"
    );
    assert!(!Path::new("/tmp/evil-wisp.js").exists());
    let work: Vec<_> = std::fs::read_dir(data.join("functions/.tmp"))
        .unwrap()
        .collect();
    assert!(work.is_empty(), "work folders left behind");

    // A well-formed zip deploys.
    let good = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default();
        w.start_file("src/index.js", o).unwrap();
        w.write_all(b"import { n } from './n.js';\nexport default { fetch() { return new Response('zip ' + n); } };\n").unwrap();
        w.start_file("src/n.js", o).unwrap();
        w.write_all(b"export const n = 7;\n").unwrap();
        w.finish().unwrap().into_inner()
    };
    let r = server.deploy("zipped", &good, r#"{"entry":"src/index.js"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.get("/zipped/").text(), "zip 7");

    // An upload over the limit.
    drop(server);
    let server = Server::start(&data, Some("[admin]\nmax_upload_bytes = 1000\n"));
    let r = server.deploy("big", &vec![b' '; 2000], "{}");
    assert_eq!(r.status, 413, "{}", r.text());
}

fn cli(server: &Server, args: &[&str]) -> (bool, String) {
    let out = wisp_command()
        .args(args)
        .env("WISP_SERVER", format!("http://{}", server.admin))
        .env("WISP_ADMIN_TOKEN", TOKEN)
        .env("WISP_CLI_CONFIG", "/nonexistent/cli.toml")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_cli_deploys_lists_rolls_back_follows_logs_and_deletes() {
    let data = tempfile::tempdir().unwrap();
    // A quiet server log: `wisp logs` still shows the functions' console lines.
    let server = Server::try_start(data.path(), None, &["--log-level", "error"]).unwrap();
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    std::fs::write(p.join(".gitignore"), "broken.js\n").unwrap();
    std::fs::write(
        p.join("index.ts"),
        "import { greet } from './greet';\n\
         export default { fetch(req: Request, env: any): Response { console.log('cli-hit'); return new Response(greet(env.WHO)); } };\n",
    )
    .unwrap();
    std::fs::write(
        p.join("greet.ts"),
        "export function greet(who: string): string { return 'hello ' + who; }\n",
    )
    .unwrap();
    // Ignored by .gitignore: a deploy that packed it would still work, but it must not travel.
    std::fs::write(p.join("broken.js"), "this is not JavaScript {{{").unwrap();

    let dir = p.to_str().unwrap();
    let (ok, out) = cli(&server, &["deploy", "greeter", dir, "--env", "WHO=cli"]);
    assert!(ok, "{out}");
    for stage in [
        "pack",
        "bundle",
        "snapshot",
        "compile",
        "activate",
        "deployed greeter version 1",
    ] {
        assert!(out.contains(stage), "{stage} missing:\n{out}");
    }
    assert_eq!(server.get("/greeter/").text(), "hello cli");

    // A single file, as version 2.
    let single = p.join("single.js");
    std::fs::write(
        &single,
        "export default { fetch() { return new Response('single'); } };\n",
    )
    .unwrap();
    let (ok, out) = cli(&server, &["deploy", "greeter", single.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert_eq!(server.get("/greeter/").text(), "single");

    // A failed deploy prints the server's error and exits non-zero.
    let bad = p.join("bad.js");
    std::fs::write(&bad, "export default {\n  fetch() { return ; ) }\n};\n").unwrap();
    let (ok, out) = cli(&server, &["deploy", "greeter", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("400") && out.contains("bad.js:2:"), "{out}");

    let (ok, out) = cli(&server, &["list"]);
    assert!(ok, "{out}");
    assert!(out.contains("greeter") && out.contains(" 2 "), "{out}");

    let (ok, out) = cli(&server, &["rollback", "greeter", "1"]);
    assert!(ok, "{out}");
    assert!(out.contains("version 1"), "{out}");
    assert_eq!(server.get("/greeter/").text(), "hello cli");

    let (ok, out) = cli(&server, &["logs", "greeter"]);
    assert!(ok, "{out}");
    assert!(out.contains("cli-hit"), "{out}");

    // --follow streams new lines.
    let mut follow = wisp_command()
        .args(["logs", "greeter", "--follow"])
        .env("WISP_SERVER", format!("http://{}", server.admin))
        .env("WISP_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = follow.stdout.take().unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().matches("cli-hit").count() < 3 {
        // Lines printed before --follow started come first; new ones must follow.
        assert!(
            Instant::now() < deadline,
            "no new lines:\n{}",
            seen.lock().unwrap()
        );
        server.get("/greeter/");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = follow.kill();
    let _ = follow.wait();

    let (ok, out) = cli(&server, &["delete", "greeter"]);
    assert!(ok, "{out}");
    assert_eq!(server.get("/greeter/").status, 404);
    let (ok, out) = cli(&server, &["delete", "greeter"]);
    assert!(!ok && out.contains("404"), "{out}");

    // Server and token from the CLI config file.
    let conf = project.path().join("cli.toml");
    std::fs::write(
        &conf,
        format!(
            "server = \"http://{}\"\ntoken = \"{TOKEN}\"\n",
            server.admin
        ),
    )
    .unwrap();
    let out = wisp_command()
        .args(["list"])
        .env("WISP_CLI_CONFIG", &conf)
        .env_remove("WISP_SERVER")
        .env_remove("WISP_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no functions deployed"));

    // Wrong token from the CLI.
    let out = wisp_command()
        .args([
            "list",
            "--server",
            &format!("http://{}", server.admin),
            "--token",
            "nope",
        ])
        .env("WISP_CLI_CONFIG", "/nonexistent/cli.toml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
}

#[test]
fn requests_in_flight_finish_on_their_version_and_logs_can_be_json() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), Some("[log]\nformat = \"json\"\n"));
    let slow = "export default { async fetch() {\n  await new Promise((r) => setTimeout(r, 4000));\n  return new Response('slow v1');\n} };\n";
    let r = server.deploy("swap", slow.as_bytes(), "{}");
    assert_eq!(r.status, 200, "{}", r.text());
    let addr = server.addr;
    let in_flight = std::thread::spawn(move || raw(addr, "GET", "/swap/", "wisp.test", &[], b""));
    std::thread::sleep(Duration::from_millis(300));
    let fast = "export default { fetch() { return new Response('fast v2'); } };\n";
    let started = Instant::now();
    let r = server.deploy("swap", fast.as_bytes(), "{}");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.get("/swap/").text(), "fast v2");
    let deployed_after = started.elapsed();
    let old = in_flight.join().unwrap();
    assert_eq!(
        old.text(),
        "slow v1",
        "the request in flight kept its version"
    );
    assert!(
        deployed_after < Duration::from_millis(3500),
        "v2 went live only after the slow request ({deployed_after:?}): the check above proves nothing"
    );

    // A function's own time limit: a CPU loop is cut at 300 ms, counted as a timeout.
    let spin = "export default { fetch() { for (;;) {} } };\n";
    let r = server.deploy("spin", spin.as_bytes(), r#"{"timeout_ms":300}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let t = Instant::now();
    assert_eq!(server.get("/spin/").status, 504);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Its request body, too, must arrive within its 300 ms, not the server's 10 s.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    write!(
        s,
        "POST /spin/ HTTP/1.1\r\nHost: wisp.test\r\nContent-Length: 100\r\n\r\n0123456789"
    )
    .unwrap();
    let mut head = String::new();
    BufReader::new(&s).read_line(&mut head).unwrap();
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let m = server.metrics();
    assert_eq!(
        metric(&m, "wisp_timeouts_total{function=\"spin\"}"),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(&m, "wisp_requests_total{function=\"spin\",status=\"5xx\"}"),
        1.0
    );
    assert_eq!(metric(&m, "wisp_active_instances{function=\"swap\"}"), 0.0);

    // And its own memory limit: 64 pages (4 MiB) instead of the server's 128 MiB.
    let hog = "export default { fetch() { const a = []; for (let i = 0; i < 1e6; i++) a.push({ i }); return new Response(String(a.length)); } };\n";
    let r = server.deploy("hog", hog.as_bytes(), r#"{"max_memory_pages":64}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.get("/hog/");
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.text().contains("memory"), "{}", r.text());
    let m = server.metrics();
    assert_eq!(
        metric(&m, "wisp_memory_limit_kills_total{function=\"hog\"}"),
        1.0,
        "{m}"
    );
    // The kills are in each function's log.
    let logs = server.api("GET", "/functions/spin/logs", &[], b"").text();
    let line = logs
        .lines()
        .find(|l| l.contains("kind=timeout"))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(
        line.starts_with("20") && line.contains("ERROR") && line.contains("[wisp]"),
        "{line}"
    );
    let logs = server.api("GET", "/functions/hog/logs", &[], b"").text();
    assert!(logs.contains("kind=memory_limit"), "{logs}");

    // A limit below what the snapshot starts with, or a route no request could match, is
    // refused at deploy time, and the live version goes on serving.
    let r = server.deploy("hog", hog.as_bytes(), r#"{"max_memory_pages":1}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("max_memory_pages 1 is below"),
        "{}",
        r.text()
    );
    let r = server.deploy("hog", hog.as_bytes(), r#"{"routes":["a/\u00e9"]}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("must be ASCII"), "{}", r.text());
    let r = server.get("/hog/");
    assert_eq!(
        r.status,
        500,
        "the live version stopped serving: {}",
        r.text()
    );
    assert!(r.text().contains("memory"), "{}", r.text());

    // Every log line is a JSON object; the deploy's line carries its fields.
    let log = server.wait_for_log("\"function\":\"spin\"");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|v| v["fields"]["message"] == "deployed"
            && v["fields"]["function"] == "swap"
            && v["level"] == "INFO"),
        "{log}"
    );

    // A client following the logs does not hold up a shutdown (the grace period is 11 s).
    let mut follow = TcpStream::connect(server.admin).unwrap();
    follow
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        follow,
        "GET /_wisp/api/v1/functions/swap/logs?follow=1 HTTP/1.1\r\nHost: admin\r\n\
         Authorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    follow.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let t = Instant::now();
    server.stop();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t.elapsed()
    );
}

#[test]
fn a_crash_during_a_deploy_leaves_the_previous_version() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), None);
    let r = server.deploy(
        "crash",
        b"export default { fetch() { return new Response('v1'); } };\n",
        "{}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Top-level code that runs for 3 s: the deploy is surely still snapshotting when killed.
    // A nonce keeps it out of the compiled cache (where an earlier run may have put it).
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let slow = format!(
        "const end = Date.now() + 3000; // {nonce}\nwhile (Date.now() < end) {{}}\n\
         export default {{ fetch() {{ return new Response('v2'); }} }};\n"
    );
    let admin = server.admin;
    std::thread::spawn(move || {
        let auth = format!("Bearer {TOKEN}");
        let mut s = TcpStream::connect(admin).unwrap();
        let head = format!(
            "PUT /_wisp/api/v1/functions/crash HTTP/1.1\r\nHost: admin\r\nAuthorization: {auth}\r\n\
             Content-Length: {}\r\n\r\n",
            slow.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(slow.as_bytes()).unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    });
    // Wait until the upload is being worked on (its work folder exists), then crash.
    let work = data.path().join("functions/.tmp");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&work).unwrap().count() == 0 {
        assert!(Instant::now() < deadline, "the deploy never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    server.kill9();

    let server = Server::start(data.path(), None);
    assert_eq!(server.get("/crash/").text(), "v1");
    let d = server.api("GET", "/functions/crash", &[], b"").json();
    assert_eq!(d["active_version"], 1);
    assert_eq!(d["versions"].as_array().unwrap().len(), 1, "{d}");
    assert_eq!(
        std::fs::read_dir(&work).unwrap().count(),
        0,
        "the interrupted work folder was kept"
    );
    // The next deploy takes the next number.
    let r = server.deploy(
        "crash",
        b"export default { fetch() { return new Response('v2b'); } };\n",
        "{}",
    );
    assert_eq!(r.json()["version"], 2);
    assert_eq!(server.get("/crash/").text(), "v2b");
}

#[test]
fn deleting_a_function_removes_its_compiled_snapshots_from_the_servers_cache() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::try_start(data.path(), None, &["--own-cache"]).unwrap();
    let cwasm = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".cwasm"))
            .collect();
        v.sort();
        v
    };
    let cache = data.path().join("cache");
    let code =
        |s: &str| format!("export default {{ fetch() {{ return new Response('{s}'); }} }};\n");
    let r = server.deploy("keep", code("keep").as_bytes(), "{}");
    assert_eq!(r.status, 200, "{}", r.text());
    // keep's snapshot and the snapshotter's own module (built before the first snapshot).
    let base = cwasm(&cache);
    assert_eq!(base.len(), 2, "{base:?}");
    for v in ["a", "b"] {
        let r = server.deploy("gone", code(v).as_bytes(), "{}");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // The same code as "keep": one compiled file serves both.
    let r = server.deploy("gone", code("keep").as_bytes(), "{}");
    assert_eq!(r.json()["cached"], true);
    assert_eq!(cwasm(&cache).len(), base.len() + 2);
    let r = server.api("DELETE", "/functions/gone", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        cwasm(&cache),
        base,
        "the files of gone's own versions are removed, keep's stays"
    );
    assert_eq!(server.get("/keep/").text(), "keep");
}

#[test]
fn components_deploy_serve_fail_cleanly_and_survive_a_restart() {
    let edge = common::build_component("rust-examples/edge-handler", "edge_handler");
    let other_world = common::build_component("tests/fixtures/components/misbehave", "not-a-proxy");
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), None);

    let wasm = std::fs::read(&edge).unwrap();
    let r = server.deploy("edge", &wasm, "{}");
    assert_eq!(r.status, 200, "{}", r.text());
    let stages: Vec<String> = r.json()["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap().to_owned())
        .collect();
    assert!(stages.contains(&"compile".to_owned()), "{stages:?}");
    let r = server.get("/edge/api/health");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "healthy");
    assert_eq!(server.get("/edge/nope").status, 404);

    // A component of another world is refused and the live version keeps serving.
    let r = server.deploy("edge", &std::fs::read(&other_world).unwrap(), "{}");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("edge failed to load"), "{}", r.text());
    assert_eq!(server.get("/edge/api/health").status, 200);
    let d = server.api("GET", "/functions/edge", &[], b"").json();
    assert_eq!(d["active_version"], 1, "{d}");
    assert_eq!(d["versions"][0]["upload_kind"], "wasm", "{d}");
    assert!(
        metric(
            &server.metrics(),
            "wisp_requests_total{function=\"edge\",status=\"2xx\"}"
        ) >= 2.0
    );

    // Restart: served again from the registry and the compiled cache.
    server.stop();
    let server = Server::start(data.path(), None);
    let r = server.get("/edge/api/health");
    assert_eq!(r.status, 200, "{}", r.text());
}
