//! Request heads hyper would refuse with an empty answer of its own (a URI
//! over 64 KiB, a head over its buffer, too many headers, a malformed line)
//! are refused here first, in the API's shape: a `{"error": ...}` JSON answer
//! with the usual headers, and an audit record.
//!
//! [`HeadGuard`] wraps a connection's stream. Bytes pass to hyper as they
//! arrive; a copy of each request head (at most [`MAX_HEAD`] bytes) is
//! checked with `httparse` (hyper's own parser) and the body is skipped by its
//! `Content-Length`, so every head on a keep-alive connection is seen. A head
//! that fails is not handed to hyper: the guard writes its answer, then ends
//! the stream, which hyper takes as a client that hung up. A chunked body
//! (which the API's clients do not send) turns the guard off for the rest of
//! its connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest request line accepted (method, URI, version).
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Longest request head accepted (request line and headers).
pub const MAX_HEAD: usize = 64 * 1024;
/// Most headers in one request (hyper's own default).
const MAX_HEADERS: usize = 100;
/// Most bytes read and dropped after a refusal.
const MAX_DRAIN: usize = 1 << 20;

/// Told of every head the guard refused: status and reason.
pub type OnRefused = Arc<dyn Fn(u16, &str) + Send + Sync>;

enum State {
    /// Collecting a request head.
    Head(Vec<u8>),
    /// Inside a body: this many bytes before the next head.
    Body(u64),
    /// Not checking any more (a chunked body).
    Passthrough,
    /// Writing the refusal.
    Refusing { answer: Vec<u8>, written: usize },
    /// Refusal sent: reading (and dropping) what the client still sends, so
    /// that closing with unread data (a reset) cannot destroy the answer
    /// before the client read it. Ends at the client's EOF, after
    /// [`MAX_DRAIN`] bytes, or when hyper's header-read timeout fires.
    Draining { discarded: usize },
    /// The stream ends here for hyper.
    Done,
}

/// A stream that checks the request heads passing through it.
pub struct HeadGuard<S> {
    inner: S,
    state: State,
    on_refused: OnRefused,
}

impl<S> HeadGuard<S> {
    pub fn new(inner: S, on_refused: OnRefused) -> Self {
        Self {
            inner,
            state: State::Head(Vec::new()),
            on_refused,
        }
    }
}

/// Why a head is refused.
struct Refusal {
    status: u16,
    reason: &'static str,
    message: String,
}

impl Refusal {
    fn answer(&self) -> Vec<u8> {
        let body = serde_json::json!({ "error": self.message }).to_string();
        format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncache-control: no-store\r\n\
             x-content-type-options: nosniff\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            self.status,
            self.reason,
            body.len()
        )
        .into_bytes()
    }
}

impl State {
    /// Feeds bytes read from the client; returns a refusal if a head fails.
    fn feed(&mut self, mut bytes: &[u8]) -> Option<Refusal> {
        while !bytes.is_empty() {
            match self {
                State::Body(remaining) => {
                    let take = (*remaining).min(bytes.len() as u64);
                    *remaining -= take;
                    bytes = &bytes[take as usize..];
                    if *remaining == 0 {
                        *self = State::Head(Vec::new());
                    }
                }
                State::Head(head) => {
                    let scanned = head.len();
                    head.extend_from_slice(bytes);
                    bytes = &[];
                    // Empty lines before a request line are allowed.
                    let start = head
                        .iter()
                        .position(|b| *b != b'\r' && *b != b'\n')
                        .unwrap_or(head.len());
                    let line_end = find(&head[start..], b"\r\n").map(|i| start + i);
                    let line_len = line_end.unwrap_or(head.len()) - start;
                    if line_len > MAX_REQUEST_LINE {
                        return Some(Refusal {
                            status: 414,
                            reason: "URI Too Long",
                            message: format!(
                                "request line (and so its URI) is longer than {MAX_REQUEST_LINE} bytes"
                            ),
                        });
                    }
                    // The head ends after its request line, not within the
                    // empty lines before it.
                    let from = scanned.saturating_sub(3).max(start);
                    let Some(end) = find(&head[from..], b"\r\n\r\n").map(|i| from + i + 4) else {
                        if head.len() > MAX_HEAD {
                            return Some(too_large());
                        }
                        continue;
                    };
                    if end > MAX_HEAD {
                        return Some(too_large());
                    }
                    let rest = head.split_off(end);
                    let next = match body_length(head) {
                        Ok(Some(0)) => State::Head(Vec::new()),
                        Ok(Some(len)) => State::Body(len),
                        Ok(None) => State::Passthrough,
                        Err(refusal) => return Some(refusal),
                    };
                    *self = next;
                    return self.feed(&rest);
                }
                State::Passthrough
                | State::Refusing { .. }
                | State::Draining { .. }
                | State::Done => return None,
            }
        }
        None
    }
}

fn too_large() -> Refusal {
    Refusal {
        status: 431,
        reason: "Request Header Fields Too Large",
        message: format!("request head is larger than {MAX_HEAD} bytes"),
    }
}

