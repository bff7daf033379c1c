//! Responses sent while the function's instance keeps running: a JS `ReadableStream` body that
//! the client gets chunk by chunk, and a whole response sent before `waitUntil` work is done.
//!
//! The engine sends the response's head ([`HostCall::ResponseHead`]) and then each chunk
//! ([`HostCall::ResponseChunk`]) as host calls during `wisp_handle`. The first makes
//! [`crate::function::Function::invoke_streaming`] answer the HTTP request at once, with a body
//! fed by a bounded channel; the instance's future moves to a task of its own and lives until
//! `wisp_handle` returns, under the same time limit. A full channel suspends the instance (the
//! client reads slower than the function writes: backpressure); a closed one (the client went
//! away) fails the chunk call, which cancels the JS stream. A response with `waitUntil` work
//! pending goes the same way in one piece ([`HostCall::Respond`]), and the instance runs that
//! work after the client has its answer.
//!
//! [`HostCall::Respond`]: wisp_abi::hostcall::HostCall::Respond
//! [`HostCall::ResponseHead`]: wisp_abi::hostcall::HostCall::ResponseHead
//! [`HostCall::ResponseChunk`]: wisp_abi::hostcall::HostCall::ResponseChunk

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

/// Chunks buffered between the instance and the client's connection.
const CHANNEL_CHUNKS: usize = 8;

/// What the body channel carries: a chunk, or the reason the stream failed after its head was
/// sent (the client then sees the connection cut rather than a body that looks complete).
pub type Chunk = Result<Bytes, String>;

/// A response whose body is still being produced.
pub struct StreamedResponse {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: mpsc::Receiver<Chunk>,
}

/// A response the instance sent before it finished.
pub enum Early {
    Streamed(StreamedResponse),
    Whole(wisp_abi::Response),
}

impl StreamedResponse {
    /// The response whole, from a stream whose instance has ended (every chunk is in the
    /// channel already).
    pub fn collect(mut self) -> wisp_abi::Response {
        let mut body = Vec::new();
        while let Ok(Ok(chunk)) = self.body.try_recv() {
            body.extend_from_slice(&chunk);
        }
        wisp_abi::Response {
            status: self.status,
            headers: self.headers,
            body,
        }
    }
}

/// The instance's side of an early response, kept in its store.
#[derive(Default)]
pub struct ResponseStream {
    /// Where the response goes; `None` when an early response is not possible
    /// (pre-initialisation, in-process calls) or it was sent.
    head: Option<oneshot::Sender<Early>>,
    /// The body, once a streamed response's head has gone.
    chunks: Option<mpsc::Sender<Chunk>>,
    /// Whether a response (whole or streamed) was sent.
    answered: bool,
}

impl ResponseStream {
    /// A stream for one request, and the receiver its head arrives on.
    pub fn new() -> (ResponseStream, oneshot::Receiver<Early>) {
        let (tx, rx) = oneshot::channel();
        let stream = ResponseStream {
            head: Some(tx),
            chunks: None,
            answered: false,
        };
        (stream, rx)
    }

    /// Whether a response was sent: the instance's final output is then not the response.
    pub fn started(&self) -> bool {
        self.answered
    }

    fn refusal(&self) -> String {
        if self.answered {
            "the response was already sent".into()
        } else {
            "an early response is only possible while serving an HTTP request".into()
        }
    }

    fn send(&mut self, early: Early) -> Result<(), String> {
        let Some(tx) = self.head.take() else {
            return Err(self.refusal());
        };
        self.answered = true;
        tx.send(early)
            .map_err(|_| "the request was abandoned".to_owned())
    }

    /// Sends a streamed response's head; the body channel opens.
    pub fn head(&mut self, status: u16, headers: Vec<(String, Vec<u8>)>) -> Result<(), String> {
        if self.head.is_none() {
            return Err(self.refusal());
        }
        let (chunks, body) = mpsc::channel(CHANNEL_CHUNKS);
        self.chunks = Some(chunks);
        self.send(Early::Streamed(StreamedResponse {
            status,
            headers,
            body,
        }))
    }

