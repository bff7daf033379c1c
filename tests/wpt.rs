//! Web-platform-tests conformance of Wisp's JS environment, run inside the real engine.
//!
//! `cargo test --release --test wpt` reads WPT's URL test data from `$WISP_WPT_DIR`, or else
//! `../shared/data/wpt/` beside the repository, evaluates it with `tests/wpt/url-harness.js` in a
//! fresh instance of the engine, prints pass/fail counts per file next to the scores Cloudflare's
//! workerd gets on the same data, and fails if a score drops below Wisp's recorded floor (a
//! regression guard; where the floor is under workerd's score, the gap is listed in
//! `benches/README.md`). Without the data it says where it looked and passes: the data is not
//! part of the repository.

use serde_json::Value;
use std::path::{Path, PathBuf};
use wisp_host::config::Config;
use wisp_host::function::Loader;

/// (result name, Wisp's floor, the target: workerd's score on this data).
const TARGETS: &[(&str, u64, u64)] = &[
    // The `url` crate still drops the host of `file:` URLs whose path starts with a drive
    // letter and collapses `file:////x`-style empty hosts/segments, which newer WHATWG keeps.
    ("urltestdata.json (parsing)", 819, 810),
    ("urltestdata.json (URL.canParse)", 819, 810),
    ("setters_tests.json", 254, 243),
];

fn data_dir() -> PathBuf {
    match std::env::var_os("WISP_WPT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/wpt"),
    }
}

fn main() {
    let dir = data_dir();
    let (Ok(url_tests), Ok(setter_tests)) = (
        std::fs::read_to_string(dir.join("urltestdata.json")),
        std::fs::read_to_string(dir.join("setters_tests.json")),
    ) else {
        println!(
            "wpt: no WPT data in {} (urltestdata.json, setters_tests.json); set WISP_WPT_DIR \
             to run the conformance suite. Skipped.",
            dir.display()
        );
        return;
    };
    let harness = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wpt/url-harness.js"),
    )
    .expect("reading the harness");
    let work = tempfile::tempdir().unwrap();
    let entry = work.path().join("wpt-url.js");
    std::fs::write(
        &entry,
        format!("const URL_TESTS = {url_tests};\nconst SETTER_TESTS = {setter_tests};\n{harness}"),
    )
    .unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut config = Config::default();
    config.cache.dir = work.path().join("cache").display().to_string();
    let loader = Loader::new(&config).unwrap();
    let input = wisp_host::source::read(&entry, vec![]).expect("reading the WPT function");
    let function = rt
        .block_on(loader.load("wpt", &input))
        .unwrap_or_else(|e| panic!("loading the WPT function: {e}"));
    let request = wisp_abi::Request {
        method: "GET".into(),
        url: "http://wpt.test/".into(),
        ..Default::default()
    };
    let response = rt
        .block_on(function.invoke(&loader.runtime, request))
        .unwrap_or_else(|e| panic!("running the WPT function: {e}"));
    assert_eq!(response.status, 200);
    let results: Value = serde_json::from_slice(&response.body).unwrap();

    println!("WPT data: {}", dir.display());
    let mut short = Vec::new();
    for (name, floor, workerd) in TARGETS {
        let r = &results[name];
        let (pass, fail) = (r["pass"].as_u64().unwrap(), r["fail"].as_u64().unwrap());
        let verdict = if pass >= *workerd {
            "target met"
        } else {
            "below target"
        };
        println!(
            "{name:34} {pass:4} / {:4} passed (workerd: {workerd}; {verdict})",
            pass + fail
        );
        for failure in r["failures"].as_array().unwrap() {
            println!("    FAIL {}", failure.as_str().unwrap());
        }
        if pass < *floor {
            short.push(format!("{name}: {pass} < floor {floor}"));
        }
    }
    assert!(short.is_empty(), "conformance regressed: {short:?}");
}
