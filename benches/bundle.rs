//! Bundling speed: the Hono example (TypeScript, 29 modules with Hono itself) and the
//! TypeScript example (8 modules, no npm), end to end in-process (resolve, parse, strip types,
//! transform, print, source map).
//!
//! `(cd js-examples/hono && npm ci) && cargo bench --bench bundle`

use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;

fn bundle(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let hono = root.join("js-examples/hono");
    assert!(
        hono.join("node_modules/hono").is_dir(),
        "run `npm ci` in js-examples/hono first"
    );
    let options = wisp_bundler::Options::default();
    for (name, dir) in [
        ("hono", hono),
        ("typescript", root.join("js-examples/typescript")),
    ] {
        let b = wisp_bundler::bundle(&dir, &options).expect("bundling");
        eprintln!(
            "{name}: {} modules, {} bytes of source -> {} bytes of bundle, {} bytes of source map",
            b.modules.len(),
            b.source_bytes,
            b.code.len(),
            b.map_json().map_or(0, |m| m.len())
        );
        c.bench_function(&format!("bundle/{name}"), |bench| {
            bench.iter(|| wisp_bundler::bundle(&dir, &options).expect("bundling"))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bundle
}
criterion_main!(benches);
