//! One vendor call with bounded retries: 429, 5xx, timeouts and unreachable hosts are retried
//! with backoff (or the vendor's `Retry-After`) while the deadline allows; other answers are
//! final. Each vendor says how to read its success and its error bodies.

use super::ProviderError;
use std::time::{Duration, Instant};

/// Longest wait we accept from a `Retry-After` before giving up on this request.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(20);

/// The largest answer read from a vendor: base64 images of the most pixels a request may have
/// (40 megapixels) fit with room to spare. A larger one is refused as it streams in.
pub const MAX_ANSWER_BYTES: usize = 160 << 20;

/// A vendor's successful answer, read whole.
pub struct Answer {
    /// `text/event-stream` (a streamed answer).
    pub event_stream: bool,
    pub text: String,
}

/// Sends `request` (built afresh for every attempt: multipart forms cannot be cloned) until it
/// succeeds, fails for good, or the deadline or `max_retries` ends it. A 2xx answer goes to
/// `success`; another status's body to `error_of`, which gives its message and whether it is
/// a content-policy refusal.
pub async fn send<T>(
    vendor: &'static str,
    deadline: Instant,
    max_retries: u32,
    request: impl Fn() -> reqwest::RequestBuilder,
    success: impl Fn(&Answer) -> Result<T, ProviderError>,
    error_of: impl Fn(&str) -> (String, bool),
) -> Result<T, ProviderError> {
    send_seeing_events(
        vendor,
        deadline,
        max_retries,
        request,
        success,
        error_of,
        None,
    )
    .await
}

/// Handed each event of a successful `text/event-stream` answer (its lines, without the blank
/// line that ends it) as soon as it has come in whole.
pub type OnEvent<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// [`send`], showing `on_event` each event of a streamed answer while it is still coming.
pub async fn send_seeing_events<T>(
    vendor: &'static str,
    deadline: Instant,
    max_retries: u32,
    request: impl Fn() -> reqwest::RequestBuilder,
    success: impl Fn(&Answer) -> Result<T, ProviderError>,
    error_of: impl Fn(&str) -> (String, bool),
    on_event: Option<OnEvent<'_>>,
) -> Result<T, ProviderError> {
    let mut attempt = 0u32;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ProviderError::Timeout);
        }
        let sent = request().timeout(remaining).send().await;
        let mut wait = backoff(attempt);
        let retryable = match sent {
            Err(e) if e.is_timeout() => ProviderError::Timeout,
            Err(e) => ProviderError::Unreachable(e.to_string()),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let header = |name: &str| {
                    resp.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
                let event_stream =
                    header("content-type").is_some_and(|ct| ct.starts_with("text/event-stream"));
                let ok = (200..300).contains(&status);
                let text = read_capped(resp, on_event.filter(|_| ok && event_stream)).await?;
                if ok {
                    return success(&Answer { event_stream, text });
                }
                let (message, policy) = error_of(&text);
                match status {
                    429 | 500 | 502 | 503 | 504 => {
                        if let Some(s) = retry_after {
                            wait = Duration::from_secs(s);
                        }
                        if status == 429 {
                            ProviderError::RateLimited {
                                retry_after_secs: retry_after,
                            }
                        } else {
                            ProviderError::Upstream { status, message }
                        }
                    }
                    _ if policy => return Err(ProviderError::ContentPolicy(message)),
                    // Our account at the vendor (a bad or rotated key, no credit, locked) or a
                    // model it removed: this vendor cannot serve, another may.
                    401..=404 => {
                        return Err(ProviderError::Upstream { status, message });
                    }
                    _ => return Err(ProviderError::Rejected { status, message }),
                }
            }
        };
        attempt += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        if attempt > max_retries || wait > MAX_RETRY_AFTER || wait >= left {
            tracing::warn!(vendor, attempts = attempt, error = %retryable, "provider call failed");
            return Err(retryable);
        }
        tracing::info!(vendor, attempt, wait_ms = wait.as_millis() as u64, error = %retryable, "retrying provider call");
        tokio::time::sleep(wait).await;
    }
}

/// The answer's body as text, refused once it passes [`MAX_ANSWER_BYTES`].
async fn read_capped(
    mut resp: reqwest::Response,
    on_event: Option<OnEvent<'_>>,
) -> Result<String, ProviderError> {
    let too_big = || {
        ProviderError::BadOutput(format!(
            "the vendor's answer is larger than {MAX_ANSWER_BYTES} bytes"
        ))
    };
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    // Where the events not yet shown begin.
    let mut shown = 0;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(too_big());
                }
                body.extend_from_slice(&chunk);
                if let Some(on_event) = on_event {
                    shown += whole_events(&body[shown..], on_event);
                }
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => return Err(ProviderError::Timeout),
            Err(e) => return Err(ProviderError::Unreachable(e.to_string())),
        }
    }
    Ok(String::from_utf8(body)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Shows `on_event` every event `text` holds whole (one ends at a blank line, in any of SSE's
/// line endings); returns how many bytes they took.
fn whole_events(text: &[u8], on_event: OnEvent<'_>) -> usize {
    let mut used = 0;
    let mut line_start = 0;
    let mut i = 0;
    while i < text.len() {
        let end = match text[i] {
            b'\n' => i + 1,
            b'\r' if text.get(i + 1) == Some(&b'\n') => i + 2,
            // A CR may be the first half of a CRLF still on its way.
            b'\r' if i + 1 == text.len() => break,
            b'\r' => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        if i == line_start {
            // A blank line: the event before it is whole.
            if line_start > used {
                let event = String::from_utf8_lossy(&text[used..line_start]);
                on_event(&event.replace("\r\n", "\n").replace('\r', "\n"));
            }
            used = end;
        }
        line_start = end;
        i = end;
    }
    used
}

/// Exponential backoff with jitter: ~0.5 s, 1 s, 2 s, ...
fn backoff(attempt: u32) -> Duration {
    use rand::Rng;
    let base = 500u64.saturating_mul(1 << attempt.min(6));
    Duration::from_millis(base + rand::rng().random_range(0..=base / 4))
}

#[cfg(test)]
mod tests {
    use super::whole_events;
    use std::sync::Mutex;

    #[test]
    fn events_are_shown_once_whole_whatever_their_line_endings_and_chunks() {
        let stream = "event: a\ndata: 1\n\nevent: b\r\ndata: 2\r\n\r\ndata: 3\r\rdata: 4\n\n";
        for cut in 1..stream.len() {
            let seen = Mutex::new(Vec::new());
            let on = |e: &str| seen.lock().unwrap().push(e.to_string());
            let mut buf = Vec::new();
            let mut shown = 0;
            for piece in [&stream[..cut], &stream[cut..]] {
                buf.extend_from_slice(piece.as_bytes());
                shown += whole_events(&buf[shown..], &on);
            }
            let seen = seen.into_inner().unwrap();
            let data: Vec<String> = seen
                .iter()
                .map(|e| e.lines().filter(|l| l.starts_with("data")).collect())
                .collect();
            assert_eq!(
                data,
                ["data: 1", "data: 2", "data: 3", "data: 4"],
                "cut at {cut}"
            );
            assert_eq!(shown, stream.len(), "cut at {cut}");
        }
    }
}
