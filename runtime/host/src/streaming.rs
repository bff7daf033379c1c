//! Streamed response bodies: the client gets a JS `ReadableStream` body chunk by chunk while the
//! function's instance keeps running, instead of after the stream has ended.
//!
//! The engine sends the response's head ([`HostCall::ResponseHead`]) and then each chunk
//! ([`HostCall::ResponseChunk`]) as host calls during `wisp_handle`. The first makes
//! [`crate::function::Function::invoke_streaming`] answer the HTTP request at once, with a body
//! fed by a bounded channel; the instance's future moves to a task of its own and lives until
//! `wisp_handle` returns, under the same time limit. A full channel suspends the instance (the
//! client reads slower than the function writes: backpressure); a closed one (the client went
//! away) fails the chunk call, which cancels the JS stream.
//!
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

/// The instance's side of a streamed response, kept in its store.
#[derive(Default)]
pub struct ResponseStream {
    /// Where the head goes; `None` when streaming is not possible (pre-initialisation) or the
    /// head was sent.
    head: Option<oneshot::Sender<StreamedResponse>>,
    /// The body, once the head has gone.
    chunks: Option<mpsc::Sender<Chunk>>,
}

impl ResponseStream {
    /// A stream for one request, and the receiver its head arrives on.
    pub fn new() -> (ResponseStream, oneshot::Receiver<StreamedResponse>) {
        let (tx, rx) = oneshot::channel();
        let stream = ResponseStream {
            head: Some(tx),
            chunks: None,
        };
        (stream, rx)
    }

    /// Whether a head has been sent: the instance's final output is then not the response.
    pub fn started(&self) -> bool {
        self.chunks.is_some()
    }

    /// Sends the head; the body channel opens.
    pub fn head(&mut self, status: u16, headers: Vec<(String, Vec<u8>)>) -> Result<(), String> {
        let Some(tx) = self.head.take() else {
            return Err(if self.chunks.is_some() {
                "the response was already sent".into()
            } else {
                "a streamed response is only possible while handling a request".into()
            });
        };
        let (chunks, body) = mpsc::channel(CHANNEL_CHUNKS);
        self.chunks = Some(chunks);
        tx.send(StreamedResponse {
            status,
            headers,
            body,
        })
        .map_err(|_| "the request was abandoned".to_owned())
    }

    /// The sender for the next chunk (cloned, so the store need not stay borrowed while the
    /// chunk waits for room).
    pub fn sender(&self) -> Result<mpsc::Sender<Chunk>, String> {
        self.chunks
            .clone()
            .ok_or_else(|| "a body chunk was sent before the response head".to_owned())
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
        let mut response = head.await.unwrap();
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
        let mut response = head.await.unwrap();
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

    #[test]
    fn no_stream_outside_a_request() {
        let mut stream = ResponseStream::default();
        assert!(stream.head(200, vec![]).is_err());
        assert!(stream.sender().is_err());
    }
}
