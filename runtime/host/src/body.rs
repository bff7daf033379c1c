//! Bodies that stream across the sandbox boundary while the instance runs, piece by piece:
//!
//! - [`BodyStream`]: a body arriving from outside, the incoming request's or a fetch
//!   response's. The host hands over its start with the head ([`BodyStream::start`]: a small
//!   body of known length whole, otherwise its first piece or what has arrived) and keeps the
//!   rest here; the engine
//!   asks for each next piece (`HostCall::FetchRead`) only as JS reads it, under a size cap and,
//!   for fetches, a deadline.
//! - [`SendBody`] and its [`BodySink`]: a fetch's request body that JS produces as a
//!   `ReadableStream`. Each piece comes through `HostCall::FetchSend` into a small channel that
//!   hyper drains into the upstream connection: a full channel makes the engine's send wait
//!   (backpressure). A sink dropped before the end, or a [`CutSwitch`] dropped by a fetch that
//!   no longer sends the body, cuts the body off instead of ending it, so an upstream never
//!   takes a truncated body for a whole one.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use std::pin::Pin;
use std::task::{Context, Poll};

/// How much of a body its start gathers before it stops (one read past this at most: a read
/// joins what has arrived up to [`PIECE_BYTES`]); the rest streams.
pub const FIRST_PIECE_BYTES: usize = 256 * 1024;
/// What one read hands over at most: pieces that have already arrived are joined up to this,
/// so that a fast body costs few host calls.
const PIECE_BYTES: usize = 64 * 1024;
/// The setting that caps an incoming request body, named in the message of a read past it
/// (which is how a failure is told to be one of a body too large).
pub const REQUEST_BODY_CAP: &str = "[http] max_body_bytes";
/// Pieces of a [`SendBody`] that may wait for the upstream connection.
const SEND_QUEUE: usize = 2;

/// How much of a body to wait for before handing its start over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// All of it (a small body of known length: one round trip instead of a stream).
    Whole,
    /// Its first piece, and whatever else has arrived with it.
    FirstPiece,
    /// Only what has already arrived, without waiting.
    Ready,
}

/// The part of a body that has not been handed over yet.
pub struct BodyStream {
    body: UnsyncBoxBody<Bytes, String>,
    /// What the body is, for messages: "the request body", "fetch: the response body of …".
    what: String,
    /// The setting behind the size cap, for messages.
    cap_setting: &'static str,
    deadline: Option<tokio::time::Instant>,
    /// Bytes still allowed under the cap.
    left: usize,
    max: usize,
    /// Something found while joining pieces, owed to the next read: the end, or a failure.
    owed: Option<Result<(), String>>,
    /// A read found the body larger than its cap.
    past_cap: bool,
}

impl BodyStream {
    pub fn new<B>(body: B, what: String, cap_setting: &'static str, max: usize) -> BodyStream
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display,
    {
        BodyStream {
            body: body.map_err(|e| e.to_string()).boxed_unsync(),
            what,
            cap_setting,
            deadline: None,
            left: max,
            max,
            owed: None,
            past_cap: false,
        }
    }

    /// Reads past `deadline` fail (a fetch's time limit covers its body).
    pub fn with_deadline(mut self, deadline: std::time::Instant) -> BodyStream {
        self.deadline = Some(deadline.into());
        self
    }

    /// The cap, if a read has found the body larger than it.
    pub fn refused_past(&self) -> Option<usize> {
        self.past_cap.then_some(self.max)
    }

    /// The message for a body past its cap.
    pub fn too_large(&self) -> String {
        format!(
            "{} is larger than {} bytes ({})",
            self.what, self.max, self.cap_setting
        )
    }

    /// The start of the body, as much as `start` says to wait for (about
    /// [`FIRST_PIECE_BYTES`] at most, unless it is [`Start::Whole`]), and the rest if it has not
    /// ended.
    pub async fn start(mut self, start: Start) -> Result<(Vec<u8>, Option<BodyStream>), String> {
        let mut first = Vec::new();
        let mut waited = false;
        loop {
            if start != Start::Whole && first.len() >= FIRST_PIECE_BYTES {
                return Ok((first, Some(self)));
            }
            let wait = start == Start::Whole || start == Start::FirstPiece && !waited;
            let piece = if wait {
                self.read().await?
            } else {
                match now_or_never(self.read()) {
                    Some(piece) => piece?,
                    None => return Ok((first, Some(self))),
                }
            };
            waited = true;
            match piece {
                Some(bytes) => first.extend_from_slice(&bytes),
                None => return Ok((first, None)),
            }
        }
    }

    /// The next piece of data (what has arrived, joined up to [`PIECE_BYTES`]); `None` at
    /// the end.
    pub async fn read(&mut self) -> Result<Option<Bytes>, String> {
        match self.owed.take() {
            Some(Ok(())) => return Ok(None),
            Some(Err(e)) => return Err(e),
            None => {}
        }
        let first = match self.deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, self.next_data()).await {
                Ok(next) => next?,
                Err(_) => {
                    return Err(format!(
                        "{} did not arrive within the fetch's time limit ([net] timeout_ms, or \
                         the rest of the request's)",
                        self.what
                    ));
                }
            },
            None => self.next_data().await?,
        };
        let Some(first) = first else {
            return Ok(None);
        };
        if first.len() >= PIECE_BYTES {
            return Ok(Some(first));
        }
        let mut joined: Option<BytesMut> = None;
        while joined.as_ref().map_or(first.len(), BytesMut::len) < PIECE_BYTES {
            match now_or_never(self.next_data()) {
                None => break,
                Some(Ok(Some(more))) => joined
                    .get_or_insert_with(|| BytesMut::from(&first[..]))
                    .extend_from_slice(&more),
                Some(Ok(None)) => {
                    self.owed = Some(Ok(()));
                    break;
                }
                Some(Err(e)) => {
                    self.owed = Some(Err(e));
                    break;
                }
            }
        }
        Ok(Some(joined.map_or(first, BytesMut::freeze)))
    }

    /// The next data frame, counted against the cap; trailers are skipped (the Fetch API has
    /// none).
    async fn next_data(&mut self) -> Result<Option<Bytes>, String> {
        loop {
            let frame = match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(format!("{} could not be read: {e}", self.what)),
                Some(Ok(frame)) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            if data.len() > self.left {
                self.past_cap = true;
                return Err(self.too_large());
            }
            self.left -= data.len();
            return Ok(Some(data));
        }
    }
}

