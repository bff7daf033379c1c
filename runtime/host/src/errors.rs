//! The errors a user sees: why their code did not load, and why a request failed.

use std::fmt;
use std::time::Duration;
use wisp_abi::{Failure, FailureKind};
use wisp_bundler::SourceMapper;

/// Why a function could not be loaded. Its `Display` is the message a user acts on: the file,
/// line and column, the JS message, and the offending line with a caret when known.
#[derive(Debug)]
pub enum LoadError {
    /// The code threw (or failed to parse) while its top level ran.
    Js {
        failure: Failure,
        /// `file:line:column` and the source excerpt, when the stack names the user's file.
        location: Option<String>,
    },
    /// Top-level code ran past the pre-initialisation time limit.
    Timeout(Duration),
    /// Top-level code needed more memory than a request may have.
    Memory { limit: u64 },
    /// Anything else (a trap, I/O, the cache): a bug or an environment problem.
    Other(anyhow::Error),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Js { failure, location } => {
                match location {
                    Some(loc) => write!(f, "{loc}")?,
                    None => write!(f, "{}", failure.message)?,
                }
                if failure.kind == FailureKind::Exception && !failure.stack.trim().is_empty() {
                    write!(f, "\n{}", failure.stack.trim_end())?;
                }
                Ok(())
            }
            LoadError::Timeout(d) => write!(
                f,
                "the function's top-level code ran for more than {} ms while loading \
                 (an infinite loop?)",
                d.as_millis()
            ),
            LoadError::Memory { limit } => write!(
                f,
                "the function's top-level code used more than the memory limit of {} MiB while \
                 loading",
                limit >> 20
            ),
            LoadError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<anyhow::Error> for LoadError {
    fn from(e: anyhow::Error) -> Self {
        LoadError::Other(e)
    }
}

impl From<wasmtime::Error> for LoadError {
    fn from(e: wasmtime::Error) -> Self {
        LoadError::Other(e.into())
    }
}

impl LoadError {
    /// A JS failure at load time, located in `source` (named `filename`) when possible.
    pub fn from_failure(failure: Failure, filename: &str, source: &str) -> LoadError {
        let location = locate(&failure.stack, filename).map(|(line, col)| {
            excerpt(
                filename,
                line,
                col,
                &failure.message,
                source.lines().nth(line.saturating_sub(1)),
            )
        });
        LoadError::Js { failure, location }
    }

    /// Points a JS failure in a bundle at the user's files: the location and excerpt come from
    /// the original file, and every bundle position in the message and stack is rewritten.
    pub fn with_source_map(self, map: Option<&SourceMapper>) -> LoadError {
        let (LoadError::Js { failure, location }, Some(map)) = (&self, map) else {
            return self;
        };
        let original = locate(&failure.stack, map.bundle_name())
            .and_then(|(line, col)| map.original(line, col));
        let failure = remap_failure(failure.clone(), map);
        let location = match original {
            Some(o) => Some(excerpt(
                &o.file,
                o.line,
                o.col,
                &failure.message,
                o.line_text.as_deref(),
            )),
            None => location.as_deref().map(|l| map.rewrite(l)),
        };
        LoadError::Js { failure, location }
    }
}

/// A failure whose message and stack name the user's files instead of the bundle.
pub fn remap_failure(mut failure: Failure, map: &SourceMapper) -> Failure {
    failure.message = map.rewrite(&failure.message);
    failure.stack = map.rewrite(&failure.stack);
    failure
}

/// `file:line:col: message` and the line with a caret under the column.
fn excerpt(file: &str, line: usize, col: usize, message: &str, text: Option<&str>) -> String {
    let mut out = format!("{file}:{line}:{col}: {message}");
    if let Some(text) = text {
        let gutter = line.to_string();
        let pad = " ".repeat(gutter.len());
        let caret = " ".repeat(col.saturating_sub(1).min(text.len()));
        out.push_str(&format!("\n {gutter} | {text}\n {pad} | {caret}^"));
    }
    out
}

/// The first `filename:line:column` in a QuickJS stack.
pub fn locate(stack: &str, filename: &str) -> Option<(usize, usize)> {
    let needle = format!("{filename}:");
    for line in stack.lines() {
        let Some(at) = line.find(&needle) else {
            continue;
        };
        let rest = &line[at + needle.len()..];
        let mut parts = rest.split(|c: char| !c.is_ascii_digit());
        let line_no = parts.next()?.parse().ok()?;
        let col = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
        return Some((line_no, col));
    }
    None
}

/// Why a request did not get the function's response.
#[derive(Debug)]
pub enum InvokeError {
    /// The function ran past its time limit: 504.
    Timeout(Duration),
    /// The function exceeded its memory limit: 500.
    Memory { limit: u64 },
    /// The pool has no free instance slot: 503.
    Busy,
    /// The function failed after reading past the request body limit (a body that streamed
    /// in, so the limit could not be checked before it ran): 413.
    BodyTooLarge { limit: u64 },
    /// The function threw, its promise rejected or never settled, or it did not produce a
    /// Response: 500.
    Js(Failure),
    /// The Wasm trapped (stack overflow, a bug in the engine): 500.
    Trap(String),
    /// A host-side failure: 500.
    Internal(anyhow::Error),
}

impl InvokeError {
    pub fn status(&self) -> u16 {
        match self {
            InvokeError::Timeout(_) => 504,
            InvokeError::Busy => 503,
            InvokeError::BodyTooLarge { .. } => 413,
            _ => 500,
        }
    }