    /// Sends a whole response while the instance goes on (its `waitUntil` work).
    pub fn respond(&mut self, response: wisp_abi::Response) -> Result<(), String> {
        self.send(Early::Whole(response))
    }

    /// The sender for the next chunk (cloned, so the store need not stay borrowed while the
    /// chunk waits for room).
    pub fn sender(&self) -> Result<mpsc::Sender<Chunk>, String> {
        self.chunks
            .clone()
            .ok_or_else(|| "a body chunk was sent before the response head".to_owned())
    }

    /// Ends the body: the client has all of it (the instance may still run `waitUntil` work).
    pub fn end(&mut self) {
        self.chunks = None;
    }

    /// Ends the body with an error (a trap, a timeout or a JS exception after the head).
    pub fn fail(&mut self, reason: String) {
        if let Some(chunks) = self.chunks.take() {
            let _ = chunks.try_send(Err(reason));
        }
    }
}

/// The HTTP body of a streamed response: the chunks as they come, and an error (the
/// connection is cut) if the instance failed after the head.
pub struct ChannelBody(pub mpsc::Receiver<Chunk>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = crate::serve::BodyError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| c.map(hyper::body::Frame::data).map_err(Self::Error::from)))
    }
}

/// Sends one chunk, waiting for room; fails once the client has gone.
pub async fn send_chunk(sender: mpsc::Sender<Chunk>, bytes: Vec<u8>) -> Result<(), String> {
    sender
        .send(Ok(Bytes::from(bytes)))
        .await
        .map_err(|_| "the client closed the connection".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn head_then_chunks_then_end() {
        let (mut stream, head) = ResponseStream::new();
        assert!(!stream.started());
        stream.head(200, vec![("a".into(), b"b".to_vec())]).unwrap();
        assert!(stream.started());
        assert!(
            stream.head(200, vec![]).is_err(),
            "a second head is refused"
        );
        let Early::Streamed(mut response) = head.await.unwrap() else {
            panic!("a streamed response")
        };
        assert_eq!(response.status, 200);
        send_chunk(stream.sender().unwrap(), b"one".to_vec())
            .await
            .unwrap();
        drop(stream);
        assert_eq!(response.body.recv().await.unwrap().unwrap(), "one");
        assert!(
            response.body.recv().await.is_none(),
            "dropping the stream ends the body"
        );
    }

    #[tokio::test]
    async fn a_failure_after_the_head_reaches_the_body() {
        let (mut stream, head) = ResponseStream::new();
        stream.head(200, vec![]).unwrap();
        let Early::Streamed(mut response) = head.await.unwrap() else {
            panic!("a streamed response")
        };
        stream.fail("trapped".into());
        assert_eq!(response.body.recv().await.unwrap().unwrap_err(), "trapped");
    }

    #[tokio::test]
    async fn a_gone_client_fails_the_chunk() {
        let (mut stream, head) = ResponseStream::new();
        stream.head(200, vec![]).unwrap();
        drop(head.await.unwrap());
        assert!(
            send_chunk(stream.sender().unwrap(), b"x".to_vec())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_whole_response_before_the_end() {
        let (mut stream, early) = ResponseStream::new();
        let response = wisp_abi::Response {
            status: 202,
            headers: vec![],
            body: b"later".to_vec(),
        };
        stream.respond(response.clone()).unwrap();
        assert!(stream.started());
        assert!(stream.respond(response.clone()).is_err(), "only once");
        let Early::Whole(got) = early.await.unwrap() else {
            panic!("a whole response")
        };
        assert_eq!(got, response);
    }

    #[test]
    fn no_early_response_outside_a_request() {
        let mut stream = ResponseStream::default();
        assert!(stream.head(200, vec![]).is_err());
        assert!(stream.respond(wisp_abi::Response::default()).is_err());
        assert!(stream.sender().is_err());
        assert!(!stream.started());
    }
}
