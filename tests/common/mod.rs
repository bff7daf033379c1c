//! Test harness: starts the real `wisp` binary on an ephemeral port and talks HTTP/1.1 to it
//! over a plain TCP socket, so that tests see exactly what a client sees.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One compiled-snapshot cache shared by every test process: each distinct function is
/// compiled once per checkout, not once per test.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wisp-test-cache")
}

pub fn wisp_command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wisp"));
    c.current_dir(root()).env_remove("RUST_LOG");
    c
}

/// Runs `wisp ARGS` to completion.
pub fn wisp(args: &[&str]) -> Output {
    let mut c = wisp_command();
    c.args(args);
    c.output().expect("running wisp")
}

pub struct Wisp {
    child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    /// A data directory of its own, unless the test gave one with `--data-dir`.
    _data: Option<tempfile::TempDir>,
}

impl Wisp {
    /// `wisp run ENTRY --listen 127.0.0.1:0 EXTRA…`, waiting until it serves.
    pub fn start(entry: &str, extra: &[&str]) -> Wisp {
        Self::start_on(entry, "127.0.0.1:0", extra)
    }

    /// `wisp run ENTRY --listen LISTEN EXTRA…`, waiting until it serves.
    pub fn start_on(entry: &str, listen: &str, extra: &[&str]) -> Wisp {
        let cache = cache_dir();
        let mut cmd = wisp_command();
        cmd.args(["run", entry, "--listen", listen, "--cache-dir"])
            .arg(&cache)
            .args(extra);
        let data = (!extra.contains(&"--data-dir")).then(|| tempfile::tempdir().unwrap());
        if let Some(d) = &data {
            cmd.arg("--data-dir").arg(d.path());
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawning wisp");
        let stderr = Arc::new(Mutex::new(String::new()));
        let err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).expect("reading wisp's stdout");
        let Some(url) = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://"))
        else {
            let status = child.wait().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "wisp did not start ({status}): stdout {line:?}, stderr:\n{}",
                stderr.lock().unwrap()
            );
        };
        let addr = url.trim_start_matches("http://").parse().unwrap();
        Wisp {
            child,
            addr,
            stderr,
            _data: data,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        http(self.addr, "GET", path, &[], b"")
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        http(self.addr, method, path, headers, body)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle` (logs are written asynchronously).
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.stderr();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: plain syscall on the pid of a child this harness spawned and has not reaped.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill(SIGTERM) failed");
    }

    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Wisp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
}

fn write_request(
    stream: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    close: bool,
) {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: wisp.test\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) and close before reading a large body: that is not an error
    // here, the response says what happened.
    if let Err(e) = stream.write_all(body) {
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "writing the request body: {e}"
        );
    }
}

/// Reads one response, using Content-Length to find its end.
pub fn read_response(reader: &mut BufReader<TcpStream>) -> Resp {
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .expect("reading the status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"))
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse::<usize>().unwrap());
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let mut body = Vec::new();
    match len {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).unwrap();
        }
        None if chunked => loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size line {size:?}"));
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        },
        None => {
            reader.read_to_end(&mut body).unwrap();
        }
    }
    Resp {
        status,
        headers,
        body,
    }
}

pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut stream = TcpStream::connect(addr).expect("connecting to wisp");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write_request(&mut stream, method, path, headers, body, true);
    read_response(&mut BufReader::new(stream))
}

/// A keep-alive connection for several requests.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Conn {
            reader: BufReader::new(stream),
        }
    }
    pub fn get(&mut self, path: &str) -> Resp {
        let stream = self.reader.get_mut();
        write_request(stream, "GET", path, &[], b"", false);
        read_response(&mut self.reader)
    }
}

impl Wisp {
    /// Sends SIGKILL: no shutdown code runs, as in a crash.
    pub fn kill9(&mut self) {
        self.child.kill().expect("killing wisp");
        self.child.wait().expect("reaping wisp");
    }
}

/// A free loopback port (bound and released: another process could take it, but tests do not).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real `redis-server` (the Debian package; `scripts/setup.sh` installs it) on a free
/// loopback port, without persistence, stopped when dropped.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    // The child is waited for by `Drop`, or before the panic when it never answers.
    #[allow(clippy::zombie_processes)]
    pub fn start() -> RedisServer {
        let port = free_port();
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--protected-mode", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server (install it with scripts/setup.sh)");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                let mut buf = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut buf).is_ok()
                    && &buf == b"+PONG\r\n"
                {
                    return RedisServer { child, port };
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("redis-server did not start on port {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds a Rust crate of this repository for `wasm32-wasip2` (once per test process) and
/// returns the path of `ARTIFACT.wasm`. Its target dir lives under this build's target dir, so
/// a clean clone builds it from scratch like any other test input.
pub fn build_component(crate_dir: &str, artifact: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm32-wasip2");
    let wasm = target
        .join("wasm32-wasip2/release")
        .join(format!("{artifact}.wasm"));
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|c| c == crate_dir) {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
            ])
            .arg(&target)
            .current_dir(root().join(crate_dir))
            // Settings of the outer build that are not meant for a WebAssembly guest.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .status()
            .expect("running cargo build for wasm32-wasip2");
        assert!(
            status.success(),
            "building {crate_dir} for wasm32-wasip2 failed (is the target installed? \
             `rustup target add wasm32-wasip2`, done by scripts/setup.sh)"
        );
        built.push(crate_dir.to_owned());
    }
    assert!(wasm.is_file(), "{} was not built", wasm.display());
    wasm
}

/// An HTTPS upstream on loopback for outbound tests: a certificate for `localhost` signed by a
/// CA made for the test, whose PEM file Wisp is told to trust (`[net] ca_file`). It answers
/// every request with 200 and `body`, over rustls.
pub struct TlsUpstream {
    pub port: u16,
    pub ca_file: PathBuf,
    pub dir: tempfile::TempDir,
}

impl TlsUpstream {
    pub fn start(body: &'static str) -> TlsUpstream {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();

        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
        let config = Arc::new(config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let config = config.clone();
                std::thread::spawn(move || {
                    let conn = rustls::ServerConnection::new(config).unwrap();
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    // Read the request head (the tests send no body), then answer and close.
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match std::io::Read::read(&mut tls, &mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let _ = write!(
                        tls,
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.flush();
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        TlsUpstream { port, ca_file, dir }
    }

    /// A config file trusting the test CA, for `--config`.
    pub fn config_file(&self) -> PathBuf {
        let path = self.dir.path().join("wisp.toml");
        std::fs::write(
            &path,
            format!("[net]\nca_file = {:?}\n", self.ca_file.to_str().unwrap()),
        )
        .unwrap();
        path
    }
}

/// Decodes a chunked body as far as it goes; `true` if it reached the last (empty) chunk.
pub fn dechunk(mut b: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return (out, false);
        };
        let Ok(size) = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap_or("x"), 16)
        else {
            return (out, false);
        };
        if size == 0 {
            return (out, true);
        }
        let data = &b[eol + 2..];
        if data.len() < size {
            out.extend_from_slice(data);
            return (out, false);
        }
        out.extend_from_slice(&data[..size]);
        b = data.get(size + 2..).unwrap_or(&[]);
    }
}

/// A request whose body is sent chunk by chunk (`transfer-encoding: chunked`) while its
/// response is read as it arrives, over one raw socket: what a streaming client does.
pub struct Upload {
    stream: TcpStream,
    raw: Vec<u8>,
}

/// What has arrived of a response: its head (lower-cased), the decoded body so far, and
/// whether that body has ended with the terminating chunk.
#[derive(Debug)]
pub struct Arrived {
    pub head: String,
    pub body: Vec<u8>,
    pub complete: bool,
}

impl Upload {
    pub fn start(addr: SocketAddr, method: &str, path: &str) -> Upload {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n"
        )
        .unwrap();
        Upload {
            stream,
            raw: Vec::new(),
        }
    }

    /// Sends one chunk. Write errors are ignored: a server may answer, and close, before the
    /// body has all been sent, and the test then looks at the answer.
    pub fn send(&mut self, data: &[u8]) {
        let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(b"\r\n");
        let _ = self.stream.write_all(&chunk);
        let _ = self.stream.flush();
    }

    /// Sends the terminating chunk.
    pub fn finish(&mut self) {
        let _ = self.stream.write_all(b"0\r\n\r\n");
        let _ = self.stream.flush();
    }

    fn arrived(&self) -> Option<Arrived> {
        let split = self.raw.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&self.raw[..split]).to_lowercase();
        let (body, complete) = if head.contains("transfer-encoding: chunked") {
            dechunk(&self.raw[split..])
        } else {
            (self.raw[split..].to_vec(), false)
        };
        Some(Arrived {
            head,
            body,
            complete,
        })
    }

    /// Reads until the decoded body contains `needle`, the connection closes or `within`
    /// passes; returns what has arrived by then.
    pub fn read_until(&mut self, needle: &[u8], within: Duration) -> Arrived {
        let deadline = Instant::now() + within;
        let mut buf = [0u8; 65536];
        loop {
            if let Some(a) = self.arrived()
                && (a.complete || a.body.windows(needle.len()).any(|w| w == needle))
            {
                return a;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
            }
        }
        self.arrived().unwrap_or(Arrived {
            head: String::new(),
            body: Vec::new(),
            complete: false,
        })
    }

    /// Reads until the response has ended (or 20 s pass).
    pub fn read_to_end(&mut self) -> Arrived {
        self.read_until(b"\0never\0", Duration::from_secs(20))
    }
}

/// Uploads a chunked body to `path` whose response echoes it: "first\n" must come back before
/// the client sends anything more (both directions stream), then "second\n" and the end, and
/// the whole echo must arrive complete. Returns the response head (lower-cased).
pub fn echoes_while_uploading(addr: SocketAddr, path: &str) -> String {
    let mut up = Upload::start(addr, "POST", path);
    up.send(b"first\n");
    let early = up.read_until(b"first\n", Duration::from_secs(10));
    assert!(early.head.starts_with("http/1.1 200"), "{early:?}");
    assert_eq!(
        early.body, b"first\n",
        "the echo waited for the upload: {early:?}"
    );
    assert!(!early.complete);
    up.send(b"second\n");
    up.finish();
    let all = up.read_to_end();
    assert_eq!(all.body, b"first\nsecond\n", "{all:?}");
    assert!(all.complete, "{all:?}");
    early.head
}