    /// A short machine-readable name, used in logs and error bodies.
    pub fn kind(&self) -> &'static str {
        match self {
            InvokeError::Timeout(_) => "timeout",
            InvokeError::Memory { .. } => "memory_limit",
            InvokeError::Busy => "busy",
            InvokeError::BodyTooLarge { .. } => "body_too_large",
            InvokeError::Js(f) => match f.kind {
                FailureKind::Exception => "exception",
                FailureKind::NeverSettled => "never_settled",
                FailureKind::BadResponse => "bad_response",
                FailureKind::NoHandler => "no_handler",
                FailureKind::BadInput => "bad_input",
            },
            InvokeError::Trap(_) => "trap",
            InvokeError::Internal(_) => "internal",
        }
    }

    /// The JS stack, when there is one.
    pub fn stack(&self) -> Option<&str> {
        match self {
            InvokeError::Js(f) if !f.stack.is_empty() => Some(&f.stack),
            _ => None,
        }
    }
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeError::Timeout(d) => {
                write!(
                    f,
                    "the function ran past its time limit of {} ms",
                    d.as_millis()
                )
            }
            InvokeError::Memory { limit } => write!(
                f,
                "the function exceeded its memory limit of {} MiB",
                limit >> 20
            ),
            InvokeError::Busy => write!(f, "no free instance: the server is at capacity"),
            InvokeError::BodyTooLarge { limit } => write!(
                f,
                "the request body is larger than the limit of {limit} bytes"
            ),
            InvokeError::Js(failure) => write!(f, "{}", failure.message),
            InvokeError::Trap(t) => write!(f, "the function's engine trapped: {t}"),
            InvokeError::Internal(e) => write!(f, "internal error: {e:#}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_and_excerpts() {
        assert_eq!(locate("    at index.js:3:7\n", "index.js"), Some((3, 7)));
        assert_eq!(
            locate("    at f (index.js:10:2)\n    at <eval>", "index.js"),
            Some((10, 2))
        );
        assert_eq!(locate("    at other.js:1:1", "index.js"), None);
        let f = Failure::new(
            FailureKind::Exception,
            "SyntaxError: unexpected token",
            "    at index.js:2:9\n",
        );
        let e = LoadError::from_failure(f, "index.js", "let a = 1;\nlet b = );\n");
        let text = e.to_string();
        assert!(
            text.starts_with("index.js:2:9: SyntaxError: unexpected token"),
            "{text}"
        );
        assert!(text.contains(" 2 | let b = );\n   |         ^"), "{text}");
    }
}
