//! Prometheus metrics for `GET /metrics` on the admin listener, written in the text format by
//! hand from atomics: per function (requests by status class, a latency histogram, instances,
//! time and memory kills) and per server (deploys and their durations). A function's counters
//! outlive its versions; the serving path holds its [`FunctionMetrics`] directly, so recording
//! a request is a handful of relaxed atomic adds and no lookup.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BOUNDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Upper bounds of the deploy-duration buckets, in seconds.
const DEPLOY_BOUNDS: [f64; 8] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A cumulative histogram with fixed bounds.
pub struct Histogram<const N: usize> {
    bounds: &'static [f64; N],
    /// One per bound, plus +Inf.
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    fn new(bounds: &'static [f64; N]) -> Self {
        Histogram {
            bounds,
            counts: (0..=N).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self.bounds.iter().position(|&b| secs <= b).unwrap_or(N);
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Relaxed);
            let le = match self.bounds.get(i) {
                Some(b) => b.to_string(),
                None => "+Inf".into(),
            };
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// The counters of one function (all its versions).
pub struct FunctionMetrics {
    /// Responses by status class: 1xx … 5xx.
    pub responses: [AtomicU64; 5],
    pub latency: Histogram<12>,
    pub instantiations: AtomicU64,
    /// Requests cut by the time limit (504).
    pub timeouts: AtomicU64,
    /// Requests that hit the memory limit.
    pub memory_kills: AtomicU64,
    pub active_instances: AtomicI64,
}

impl FunctionMetrics {
    fn new() -> Self {
        FunctionMetrics {
            responses: Default::default(),
            latency: Histogram::new(&LATENCY_BOUNDS),
            instantiations: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            memory_kills: AtomicU64::new(0),
            active_instances: AtomicI64::new(0),
        }
    }

    pub fn response(&self, status: u16, elapsed: Duration) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.responses[class].fetch_add(1, Relaxed);
        self.latency.observe(elapsed);
    }
}

/// Counts an instance alive for as long as it is held.
pub struct ActiveInstance(Arc<FunctionMetrics>);

impl ActiveInstance {
    pub fn start(m: &Arc<FunctionMetrics>) -> ActiveInstance {
        m.instantiations.fetch_add(1, Relaxed);
        m.active_instances.fetch_add(1, Relaxed);
        ActiveInstance(m.clone())
    }
}

impl Drop for ActiveInstance {
    fn drop(&mut self) {
        self.0.active_instances.fetch_sub(1, Relaxed);
    }
}

/// Every metric of a server.
pub struct Metrics {
    functions: Mutex<BTreeMap<String, Arc<FunctionMetrics>>>,
    pub deploys_ok: AtomicU64,
    pub deploys_failed: AtomicU64,
    pub deploy_duration: Histogram<8>,
    /// Requests that matched no function (404).
    pub unrouted: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            functions: Mutex::new(BTreeMap::new()),
            deploys_ok: AtomicU64::new(0),
            deploys_failed: AtomicU64::new(0),
            deploy_duration: Histogram::new(&DEPLOY_BOUNDS),
            unrouted: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// The counters of `function`, made on first use.
    pub fn function(&self, function: &str) -> Arc<FunctionMetrics> {
        let mut map = self.functions.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(function.to_owned())
            .or_insert_with(|| Arc::new(FunctionMetrics::new()))
            .clone()
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let functions: Vec<(String, Arc<FunctionMetrics>)> = {
            let map = self.functions.lock().unwrap_or_else(|e| e.into_inner());
            map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        let mut out = String::with_capacity(1024 + functions.len() * 2048);
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            &mut out,
            "wisp_requests_total",
            "counter",
            "Responses by function and status class.",
        );
        for (name, m) in &functions {
            for (i, c) in m.responses.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "wisp_requests_total{{function=\"{name}\",status=\"{}xx\"}} {}",
                    i + 1,
                    c.load(Relaxed)
                );
            }
        }
        family(
            &mut out,
            "wisp_request_duration_seconds",
            "histogram",
            "Time from routing to the response head, by function.",
        );
        for (name, m) in &functions {
            m.latency.write(
                &mut out,
                "wisp_request_duration_seconds",
                &format!("function=\"{name}\""),
            );
        }
        type Read = fn(&FunctionMetrics) -> i64;
        let counters: [(&str, &str, Read); 4] = [
            (
                "wisp_instantiations_total",
                "Instances created (one per request).",
                |m| m.instantiations.load(Relaxed) as i64,
            ),
            (
                "wisp_timeouts_total",
                "Requests stopped by the time limit (504).",
                |m| m.timeouts.load(Relaxed) as i64,
            ),
            (
                "wisp_memory_limit_kills_total",
                "Requests stopped by the memory limit.",
                |m| m.memory_kills.load(Relaxed) as i64,
            ),
            ("wisp_active_instances", "Instances alive now.", |m| {
                m.active_instances.load(Relaxed)
            }),
        ];
        for (metric, help, get) in counters {
            let kind = if metric.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            family(&mut out, metric, kind, help);
            for (name, m) in &functions {
                let _ = writeln!(out, "{metric}{{function=\"{name}\"}} {}", get(m));
            }
        }
        family(
            &mut out,
            "wisp_unrouted_requests_total",
            "counter",
            "Requests that matched no function (404).",
        );
        let _ = writeln!(
            out,
            "wisp_unrouted_requests_total {}",
            self.unrouted.load(Relaxed)
        );
        family(
            &mut out,
            "wisp_deploys_total",
            "counter",
            "Deploys by result.",
        );
        let _ = writeln!(
            out,
            "wisp_deploys_total{{result=\"ok\"}} {}\nwisp_deploys_total{{result=\"error\"}} {}",
            self.deploys_ok.load(Relaxed),
            self.deploys_failed.load(Relaxed)
        );
        family(
            &mut out,
            "wisp_deploy_duration_seconds",
            "histogram",
            "Time from upload received to live, successful deploys.",
        );
        self.deploy_duration
            .write(&mut out, "wisp_deploy_duration_seconds", "");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        let f = m.function("hello");
        f.response(200, Duration::from_micros(300));
        f.response(200, Duration::from_millis(3));
        f.response(504, Duration::from_secs(9));
        drop(ActiveInstance::start(&f));
        let _alive = ActiveInstance::start(&f);
        m.deploys_ok.fetch_add(1, Relaxed);
        m.deploy_duration.observe(Duration::from_millis(400));
        let text = m.render();
        for line in [
            "wisp_requests_total{function=\"hello\",status=\"2xx\"} 2",
            "wisp_requests_total{function=\"hello\",status=\"5xx\"} 1",
            "wisp_request_duration_seconds_bucket{function=\"hello\",le=\"0.0005\"} 1",
            "wisp_request_duration_seconds_bucket{function=\"hello\",le=\"0.005\"} 2",
            "wisp_request_duration_seconds_bucket{function=\"hello\",le=\"5\"} 2",
            "wisp_request_duration_seconds_bucket{function=\"hello\",le=\"+Inf\"} 3",
            "wisp_request_duration_seconds_count{function=\"hello\"} 3",
            "wisp_instantiations_total{function=\"hello\"} 2",
            "wisp_active_instances{function=\"hello\"} 1",
            "wisp_deploys_total{result=\"ok\"} 1",
            "wisp_deploy_duration_seconds_bucket{le=\"0.5\"} 1",
            "wisp_deploy_duration_seconds_count 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(text.contains("# TYPE wisp_active_instances gauge"));
    }
}
