//! Per-request routing overhead of `wisp serve`: finding the function for a request among
//! 1,000 deployed ones (path prefix with the prefix stripped, host name, a custom route, a
//! miss), as the server does it (one table load, then lookups). Target: < 5 µs.
//!
//! `cargo bench --bench routing`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use wisp_host::config::RoutingConfig;
use wisp_host::router::{Routable, Route, Router};

struct F(Arc<str>, Vec<Route>);

impl Routable for F {
    fn name(&self) -> &Arc<str> {
        &self.0
    }
    fn routes(&self) -> &[Route] {
        &self.1
    }
}

fn routing(c: &mut Criterion) {
    let router: Router<F> = Router::new(&RoutingConfig {
        path_prefix: true,
        base_domain: "fn.example.com".into(),
    });
    for i in 0..1000 {
        let routes = if i % 100 == 0 {
            vec![Route::parse(&format!("api{i}.example.com/v1/*")).unwrap()]
        } else {
            Vec::new()
        };
        router.insert(Arc::new(F(Arc::from(format!("fn-{i}")), routes)));
    }
    let cases = [
        ("path_prefix", "wisp.example.com", "/fn-517/api/hello?x=1"),
        ("host", "fn-517.fn.example.com:8080", "/api/hello?x=1"),
        ("custom_route", "api500.example.com", "/v1/users/42"),
        ("miss", "wisp.example.com", "/nothing/here"),
    ];
    for (name, host, path) in cases {
        c.bench_function(&format!("route/{name}"), |b| {
            b.iter(|| {
                let r = router.resolve(Some(black_box(host)), black_box(path));
                black_box(r.map(|r| r.path.len()))
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = routing
}
criterion_main!(benches);