/// The body length a complete head announces; `None` for a chunked body.
fn body_length(head: &[u8]) -> Result<Option<u64>, Refusal> {
    let malformed = |message: &str| Refusal {
        status: 400,
        reason: "Bad Request",
        message: message.to_string(),
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(malformed("malformed request head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal {
                status: 431,
                reason: "Request Header Fields Too Large",
                message: format!("request has more than {MAX_HEADERS} headers"),
            })
        }
        Err(err) => return Err(malformed(&format!("malformed request head: {err}"))),
    }
    let value = |name: &str| {
        request
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
            .collect::<Vec<_>>()
    };
    if !value("transfer-encoding").is_empty() {
        return Ok(None);
    }
    match value("content-length").as_slice() {
        [] => Ok(Some(0)),
        [len] => len
            .parse::<u64>()
            .map(Some)
            .map_err(|_| malformed("invalid content-length")),
        _ => Err(malformed("more than one content-length")),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for HeadGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Done => return Poll::Ready(Ok(())),
                State::Refusing { answer, written } => {
                    while *written < answer.len() {
                        match Pin::new(&mut this.inner).poll_write(cx, &answer[*written..]) {
                            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                                this.state = State::Done;
                                return Poll::Ready(Ok(()));
                            }
                            Poll::Ready(Ok(n)) => *written += n,
                            Poll::Pending => return Poll::Pending,
                        }
                    }
                    if Pin::new(&mut this.inner).poll_flush(cx).is_pending() {
                        return Poll::Pending;
                    }
                    // Our FIN tells the client the answer is complete.
                    if Pin::new(&mut this.inner).poll_shutdown(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.state = State::Draining { discarded: 0 };
                }
                State::Draining { discarded } => {
                    let mut scratch = [0u8; 8192];
                    let mut sink = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut this.inner).poll_read(cx, &mut sink) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(())) if !sink.filled().is_empty() => {
                            *discarded += sink.filled().len();
                            if *discarded > MAX_DRAIN {
                                this.state = State::Done;
                            }
                        }
                        Poll::Ready(_) => this.state = State::Done,
                    }
                }
                State::Passthrough => return Pin::new(&mut this.inner).poll_read(cx, buf),
                State::Head(_) | State::Body(_) => {
                    let before = buf.filled().len();
                    match Pin::new(&mut this.inner).poll_read(cx, buf) {
                        Poll::Ready(Ok(())) => {}
                        other => return other,
                    }
                    let Some(refusal) = this.state.feed(&buf.filled()[before..]) else {
                        return Poll::Ready(Ok(()));
                    };
                    // hyper never sees the refused bytes.
                    buf.set_filled(before);
                    (this.on_refused)(refusal.status, &refusal.message);
                    this.state = State::Refusing {
                        answer: refusal.answer(),
                        written: 0,
                    };
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn feed_all(chunks: &[&[u8]]) -> (State, Option<u16>) {
        let mut state = State::Head(Vec::new());
        for chunk in chunks {
            if let Some(refusal) = state.feed(chunk) {
                return (state, Some(refusal.status));
            }
        }
        (state, None)
    }

    #[test]
    fn ordinary_requests_pass_and_bodies_are_skipped() {
        let req = b"POST /auth HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}";
        // Twice on one connection, split at awkward places.
        let (state, refused) = feed_all(&[&req[..10], &req[10..40], &req[40..], req]);
        assert_eq!(refused, None);
        assert!(matches!(state, State::Head(ref h) if h.is_empty()));
        // A body that looks like a bad head is a body.
        let req = b"POST /auth HTTP/1.1\r\ncontent-length: 6\r\n\r\n\x00\x01\r\n\r\n";
        assert_eq!(feed_all(&[req]).1, None);
        // Empty lines before a request line (some clients send one after a body).
        let padded = b"\r\n\r\nGET /health HTTP/1.1\r\n\r\n";
        let (state, refused) = feed_all(&[&padded[..4], &padded[4..]]);
        assert_eq!(refused, None);
        assert!(matches!(state, State::Head(ref h) if h.is_empty()));
        let chunked = b"POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n";
        assert!(matches!(feed_all(&[chunked]).0, State::Passthrough));
    }

    #[test]
    fn oversized_and_malformed_heads_are_refused() {
        let long_uri = format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(70_000));
        assert_eq!(feed_all(&[long_uri.as_bytes()]).1, Some(414));
        // Refused before the line even ends.
        let partial = format!("GET /{}", "x".repeat(MAX_REQUEST_LINE + 1));
        assert_eq!(feed_all(&[partial.as_bytes()]).1, Some(414));
        let big_head = format!("GET / HTTP/1.1\r\nx: {}\r\n\r\n", "y".repeat(MAX_HEAD));
        assert_eq!(feed_all(&[big_head.as_bytes()]).1, Some(431));
        let many: String = (0..150).map(|i| format!("h{i}: v\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(feed_all(&[many.as_bytes()]).1, Some(431));
        assert_eq!(feed_all(&[b"GARBAGE\r\n\r\n"]).1, Some(400));
        assert_eq!(
            feed_all(&[b"POST / HTTP/1.1\r\ncontent-length: x\r\n\r\n"]).1,
            Some(400)
        );
        // The second head on a connection is checked too.
        let first = b"POST /a HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}".to_vec();
        assert_eq!(feed_all(&[&first, long_uri.as_bytes()]).1, Some(414));
    }

    #[test]
    fn refusals_are_json_answers() {
        let answer = too_large().answer();
        let text = String::from_utf8(answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "));
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains("cache-control: no-store"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(json["error"]
            .as_str()
            .unwrap()
            .contains(&MAX_HEAD.to_string()));
    }
}