/// Polls `future` once: its output if it is ready now.
pub fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// A request body fed piece by piece from the engine, for hyper to send.
pub struct SendBody {
    pieces: tokio::sync::mpsc::Receiver<Option<Bytes>>,
    ended: bool,
    /// Cut off: every further poll fails.
    is_cut: bool,
    /// Resolves once the fetch has let go of this body ([`CutSwitch`]).
    cut_off: Pin<Box<dyn Future<Output = ()> + Send>>,
    switch: Option<CutSwitch>,
}

/// The engine's end of a [`SendBody`].
#[derive(Clone)]
pub struct BodySink {
    pieces: tokio::sync::mpsc::Sender<Option<Bytes>>,
    cut: tokio::sync::watch::Receiver<bool>,
}

/// Cuts a streamed request body off when dropped, unless [`Self::keep`] was called first: a
/// body its fetch no longer sends (a redirect dropped it or cannot send it again, the fetch
/// failed or ran out of time) stops at once, and whoever is waiting to send a piece is told,
/// whether or not hyper still polls the body.
pub struct CutSwitch {
    cut: tokio::sync::watch::Sender<bool>,
    kept: bool,
}

impl CutSwitch {
    /// The fetch goes on sending this body (its response has come; the upload may continue).
    pub fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for CutSwitch {
    fn drop(&mut self) {
        if !self.kept {
            let _ = self.cut.send(true);
        }
    }
}

/// Resolves once `cut` says the body was cut off; never if it was kept.
async fn cut_off(mut cut: tokio::sync::watch::Receiver<bool>) {
    if cut.wait_for(|cut| *cut).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A new body and the sink that feeds it.
pub fn channel() -> (BodySink, SendBody) {
    let (tx, rx) = tokio::sync::mpsc::channel(SEND_QUEUE);
    let (switch, cut) = tokio::sync::watch::channel(false);
    (
        BodySink {
            pieces: tx,
            cut: cut.clone(),
        },
        SendBody {
            pieces: rx,
            ended: false,
            is_cut: false,
            cut_off: Box::pin(cut_off(cut)),
            switch: Some(CutSwitch {
                cut: switch,
                kept: false,
            }),
        },
    )
}

impl SendBody {
    /// The switch that cuts this body off; taken once, by whoever decides whether it is sent.
    pub fn switch(&mut self) -> Option<CutSwitch> {
        self.switch.take()
    }
}

impl BodySink {
    /// Sends the next piece (`None`: the end), once there is room.
    pub async fn send(&self, piece: Option<Vec<u8>>) -> Result<(), String> {
        const GONE: &str = "fetch: the request body can no longer be sent (the fetch failed, \
             was cancelled or redirected without it, or the upstream answered and stopped \
             reading it)";
        tokio::select! {
            biased;
            () = cut_off(self.cut.clone()) => Err(GONE.to_owned()),
            sent = self.pieces.send(piece.map(Bytes::from)) => sent.map_err(|_| GONE.to_owned()),
        }
    }
}

/// Why a [`SendBody`] did not end.
#[derive(Debug)]
pub struct CutOff;

impl std::fmt::Display for CutOff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body stream was abandoned before its end")
    }
}

