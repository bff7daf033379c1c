//! The `wisp` command line: load errors that point at the code, config and flag errors that
//! name the key (exit code 2), and the compiled-snapshot cache.

mod common;

use common::{cache_dir, wisp};
use std::path::Path;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn check(entry: &str, extra: &[&str]) -> std::process::Output {
    let cache = cache_dir();
    let mut args = vec!["check", entry, "--cache-dir", cache.to_str().unwrap()];
    args.extend_from_slice(extra);
    wisp(&args)
}

#[test]
fn syntax_error_names_file_line_column_with_a_caret() {
    let o = check("tests/fixtures/syntax-error.js", &[]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("syntax-error.js:2:"), "{e}");
    assert!(e.contains("SyntaxError"), "{e}");
    assert!(e.contains("const broken = {;"), "{e}");
    assert!(e.contains('^'), "{e}");
}

#[test]
fn top_level_throw_is_a_load_error_with_message_and_position() {
    let o = check("tests/fixtures/top-level-throw.js", &[]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("top-level-throw.js:3:"), "{e}");
    assert!(
        e.contains("Error: apiKey is missing from the config"),
        "{e}"
    );
}

#[test]
fn code_without_a_handler_is_rejected() {
    let o = check("tests/fixtures/no-handler.js", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no fetch handler"), "{}", stderr(&o));
}

#[test]
fn a_server_with_bad_code_does_not_start() {
    let o = wisp(&[
        "run",
        "tests/fixtures/syntax-error.js",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty(), "it must not have started serving");
}

#[test]
fn second_load_of_unchanged_code_uses_the_cache() {
    // Unique code, so the first load is a miss whatever ran before.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("index.js");
    let marker = format!("{:?}", std::time::SystemTime::now());
    std::fs::write(
        &file,
        format!("addEventListener('fetch', e => e.respondWith(new Response({marker:?})));\n"),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let first = check(file, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("from cache:      false"));
    let second = check(file, &[]);
    assert!(String::from_utf8_lossy(&second.stdout).contains("from cache:      true"));
    // Different env is different code: a new snapshot.
    let third = check(file, &["--env", "A=1"]);
    assert!(String::from_utf8_lossy(&third.stdout).contains("from cache:      false"));
}

#[test]
fn bad_config_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[runtime]\ntimeout_ms = 0\n", "[runtime] timeout_ms"),
        ("[http]\nlisten = \"localhost\"\n", "[http] listen"),
        ("[runtime]\nmax_memory_page = 10\n", "max_memory_page"),
        ("[log]\nlevel = \"loud\"\n", "[log] level"),
        ("[runtime\n", "TOML"),
        // Values past what the process can hold: refused up front, not a panic or an mmap error.
        (
            "[http]\nmax_concurrent_requests = 2305843009213693952\n",
            "[http] max_concurrent_requests",
        ),
        (
            "[runtime]\nmax_instances = 30000\n",
            "[runtime] max_instances",
        ),
        // A key that would do nothing is unknown, not silently accepted.
        ("[net]\nwait_until_ms = 30000\n", "wait_until_ms"),
    ];
    for (i, (text, key)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("wisp{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let o = wisp(&[
            "run",
            "js-examples/hello/index.js",
            "--config",
            path.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{text}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(key) || e.to_lowercase().contains(&key.to_lowercase()),
            "{text}: {e}"
        );
    }
    let o = wisp(&[
        "run",
        "js-examples/hello/index.js",
        "--config",
        "/no/such/wisp.toml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/no/such/wisp.toml"));
}

#[test]
fn serve_takes_the_limit_flags_and_checks_them() {
    let data = tempfile::tempdir().unwrap();
    for (flag, value, key) in [
        ("--timeout-ms", "0", "[runtime] timeout_ms"),
        ("--max-memory-pages", "0", "[runtime] max_memory_pages"),
        ("--max-instances", "30000", "[runtime] max_instances"),
        (
            "--max-concurrent-requests",
            "0",
            "[http] max_concurrent_requests",
        ),
        ("--max-body-bytes", "4294967296", "[http] max_body_bytes"),
    ] {
        let o = wisp(&[
            "serve",
            "--data-dir",
            data.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            flag,
            value,
        ]);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", stderr(&o));
        assert!(stderr(&o).contains(key), "{flag}: {}", stderr(&o));
    }
}

#[test]
fn a_function_is_named_after_its_folder_however_the_path_is_written() {
    let root = tempfile::tempdir().unwrap();
    let shop = root.path().join("shop");
    std::fs::create_dir_all(shop.join("src")).unwrap();
    std::fs::write(shop.join("package.json"), r#"{"main": "src/index.js"}"#).unwrap();
    std::fs::write(
        shop.join("src/index.js"),
        "export default { fetch() { return new Response('hi'); } };\n",
    )
    .unwrap();
    let name = |cwd: &Path, entry: &str| {
        let o = common::wisp_command()
            .current_dir(cwd)
            .args(["check", entry, "--cache-dir"])
            .arg(common::cache_dir())
            .output()
            .unwrap();
        assert!(o.status.success(), "{entry}: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        out.lines()
            .find_map(|l| l.strip_prefix("function:"))
            .map(|n| n.trim().to_owned())
            .unwrap_or_else(|| panic!("{out}"))
    };
    assert_eq!(name(root.path(), "shop"), "shop");
    assert_eq!(name(root.path(), "shop/src/index.js"), "shop");
    assert_eq!(name(&shop.join("src"), "index.js"), "shop");
    assert_eq!(name(&shop, "src/index.js"), "shop");
}

#[test]
fn compile_refuses_the_flags_that_only_serving_uses() {
    for flag in [
        ["--env", "A=1"],
        ["--allow-net", "example.com"],
        ["--dir", "/tmp:/t"],
    ] {
        let o = wisp(&[
            "compile",
            "rust-examples/edge-handler/Cargo.toml",
            "-o",
            "/tmp/never.cwasm",
            flag[0],
            flag[1],
        ]);
        assert_eq!(o.status.code(), Some(2), "{flag:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("apply when the component is served"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn bad_flags_exit_2() {
    let o = wisp(&["run", "js-examples/hello/index.js", "--timeout-ms", "soon"]);
    assert_eq!(o.status.code(), Some(2));
    let o = wisp(&["run", "js-examples/hello/index.js", "--env", "NOEQUALS"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("KEY=VALUE"), "{}", stderr(&o));
    let o = wisp(&["run", "js-examples/hello/index.js", "--timeout-ms", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("timeout_ms"), "{}", stderr(&o));
    let o = wisp(&[
        "run",
        "js-examples/hello/index.js",
        "--max-concurrent-requests",
        "2305843009213693952",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("max_concurrent_requests"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn config_file_limits_apply() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wisp.toml");
    std::fs::write(
        &path,
        "[runtime]\ntimeout_ms = 300\n[http]\nmax_body_bytes = 10\n",
    )
    .unwrap();
    let w = common::Wisp::start(
        "tests/fixtures/failures.js",
        &["--config", path.to_str().unwrap()],
    );
    let r = w.get("/sleep?ms=2000");
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(r.text().contains("300 ms"));
    assert_eq!(
        w.request("POST", "/echo", &[], b"more than ten bytes")
            .status,
        413
    );
}

#[test]
fn log_path_receives_console_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("wisp.log");
    let config = dir.path().join("wisp.toml");
    std::fs::write(
        &config,
        format!(
            "[log]\npath = {:?}\nlevel = \"info\"\n",
            log.to_str().unwrap()
        ),
    )
    .unwrap();
    let w = common::Wisp::start(
        "tests/fixtures/failures.js",
        &["--config", config.to_str().unwrap()],
    );
    let r = w.get("/log");
    let id = r.header("x-request-id").unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("an error line") || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let line = text
        .lines()
        .find(|l| l.contains("hello from the log"))
        .expect(&text);
    assert!(line.contains(&id), "{line}");
    assert!(
        !w.stderr().contains("hello from the log"),
        "console output must go to the file only"
    );
}

#[test]
fn reuse_port_lets_two_servers_share_a_port_and_a_taken_port_is_an_error() {
    let a = common::Wisp::start("tests/fixtures/counter.js", &["--reuse-port"]);
    let addr = a.addr.to_string();
    let b = common::Wisp::start_on("tests/fixtures/counter.js", &addr, &["--reuse-port"]);
    assert_eq!(b.addr, a.addr);
    for _ in 0..4 {
        assert_eq!(
            common::http(a.addr, "GET", "/", &[], b"").json()["count"],
            1
        );
    }
    let cache = cache_dir();
    let o = wisp(&[
        "run",
        "tests/fixtures/counter.js",
        "--listen",
        &addr,
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("[http] listen"), "{}", stderr(&o));
}
