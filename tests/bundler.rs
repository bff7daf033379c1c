//! The bundler end to end, through the real `wisp` binary: TypeScript and ES module projects,
//! npm packages (CommonJS, `exports` conditions, subpaths), the Hono and itty-router examples
//! after `npm ci`, errors that point at the user's line, source-mapped run-time stacks, and
//! `wisp bundle`.

mod common;

use common::{Wisp, cache_dir, root, wisp};
use std::process::{Command, Output};
use std::sync::Mutex;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn check(entry: &str) -> Output {
    let cache = cache_dir();
    wisp(&["check", entry, "--cache-dir", cache.to_str().unwrap()])
}

/// `npm ci` in an example folder (its `node_modules` is git-ignored). npm must be installed:
/// `scripts/setup.sh` installs it. One at a time: npm's cache does not like concurrent runs.
fn npm_ci(example: &str) {
    static NPM: Mutex<()> = Mutex::new(());
    let _one = NPM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root().join(example);
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefer-offline"])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running npm ci in {example} (is npm installed? scripts/setup.sh installs it): {e}"
            )
        });
    assert!(
        out.status.success(),
        "npm ci in {example} failed:\n{}",
        stderr(&out)
    );
}

#[test]
fn typescript_project_with_cycle_decorator_json_dynamic_import_and_builtins() {
    let w = Wisp::start("js-examples/typescript", &[]);
    let r = w.get("/parity?n=7");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({ "n": 7, "even": false }));
    assert_eq!(w.get("/parity?n=10").json()["even"], true);
    assert_eq!(
        w.get("/area?n=5").json(),
        serde_json::json!({ "shape": "Rect", "area": 10 })
    );
    assert_eq!(
        w.get("/counter?n=3").json(),
        serde_json::json!({ "total": 3, "calls": 1 })
    );
    assert_eq!(
        w.get("/lazy").json(),
        serde_json::json!({ "text": "typescript-example loaded lazily", "seen": 1 })
    );
    let r = w.get("/edge");
    assert_eq!((r.status, r.text().as_str()), (200, "edge"));
    assert_eq!(r.header("x-edge"), Some("yes"));
    assert_eq!(w.get("/nope").status, 404);
}

#[test]
fn npm_packages_commonjs_conditions_subpaths_and_node_buffer() {
    let w = Wisp::start("tests/fixtures/bundler/packages", &[]);
    let r = w.get("/");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({
            "greet": "hello, wisp v1.0.0",
            "shout": "HELLO, WISP",
            "namespaceDefault": true,
            "target": "worker",
            "extra": "extra-import",
            "twice": 42,
            "counter": 1,
            "base64": "d2lzcA==",
            "hex": "hi",
        })
    );
}

#[test]
fn hono_example_serves_after_npm_ci() {
    npm_ci("js-examples/hono");
    let w = Wisp::start("js-examples/hono", &["--env", "EDGE_REGION=eu-test"]);
    let r = w.get("/");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "wisp-example-hono 1.0.0")
    );
    assert_eq!(r.header("x-powered-by"), Some("wisp-hono"), "middleware");
    let r = w.get("/hello/ada?lang=fr");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        serde_json::json!({ "greeting": "Bonjour, ada!", "name": "ada" })
    );
    let r = w.request(
        "POST",
        "/api/echo",
        &[("content-type", "application/json")],
        br#"{"a":1,"b":[true]}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({ "received": { "a": 1, "b": [true] }, "keys": 2 })
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("*"),
        "hono/cors"
    );
    assert_eq!(w.get("/api/region").json()["region"], "eu-test");
    let r = w.get("/no/such/route");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["path"], "/no/such/route");
    let r = w.get("/boom");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.json(),
        serde_json::json!({ "error": "the boom route always fails", "handled": true })
    );
}

#[test]
fn itty_router_example_serves_after_npm_ci() {
    npm_ci("js-examples/itty-router");
    let w = Wisp::start("js-examples/itty-router", &[]);
    let r = w.get("/items/2");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({ "id": "2", "name": "teapot" }));
    assert_eq!(r.header("x-router"), Some("itty"), "finally middleware");
    assert_eq!(w.get("/items").json()["items"].as_array().unwrap().len(), 2);
    let r = w.request("POST", "/items", &[], br#"{"name":"cup"}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({ "id": "3", "name": "cup" }));
    let r = w.get("/items/9");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "no item 9");
    assert_eq!(w.get("/nowhere").status, 404);
    let r = w.get("/fail");
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"], "the fail route always fails");
}

#[test]
fn syntax_error_in_an_imported_typescript_file_points_at_it() {
    let o = check("tests/fixtures/bundler/syntax-error");
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("tests/fixtures/bundler/syntax-error/helper.ts:3:28: SyntaxError"),
        "{e}"
    );
    assert!(
        e.contains(" 3 |   return `value ${value}` +;\n   |                            ^"),
        "{e}"
    );
}

#[test]
fn export_star_from_a_commonjs_module_re_exports_its_names() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("c.cjs", "exports.a = 1;\nexports.b = 2;\n");
    write("re.js", "export * from './c.cjs';\nexport const own = 3;\n");
    write(
        "index.js",
        "import * as ns from './re.js';\nimport { a } from './re.js';\n\
         export default { fetch() { return Response.json({ keys: Object.keys(ns).sort(), a }); } };\n",
    );
    let w = Wisp::start(dir.path().join("index.js").to_str().unwrap(), &[]);
    assert_eq!(
        w.get("/").json(),
        serde_json::json!({ "keys": ["a", "b", "own"], "a": 1 })
    );
}

