//! Recent log lines of each function, for `GET /_wisp/api/v1/functions/NAME/logs`: a bounded
//! ring buffer per function (console output and request errors) and a broadcast channel that
//! `?follow=1` streams from. Filled by [`CaptureLayer`], a `tracing` layer that keeps every
//! event carrying a `function` field, so nothing on the request path calls into this module.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};

/// Lines kept per function.
pub const KEEP_LINES: usize = 1000;
/// Longer lines are cut (a console.log of a huge object must not fill memory).
const MAX_LINE: usize = 8192;

pub struct LogHub {
    recent: Mutex<HashMap<Arc<str>, VecDeque<Arc<str>>>>,
    live: broadcast::Sender<(Arc<str>, Arc<str>)>,
}

/// The process's hub.
pub fn hub() -> &'static LogHub {
    static HUB: OnceLock<LogHub> = OnceLock::new();
    HUB.get_or_init(|| LogHub {
        recent: Mutex::new(HashMap::new()),
        live: broadcast::channel(4096).0,
    })
}

impl LogHub {
    pub fn push(&self, function: &str, line: String) {
        let line: Arc<str> = Arc::from(line);
        let function: Arc<str> = {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            let key = match recent.get_key_value(function) {
                Some((k, _)) => k.clone(),
                None => Arc::from(function),
            };
            let lines = recent.entry(key.clone()).or_default();
            if lines.len() == KEEP_LINES {
                lines.pop_front();
            }
            lines.push_back(line.clone());
            key
        };
        // No receiver is the usual case; that is not an error.
        let _ = self.live.send((function, line));
    }

    /// The lines kept for `function`, oldest first.
    pub fn recent(&self, function: &str) -> Vec<Arc<str>> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent
            .get(function)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn forget(&self, function: &str) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.remove(function);
    }

    /// New lines of every function from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<(Arc<str>, Arc<str>)> {
        self.live.subscribe()
    }
}

/// Keeps every event that names a function in the [`hub`].
pub struct CaptureLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CaptureLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Some(function) = fields.function else {
            return;
        };
        let mut line = format!(
            "{} {:<5} {}",
            timestamp(std::time::SystemTime::now()),
            event.metadata().level(),
            fields.request_id.as_deref().unwrap_or("-")
        );
        if event.metadata().target() != "wisp::console" {
            line.push_str(" [wisp]");
        }
        line.push(' ');
        line.push_str(&fields.message);
        line.push_str(&fields.rest);
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        hub().push(&function, line);
    }
}

#[derive(Default)]
struct Fields {
    function: Option<String>,
    request_id: Option<String>,
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "function" => self.function = Some(value.to_owned()),
            "request_id" => self.request_id = Some(value.to_owned()),
            "message" => self.message.push_str(value),
            name => {
                let _ = write!(self.rest, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            "function" => self.function = Some(format!("{value:?}")),
            "request_id" => self.request_id = Some(format!("{value:?}")),
            name => {
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }
}

/// RFC 3339 UTC with milliseconds, without a date crate.
pub fn timestamp(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        assert_eq!(timestamp(t), "2026-11-18T11:06:40.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn the_ring_keeps_the_last_lines() {
        let hub = hub();
        for i in 0..KEEP_LINES + 5 {
            hub.push("ring-test", format!("line {i}"));
        }
        let lines = hub.recent("ring-test");
        assert_eq!(lines.len(), KEEP_LINES);
        assert_eq!(&*lines[0], "line 5");
        assert_eq!(&*lines[KEEP_LINES - 1], format!("line {}", KEEP_LINES + 4));
        hub.forget("ring-test");
        assert!(hub.recent("ring-test").is_empty());
    }
}
