//! A component's stdout and stderr, turned into the function's log lines: each complete line
//! goes to the host log under `wisp::console` with the function name and request id, like a JS
//! function's `console` output. A partial line is held until its newline, the request's end, or
//! [`MAX_LINE`] bytes, whichever comes first.

use crate::pool::log_line;
use bytes::Bytes;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wisp_abi::LogLevel;

/// A line longer than this is logged in pieces, so a guest cannot grow the buffer unboundedly.
const MAX_LINE: usize = 16 * 1024;

/// One of the guest's output streams. Clones share the pending partial line.
#[derive(Clone)]
pub struct LogStream {
    inner: Arc<Mutex<Pending>>,
}

struct Pending {
    function: Arc<str>,
    request_id: String,
    level: LogLevel,
    line: Vec<u8>,
}

impl LogStream {
    pub fn new(function: Arc<str>, request_id: String, level: LogLevel) -> LogStream {
        LogStream {
            inner: Arc::new(Mutex::new(Pending {
                function,
                request_id,
                level,
                line: Vec::new(),
            })),
        }
    }

    fn push(&self, bytes: &[u8]) {
        let mut p = self.inner.lock().unwrap();
        for mut chunk in bytes.split_inclusive(|&b| b == b'\n') {
            while !chunk.is_empty() {
                let take = chunk.len().min(MAX_LINE - p.line.len());
                p.line.extend_from_slice(&chunk[..take]);
                chunk = &chunk[take..];
                if p.line.ends_with(b"\n") || p.line.len() >= MAX_LINE {
                    p.emit();
                }
            }
        }
    }

    /// Logs what is left of an unterminated last line (at the end of the request).
    pub fn finish(&self) {
        self.inner.lock().unwrap().emit();
    }
}

impl Pending {
    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.line);
        let text = text.trim_end_matches(['\n', '\r']);
        if !self.line.is_empty() {
            log_line(&self.function, &self.request_id, self.level, text);
        }
        self.line.clear();
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for LogStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_the_rest_is_kept_until_finish() {
        let s = LogStream::new(Arc::from("f"), "r".into(), LogLevel::Info);
        s.push(b"one\ntw");
        assert_eq!(s.inner.lock().unwrap().line, b"tw");
        s.push(b"o\nthree");
        assert_eq!(s.inner.lock().unwrap().line, b"three");
        s.finish();
        assert!(s.inner.lock().unwrap().line.is_empty());
    }

    #[test]
    fn a_long_line_is_cut() {
        let s = LogStream::new(Arc::from("f"), "r".into(), LogLevel::Info);
        s.push(&vec![b'x'; MAX_LINE + 10]);
        assert_eq!(s.inner.lock().unwrap().line.len(), 10);
    }
}