#[test]
fn json_imports_are_data_not_code() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "index.js",
        "import data from './data.json';\n\
         export default { fetch() { return Response.json({ own: Object.keys(data), proto: Object.getPrototypeOf(data) === Object.prototype, x: 'x' in data }); } };\n",
    );
    write("data.json", r#"{"__proto__": {"x": 1}, "c": "\u2028"}"#);
    let w = Wisp::start(dir.path().join("index.js").to_str().unwrap(), &[]);
    assert_eq!(
        w.get("/").json(),
        serde_json::json!({ "own": ["__proto__", "c"], "proto": true, "x": false })
    );
    // JavaScript in a .json file is an error at its place, not code that runs.
    write("data.json", "{\"t\": 1,\n \"c\": (1+2)}");
    let o = check(dir.path().join("index.js").to_str().unwrap());
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("data.json:2:") && e.contains("invalid JSON"),
        "{e}"
    );
}

#[test]
fn unresolved_imports_name_importer_specifier_and_where_it_looked() {
    let o = check("tests/fixtures/bundler/unresolved-file");
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("unresolved-file/index.js:2:25: cannot find module './lib/missing'"),
        "{e}"
    );
    assert!(e.contains("unresolved-file/lib/missing{,.ts,"), "{e}");

    let o = check("tests/fixtures/bundler/unresolved-package");
    let e = stderr(&o);
    assert!(
        e.contains("index.ts:1:22: cannot find module 'hono-not-installed'"),
        "{e}"
    );
    assert!(
        e.contains("unresolved-package/node_modules/hono-not-installed (no such folder)"),
        "{e}"
    );
    assert!(e.contains("npm install"), "{e}");
}

#[test]
fn unsupported_node_builtins_are_refused_clearly() {
    let o = check("tests/fixtures/bundler/node-fs");
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains(
            "index.js:1:30: 'node:fs' is a Node.js built-in module that Wisp does not provide"
        ),
        "{e}"
    );
    assert!(e.contains("node:buffer, node:events"), "{e}");
}

#[test]
fn a_failed_bundle_is_not_served() {
    let o = wisp(&[
        "run",
        "tests/fixtures/bundler/unresolved-file",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty(), "it must not have started serving");
    assert!(stderr(&o).contains("failed to bundle"), "{}", stderr(&o));
}

#[test]
fn load_errors_point_at_the_original_file_and_line() {
    let o = check("tests/fixtures/bundler/load-throw");
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("settings.ts:7:13: Error: apiKey is missing from the settings"),
        "{e}"
    );
    assert!(
        e.contains(
            " 7 |   throw new Error('apiKey is missing from the settings');\n   |             ^"
        ),
        "{e}"
    );
}

#[test]
fn run_time_stacks_are_source_mapped_in_log_and_debug_body() {
    let w = Wisp::start("tests/fixtures/bundler/run-throw", &["--debug"]);
    let r = w.get("/somewhere");
    assert_eq!(r.status, 500);
    let body = r.json();
    assert_eq!(body["error"], "RangeError: cannot serve /somewhere");
    let stack = body["stack"].as_str().unwrap();
    assert!(stack.contains("at fail (src/handler.ts:9:"), "{stack}");
    assert!(stack.contains("at handle (src/handler.ts:5:"), "{stack}");
    assert!(stack.contains("(src/index.ts:3:"), "{stack}");
    assert!(!stack.contains("bundle.js"), "{stack}");
    let log = w.wait_for_log("cannot serve /somewhere");
    assert!(log.contains("at fail (src/handler.ts:9:"), "{log}");
}

#[test]
fn bundle_command_writes_code_map_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.js");
    let o = wisp(&[
        "bundle",
        "tests/fixtures/bundler/run-throw",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = stderr(&o);
    assert!(report.contains("(2 modules)"), "{report}");
    assert!(report.contains("bytes of ES module"), "{report}");
    let code = std::fs::read_to_string(&out).unwrap();
    assert!(
        code.ends_with("//# sourceMappingURL=out.js.map\n"),
        "{code}"
    );
    assert!(code.contains("export default"), "{code}");
    let map: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out.js.map")).unwrap())
            .unwrap();
    let sources = map["sources"].as_array().unwrap();
    assert!(
        sources.contains(&"src/handler.ts".into()) && sources.contains(&"src/index.ts".into()),
        "{sources:?}"
    );
    let min = wisp(&["bundle", "tests/fixtures/bundler/run-throw", "--minify"]);
    assert!(min.status.success());
    assert!(
        min.stdout.len() < code.len() * 3 / 4,
        "minified {} vs {}",
        min.stdout.len(),
        code.len()
    );
}

#[test]
fn hello_world_bundle_overhead_stays_under_5_kb() {
    let o = wisp(&["bundle", "tests/fixtures/bundler/hello-ts"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let source = std::fs::metadata(root().join("tests/fixtures/bundler/hello-ts/index.ts"))
        .unwrap()
        .len() as usize;
    let overhead = o.stdout.len().saturating_sub(source);
    assert!(overhead < 5 * 1024, "{overhead} bytes of overhead");
    // And a plain one-file function is passed through unchanged.
    let o = wisp(&["bundle", "js-examples/hello/index.js"]);
    let original = std::fs::read(root().join("js-examples/hello/index.js")).unwrap();
    assert_eq!(o.stdout, original);
    assert!(stderr(&o).contains("unchanged"), "{}", stderr(&o));
}

#[test]
fn engine_modules_imported_by_bundled_modules_reach_storage() {
    let data = tempfile::tempdir().unwrap();
    let w = Wisp::start(
        "tests/fixtures/bundler/kv-ts",
        &["--data-dir", data.path().to_str().unwrap()],
    );
    let r = w.request("PUT", "/colour", &[], b"teal");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({ "stored": "colour" }));
    let r = w.get("/colour");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!({ "key": "colour", "value": "teal" })
    );
}