impl std::error::Error for CutOff {}

impl hyper::body::Body for SendBody {
    type Data = Bytes;
    type Error = CutOff;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, CutOff>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if self.is_cut || self.cut_off.as_mut().poll(cx).is_ready() {
            self.is_cut = true;
            self.pieces.close();
            return Poll::Ready(Some(Err(CutOff)));
        }
        match self.pieces.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Some(bytes))) => {
                Poll::Ready(Some(Ok(hyper::body::Frame::data(bytes))))
            }
            Poll::Ready(Some(None)) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(None) => Poll::Ready(Some(Err(CutOff))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A body whose pieces are all there already.
    struct Pieces(VecDeque<&'static str>);

    impl hyper::body::Body for Pieces {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
            Poll::Ready(
                self.0
                    .pop_front()
                    .map(|p| Ok(hyper::body::Frame::data(Bytes::from(p)))),
            )
        }
    }

    fn stream_of(pieces: &[&'static str], max: usize) -> BodyStream {
        BodyStream::new(
            Pieces(pieces.iter().copied().collect()),
            "the test body".into(),
            "[test] cap",
            max,
        )
    }

    #[tokio::test]
    async fn a_whole_start_takes_everything_and_leaves_no_rest() {
        let (first, rest) = stream_of(&["ab", "cd", "ef"], 100)
            .start(Start::Whole)
            .await
            .unwrap();
        assert_eq!(first, b"abcdef");
        assert!(rest.is_none());
    }

    #[tokio::test]
    async fn pieces_already_here_are_joined_and_the_end_is_owed() {
        let mut body = stream_of(&["ab", "cd"], 100);
        assert_eq!(body.read().await.unwrap().unwrap(), "abcd");
        assert_eq!(body.read().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_body_past_its_cap_fails_with_the_setting_named() {
        let err = stream_of(&["abc", "def"], 4)
            .start(Start::Whole)
            .await
            .err()
            .unwrap();
        assert_eq!(err, "the test body is larger than 4 bytes ([test] cap)");
    }

    #[tokio::test]
    async fn a_ready_start_does_not_wait_for_a_body_still_arriving() {
        let (tx, body) = channel();
        let stream = BodyStream::new(body, "the piped body".into(), "[test] cap", 100);
        tx.send(Some(b"head".to_vec())).await.unwrap();
        let (first, rest) = stream.start(Start::Ready).await.unwrap();
        assert_eq!(first, b"head");
        let mut rest = rest.expect("the body has not ended");
        tx.send(Some(b"tail".to_vec())).await.unwrap();
        tx.send(None).await.unwrap();
        assert_eq!(rest.read().await.unwrap().unwrap(), "tail");
        assert_eq!(rest.read().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_sink_dropped_before_the_end_cuts_the_body_off() {
        let (tx, body) = channel();
        tx.send(Some(b"partial".to_vec())).await.unwrap();
        drop(tx);
        let err = body.collect().await.err().unwrap();
        assert_eq!(err.to_string(), CutOff.to_string());
        // An ended one is whole.
        let (tx, body) = channel();
        tx.send(Some(b"whole".to_vec())).await.unwrap();
        tx.send(None).await.unwrap();
        assert_eq!(body.collect().await.unwrap().to_bytes(), "whole");
    }

    #[tokio::test]
    async fn a_switch_dropped_unkept_cuts_the_body_and_its_waiting_sender() {
        let (tx, mut body) = channel();
        let switch = body.switch().unwrap();
        // Fill the queue, so that the next send waits for room.
        for _ in 0..SEND_QUEUE {
            tx.send(Some(b"x".to_vec())).await.unwrap();
        }
        let waiting = tokio::spawn({
            let tx = tx.clone();
            async move { tx.send(Some(b"more".to_vec())).await }
        });
        tokio::task::yield_now().await;
        drop(switch);
        let sent = waiting.await.unwrap();
        assert!(sent.unwrap_err().contains("can no longer be sent"));
        assert!(body.collect().await.is_err(), "cut off, not complete");

        // A kept switch changes nothing: the body ends when the sink says so.
        let (tx, mut body) = channel();
        body.switch().unwrap().keep();
        tx.send(Some(b"kept".to_vec())).await.unwrap();
        tx.send(None).await.unwrap();
        assert_eq!(body.collect().await.unwrap().to_bytes(), "kept");
    }
}
