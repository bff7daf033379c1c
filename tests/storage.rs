//! End-to-end tests of data at the edge: KV on real sled files, SQLite on real database files,
//! and a real `redis-server`, reached from JS in the real engine over HTTP.

mod common;

use common::{RedisServer, Wisp, wisp};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FIXTURE: &str = "tests/fixtures/storage.js";

fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn start(entry: &str, data: &Path, extra: &[&str]) -> Wisp {
    let mut args = vec!["--data-dir", data.to_str().unwrap()];
    args.extend_from_slice(extra);
    Wisp::start(entry, &args)
}

/// A copy of the storage fixture as the function `name` (the name is its folder's).
fn function_named(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(common::root().join(FIXTURE), dir.join("index.js")).unwrap();
    dir.join("index.js")
}

fn config_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("wisp.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn put(w: &Wisp, path: &str, body: &str) -> Value {
    let r = w.request("PUT", path, &[], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// The key names of a `GET /kv` listing.
fn listed_names(listing: &Value) -> Vec<String> {
    listing["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_owned())
        .collect()
}

fn sql(w: &Wisp, body: Value) -> (u16, Value) {
    let r = w.request(
        "POST",
        "/sql",
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    );
    (r.status, r.json())
}

#[test]
fn kv_workers_and_wasmedge_apis_share_a_namespace() {
    let data = data_dir();
    let w = start(FIXTURE, data.path(), &[]);
    put(&w, "/kv/greeting?meta=%7B%22lang%22%3A%22en%22%7D", "hello");
    let j = w.get("/kv/greeting").json();
    assert_eq!(j["value"], "hello");
    assert_eq!(j["metadata"], json!({"lang": "en"}));
    assert_eq!(j["wasmedge"], "hello");

    put(&w, "/kv/doc", r#"{"a":[1,2]}"#);
    assert_eq!(
        w.get("/kv/doc?type=json").json()["value"],
        json!({"a": [1, 2]})
    );
    assert_eq!(
        w.get("/kv/doc?type=arrayBuffer").json()["value"],
        json!({"byteLength": 11})
    );
    let j = w.get("/kv/missing").json();
    assert_eq!(
        (j["value"].clone(), j["wasmedge"].clone()),
        (Value::Null, Value::Null)
    );

    // Binary values through the WasmEdge API, and the size limit on keys.
    assert_eq!(w.request("PUT", "/bytes/bin?n=1000", &[], b"").status, 200);
    assert_eq!(
        w.get("/kv/bin?type=arrayBuffer").json()["value"]["byteLength"],
        1000
    );
    let long_key = "k".repeat(513);
    let r = w.request("PUT", &format!("/kv/{long_key}"), &[], b"x");
    assert_eq!(r.status, 500);
    assert!(
        r.json()["error"].as_str().unwrap().contains("512"),
        "{}",
        r.text()
    );

    // Listing: by prefix, in pages.
    for i in 0..5 {
        put(&w, &format!("/kv/user:{i}"), "u");
    }
    let page = w.get("/kv?prefix=user:&limit=2").json();
    assert_eq!(page["keys"].as_array().unwrap().len(), 2);
    assert_eq!(page["list_complete"], false);
    let cursor = page["cursor"].as_str().unwrap().to_owned();
    let rest = w.get(&format!("/kv?prefix=user:&cursor={cursor}")).json();
    assert_eq!(listed_names(&rest), ["user:2", "user:3", "user:4"]);
    assert_eq!(rest["list_complete"], true);

    assert_eq!(w.request("DELETE", "/kv/greeting", &[], b"").status, 200);
    assert_eq!(w.get("/kv/greeting").json()["value"], Value::Null);
}

#[test]
fn kv_ttl_is_exact_for_readers() {
    let data = data_dir();
    let w = start(FIXTURE, data.path(), &[]);
    put(&w, "/kv/short?ttl=1", "soon gone");
    put(&w, "/kv/long?ttl=600", "stays");
    assert_eq!(w.get("/kv/short").json()["value"], "soon gone");
    let listed = w.get("/kv").json();
    let short = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "short")
        .expect("listed before expiry")
        .clone();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (short["expiration"].as_i64().unwrap() - now_s).abs() <= 2,
        "{short}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(w.get("/kv/short").json()["value"], Value::Null);
    assert_eq!(w.get("/kv/long").json()["value"], "stays");
    assert_eq!(listed_names(&w.get("/kv").json()), ["long"]);
}

#[test]
fn kv_persists_across_restarts_and_namespaces_are_per_function() {
    let data = data_dir();
    let code = tempfile::tempdir().unwrap();
    let a = function_named(code.path(), "alpha");
    let b = function_named(code.path(), "beta");
    let mut w = start(a.to_str().unwrap(), data.path(), &[]);
    put(&w, "/kv/shared-name", "alpha's");
    w.terminate();
    w.wait(Duration::from_secs(10)).expect("alpha stops");

    let mut w = start(b.to_str().unwrap(), data.path(), &[]);
    assert_eq!(w.get("/kv/shared-name").json()["value"], Value::Null);
    put(&w, "/kv/shared-name", "beta's");
    w.terminate();
    w.wait(Duration::from_secs(10)).expect("beta stops");

    let w = start(a.to_str().unwrap(), data.path(), &[]);
    assert_eq!(w.get("/kv/shared-name").json()["value"], "alpha's");
    assert!(data.path().join("kv").is_dir());
}

#[test]
fn kv_sync_durability_survives_kill_9() {
    let data = data_dir();
    let config = config_file(data.path(), "[kv]\ndurability = \"sync\"\n");
    let mut w = start(
        FIXTURE,
        data.path(),
        &["--config", config.to_str().unwrap()],
    );
    for i in 0..20 {
        put(&w, &format!("/kv/k{i}"), &format!("v{i}"));
    }
    w.kill9();
    let w = start(
        FIXTURE,
        data.path(),
        &["--config", config.to_str().unwrap()],
    );
    for i in 0..20 {
        assert_eq!(w.get(&format!("/kv/k{i}")).json()["value"], format!("v{i}"));
    }
}

#[test]
fn kv_quota_and_value_limit_are_js_errors() {
    let data = data_dir();
    let config = config_file(
        data.path(),
        "[kv]\nquota_bytes = 2000\nmax_value_bytes = 1500\n",
    );
    let w = start(
        FIXTURE,
        data.path(),
        &["--config", config.to_str().unwrap()],
    );
    assert_eq!(w.request("PUT", "/bytes/a?n=1200", &[], b"").status, 200);
    let r = w.request("PUT", "/bytes/b?n=1200", &[], b"");
    assert_eq!(r.status, 500);
    let e = r.json()["error"].as_str().unwrap().to_owned();
    assert!(e.contains("quota") && e.contains("2000"), "{e}");
    let r = w.request("PUT", "/bytes/c?n=1600", &[], b"");
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("max_value_bytes")
    );
    // Room is made by deleting, and the first value is intact.
    assert_eq!(w.request("DELETE", "/kv/a", &[], b"").status, 200);
    assert_eq!(w.request("PUT", "/bytes/b?n=1200", &[], b"").status, 200);
}

#[test]
fn sqlite_d1_and_wasmedge_apis() {
    let data = data_dir();
    let code = tempfile::tempdir().unwrap();
    let entry = function_named(code.path(), "shop");
    let w = start(entry.to_str().unwrap(), data.path(), &[]);
    let (s, _) = sql(
        &w,
        json!({"sql": "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, price REAL, data BLOB)"}),
    );
    assert_eq!(s, 200);
    let (s, j) = sql(
        &w,
        json!({"sql": "INSERT INTO items (name, price) VALUES (?, ?)", "params": ["tea'; DROP TABLE items; --", 3.5]}),
    );
    assert_eq!(s, 200, "{j}");
    assert_eq!(
        (j["changes"].clone(), j["last_row_id"].clone()),
        (json!(1), json!(1))
    );
    let (_, j) = sql(
        &w,
        json!({"sql": "INSERT INTO items (name, price) VALUES (?, ?)", "params": ["cake", 12], "mode": "execute"}),
    );
    assert_eq!(j, json!({"changes": 1, "lastInsertRowid": 2}));

    let (_, j) = sql(
        &w,
        json!({"sql": "SELECT id, name, price FROM items ORDER BY id"}),
    );
    assert_eq!(
        j["results"],
        json!([{"id": 1, "name": "tea'; DROP TABLE items; --", "price": 3.5}, {"id": 2, "name": "cake", "price": 12}])
    );
    let (_, j) = sql(
        &w,
        json!({"sql": "SELECT name FROM items WHERE id = ?", "params": [2], "mode": "first"}),
    );
    assert_eq!(j["first"], json!({"name": "cake"}));
    let (_, j) = sql(
        &w,
        json!({"sql": "SELECT id, name FROM items WHERE id = ?", "params": [1], "mode": "raw"}),
    );
    assert_eq!(
        j["raw"],
        json!([["id", "name"], [1, "tea'; DROP TABLE items; --"]])
    );
    let (_, j) = sql(
        &w,
        json!({"sql": "SELECT count(*) AS n FROM items", "mode": "wasmedge"}),
    );
    assert_eq!(j["rows"], json!([{"n": 2}]));

    // A batch is one transaction: the duplicate rolls back the insert before it.
    let batch = json!([
        {"sql": "INSERT INTO items (name) VALUES (?)", "params": ["scone"]},
        {"sql": "INSERT INTO items (name) VALUES (?)", "params": ["cake"]},
    ]);
    let r = w.request("POST", "/batch", &[], batch.to_string().as_bytes());
    assert_eq!(r.status, 500);
    assert!(
        r.json()["error"].as_str().unwrap().contains("UNIQUE"),
        "{}",
        r.text()
    );
    let (_, j) = sql(
        &w,
        json!({"sql": "SELECT count(*) AS n FROM items", "mode": "first"}),
    );
    assert_eq!(j["first"]["n"], 2);
    let ok = json!([
        {"sql": "INSERT INTO items (name) VALUES (?)", "params": ["scone"]},
        {"sql": "SELECT count(*) AS n FROM items"},
    ]);
    let r = w.request("POST", "/batch", &[], ok.to_string().as_bytes());
    assert_eq!(
        r.json(),
        json!([{"results": [], "changes": 1}, {"results": [{"n": 3}], "changes": 0}])
    );

    // D1's exec: one statement per line, in one transaction; a DDL statement changes no row.
    let r = w.request(
        "POST",
        "/exec",
        &[],
        b"CREATE TABLE tags (name TEXT)\nINSERT INTO tags VALUES ('a')\n\nINSERT INTO tags VALUES ('b')\n",
    );
    assert_eq!(r.json(), json!({"count": 3, "timed": true}), "{}", r.text());
    let (_, j) = sql(&w, json!({"sql": "CREATE INDEX tags_name ON tags (name)"}));
    assert_eq!(j["changes"], 0, "{j}");
    let r = w.request(
        "POST",
        "/exec",
        &[],
        b"INSERT INTO tags VALUES ('c')\nNOT SQL",
    );
    assert_eq!(r.status, 500, "{}", r.text());
    let (_, j) = sql(
        &w,
        json!({"sql": "SELECT count(*) AS n FROM tags", "mode": "first"}),
    );
    assert_eq!(j["first"]["n"], 2, "a failed exec left a row behind");
    // A bigint past 64 bits is refused, not wrapped around.
    let r = w.get("/big");
    assert_eq!(
        r.json(),
        json!({"error": "RangeError: SQLite: 12345678901234567890 does not fit a 64-bit integer"})
    );

    // Bad SQL and bad parameters are exceptions carrying SQLite's message.
    let (s, j) = sql(&w, json!({"sql": "SELEC * FROM items"}));
    assert_eq!(s, 500);
    assert!(j["error"].as_str().unwrap().contains("syntax error"), "{j}");
    let (_, j) = sql(&w, json!({"sql": "SELECT * FROM nowhere"}));
    assert!(
        j["error"].as_str().unwrap().contains("no such table"),
        "{j}"
    );
    let (_, j) = sql(&w, json!({"sql": "SELECT ?", "params": []}));
    assert!(j["error"].as_str().unwrap().contains("1 parameter"), "{j}");

    // The data is in a real SQLite file named after the function.
    assert!(data.path().join("sqlite/shop.db").is_file());
}

#[test]
fn sqlite_concurrent_writers_all_land() {
    let data = data_dir();
    let w = start(FIXTURE, data.path(), &[]);
    let (s, _) = sql(
        &w,
        json!({"sql": "CREATE TABLE hits (id INTEGER PRIMARY KEY, who TEXT)"}),
    );
    assert_eq!(s, 200);
    let addr = w.addr;
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..25 {
                    let body = json!({"sql": "INSERT INTO hits (who) VALUES (?)", "params": [format!("{t}-{i}")]});
                    let r = common::http(addr, "POST", "/sql", &[], body.to_string().as_bytes());
                    assert_eq!(r.status, 200, "{}", r.text());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (_, j) = sql(
        &w,
        json!({"sql": "SELECT count(*) AS n, count(DISTINCT who) AS d FROM hits", "mode": "first"}),
    );
    assert_eq!(j["first"], json!({"n": 200, "d": 200}));
}

#[test]
fn article_examples_cache_aside_and_user_profile() {
    let data = data_dir();
    let w = start("js-examples/kv-cache/index.js", data.path(), &[]);
    let miss = w.get("/products/42");
    assert_eq!(miss.status, 200);
    assert_eq!(miss.header("x-cache"), Some("MISS"));
    let hit = w.get("/products/42");
    assert_eq!(hit.header("x-cache"), Some("HIT"));
    assert_eq!(hit.text(), miss.text());
    assert_eq!(w.get("/products/43").header("x-cache"), Some("MISS"));
    assert_eq!(w.request("DELETE", "/products/42", &[], b"").status, 204);
    let again = w.get("/products/42");
    assert_eq!(again.header("x-cache"), Some("MISS"));
    assert_ne!(again.text(), miss.text());
    // One process at a time owns a data directory's KV store.
    drop(w);

    let w = start("js-examples/user-profile/index.js", data.path(), &[]);
    let r = w.get("/?user_id=1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-cache"), Some("MISS"));
    assert_eq!(r.json()["name"], "Ada Lovelace");
    assert_eq!(w.get("/?user_id=1").header("x-cache"), Some("HIT"));
    assert_eq!(w.get("/?user_id=9").status, 404);
    let r = w.request(
        "PUT",
        "/users/1",
        &[],
        br#"{"name":"Ada King","email":"ada@example.org"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = w.get("/?user_id=1");
    assert_eq!(
        (r.header("x-cache"), r.json()["name"].clone()),
        (Some("MISS"), json!("Ada King"))
    );
}

#[test]
fn storage_is_refused_to_top_level_code() {
    let data = data_dir();
    let out = wisp(&[
        "check",
        "tests/fixtures/storage-top-level.js",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--cache-dir",
        common::cache_dir().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("only available while handling a request"),
        "{err}"
    );
    assert!(err.contains("storage-top-level.js:3"), "{err}");
}

#[test]
fn redis_commands_and_the_rate_limiter() {
    let redis = RedisServer::start();
    let url = redis.url();
    let w = start(FIXTURE, data_dir().path(), &["--redis-url", &url]);
    let j = w.get("/redis-api").json();
    assert_eq!(
        j,
        json!({"get": "v1", "ttl": 100, "hgetall": {"a": "1", "b": "2"}, "lrange": ["x", "y", "z"], "incr": 5, "missing": null})
    );
    let r = w.request("POST", "/redis", &[], br#"["FLUSHALL"]"#);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("not available")
    );
    let r = w.request("POST", "/redis", &[], br#"["GET", "api:s"]"#);
    assert_eq!(r.json()["reply"], "v1");

    let w = Wisp::start(
        "js-examples/rate-limit/index.js",
        &[
            "--redis-url",
            &url,
            "--env",
            "LIMIT=3",
            "--env",
            "WINDOW=60",
        ],
    );
    for n in 1..=3 {
        let r = w.request("GET", "/", &[("x-client-id", "alice")], b"");
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.header("x-ratelimit-remaining"),
            Some((3 - n).to_string().as_str())
        );
    }
    let r = w.request("GET", "/", &[("x-client-id", "alice")], b"");
    assert_eq!(r.status, 429);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        w.request("GET", "/", &[("x-client-id", "bob")], b"").status,
        200
    );
}

#[test]
fn redis_down_is_a_prompt_js_error() {
    // Nothing listens on this port.
    let url = format!("redis://127.0.0.1:{}", common::free_port());
    let w = start(FIXTURE, data_dir().path(), &["--redis-url", &url]);
    let started = Instant::now();
    let r = w.request("POST", "/redis", &[], br#"["GET", "k"]"#);
    assert_eq!(r.status, 500);
    let e = r.json()["error"].as_str().unwrap().to_owned();
    assert!(e.contains("127.0.0.1") && e.contains("redis"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The limiter fails open, and says so.
    let w = Wisp::start("js-examples/rate-limit/index.js", &["--redis-url", &url]);
    let r = w.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit"), Some("unavailable"));
    // Without a configured server, the message says how to configure one.
    let w = start(FIXTURE, data_dir().path(), &[]);
    let r = w.request("POST", "/redis", &[], br#"["GET", "k"]"#);
    assert!(r.json()["error"].as_str().unwrap().contains("--redis-url"));
}

#[test]
fn kv_on_redis_is_shared_and_expires() {
    let redis = RedisServer::start();
    let data = data_dir();
    let config = config_file(
        data.path(),
        &format!(
            "[kv]\nbackend = \"redis\"\n[redis]\nurl = \"{}\"\n",
            redis.url()
        ),
    );
    let code = tempfile::tempdir().unwrap();
    let entry = function_named(code.path(), "edge");
    let w = start(
        entry.to_str().unwrap(),
        data.path(),
        &["--config", config.to_str().unwrap()],
    );
    put(&w, "/kv/k?meta=%7B%22v%22%3A1%7D", "from-redis");
    put(&w, "/kv/gone?ttl=1", "x");
    let j = w.get("/kv/k").json();
    assert_eq!(
        (j["value"].clone(), j["metadata"].clone()),
        (json!("from-redis"), json!({"v": 1}))
    );
    // The key is in Redis, under the function's namespace, and nothing was written to sled.
    let r = w.request("POST", "/redis", &[], br#"["EXISTS", "wisp:kv:edge:k"]"#);
    assert_eq!(r.json()["reply"], 1);
    assert!(!data.path().join("kv").exists());
    let names = listed_names(&w.get("/kv").json());
    assert!(names.contains(&"k".to_owned()), "{names:?}");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(w.get("/kv/gone").json()["value"], Value::Null);
}
