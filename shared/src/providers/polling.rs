//! What the queue-style vendors (Replicate, fal) share: follow-up URLs that must stay on the
//! vendor's API origin (they receive our key), waits between polls inside the call's deadline,
//! inputs as data URIs, and a download of each output through [`Fetch`].

use super::fetch::Fetch;
use super::{Call, InputImage, ProviderError, ProviderImage, ProviderOutput};
use base64::Engine;
use reqwest::Url;
use std::future::Future;
use std::time::{Duration, Instant};

/// A queue-style vendor's clients: its API (no redirects: follow-up URLs are checked against
/// it), its key, and downloads of its outputs (only from its hosts, and capped).
pub struct QueueApi {
    pub http: reqwest::Client,
    pub api: Url,
    pub key: std::sync::Arc<crate::secrets::Secret>,
    fetch: Fetch,
    download: reqwest::Client,
}

impl QueueApi {
    /// `base_url` is the API's host without a version path (`default` when it is not a URL);
    /// outputs may come from `hosts` and from the API's own origin.
    pub fn new(
        base_url: &str,
        default: &str,
        hosts: &[&str],
        key: impl Into<crate::secrets::Key>,
    ) -> Self {
        let base = base_url.trim_end_matches('/');
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let fetch = Fetch::new(&hosts, base, super::fetch::MAX_OUTPUT_BYTES);
        Self {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a TLS client"),
            api: Url::parse(base).unwrap_or_else(|_| Url::parse(default).expect("a URL")),
            key: key.into().0,
            download: fetch.client(Duration::from_secs(5)),
            fetch,
        }
    }

    /// Outputs larger than `bytes` are refused (64 MB by default).
    pub fn max_output(mut self, bytes: usize) -> Self {
        self.fetch = self.fetch.with_max_bytes(bytes);
        self.download = self.fetch.client(Duration::from_secs(5));
        self
    }

    /// An output image, downloaded at once.
    pub async fn image(&self, url: &str, call: &Call<'_>) -> Result<ProviderImage, ProviderError> {
        download(&self.fetch, &self.download, url, call).await
    }

    /// An output MP4, downloaded at once.
    pub async fn video(&self, url: &str, call: &Call<'_>) -> Result<Vec<u8>, ProviderError> {
        download_video(&self.fetch, &self.download, url, call).await
    }
}

/// A follow-up URL from a vendor's answer, refused unless it is on the API's own origin: our
/// key goes with it.
pub fn on_origin(api: &Url, url: &str) -> Result<Url, ProviderError> {
    let parsed = Url::parse(url)
        .map_err(|_| ProviderError::BadOutput(format!("follow-up URL is not a URL: {url}")))?;
    let same = parsed.scheme() == api.scheme()
        && parsed.host_str() == api.host_str()
        && parsed.port_or_known_default() == api.port_or_known_default();
    if !same {
        return Err(ProviderError::BadOutput(format!(
            "follow-up URL is off the vendor's API host: {}",
            parsed.host_str().unwrap_or("?")
        )));
    }
    Ok(parsed)
}

/// A vendor's work that is canceled unless it ends: dropped armed (the call failed on the
/// way, or a sibling image's failure dropped it), it sends the cancel in the background;
/// [`Running::cancel_now`] sends it and waits (a stop or a timeout the caller reports).
pub struct Running {
    vendor: &'static str,
    cancel: Option<reqwest::RequestBuilder>,
}

impl Running {
    pub fn new(vendor: &'static str, cancel: Option<reqwest::RequestBuilder>) -> Self {
        Self { vendor, cancel }
    }

    /// The work ended (succeeded, failed or canceled at the vendor): nothing to cancel.
    pub fn ended(&mut self) {
        self.cancel = None;
    }

    pub async fn cancel_now(&mut self) {
        if let Some(req) = self.cancel.take() {
            send_cancel(self.vendor, req).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let Some(req) = self.cancel.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(send_cancel(self.vendor, req));
        }
    }
}

async fn send_cancel(vendor: &'static str, req: reqwest::RequestBuilder) {
    // Bounded: a cancel must not eat the next vendor's time.
    match req.timeout(Duration::from_secs(3)).send().await {
        Ok(r) if r.status().is_success() => tracing::info!(vendor, "vendor work canceled"),
        Ok(r) => tracing::warn!(
            vendor,
            status = r.status().as_u16(),
            "vendor work not canceled"
        ),
        Err(e) => tracing::warn!(vendor, error = %e, "vendor work not canceled"),
    }
}

/// What one look at a vendor's queued work found.
pub enum Poll<T> {
    /// It ended with this.
    Done(T),
    /// It ended without a result (failed, or canceled at the vendor): nothing to cancel.
    Failed(ProviderError),
    /// Still queued or running.
    Pending,
}

/// Follows a vendor's queued work from `state` until it ends: between looks it asks the call's
/// watch and waits within the deadline (`pause`). A stop or a timeout cancels the work at the
/// vendor and waits for the cancel; an error of a look leaves `running` armed, so the work is
/// canceled in the background. The one loop fal and Replicate share.
pub async fn follow<T, F, Fut>(
    call: &Call<'_>,
    mut running: Running,
    mut state: Poll<T>,
    mut look: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ProviderError>>,
{
    let mut polls = 0;
    loop {
        match state {
            Poll::Done(done) => {
                running.ended();
                return Ok(done);
            }
            Poll::Failed(e) => {
                running.ended();
                return Err(e);
            }
            Poll::Pending => {}
        }
        let stop = if call.go_on().await {
            pause(call, polls).await.err()
        } else {
            Some(ProviderError::Canceled)
        };
        if let Some(e) = stop {
            running.cancel_now().await;
            return Err(e);
        }
        polls += 1;
        state = look().await?;
    }
}

/// Waits before the `attempt`-th poll (0.5 s, 1 s, 2 s, then every 3 s), or fails with a
/// timeout when the deadline comes first.
pub async fn pause(call: &Call<'_>, attempt: u32) -> Result<(), ProviderError> {
    let wait = Duration::from_millis((500u64 << attempt.min(3)).min(3000));
    let left = call.deadline.saturating_duration_since(Instant::now());
    if left <= wait {
        return Err(ProviderError::Timeout);
    }
    tokio::time::sleep(wait).await;
    Ok(())
}

/// Inputs up to this size go inline as `data:` URIs: Replicate documents them for files up to
/// about 256 KB (and fal only for some models); larger ones go as URLs the vendor fetches.
pub const INLINE_INPUT_MAX: usize = 256 * 1024;

fn mime_of(bytes: &[u8]) -> &'static str {
    match imaging::sniff_format(bytes) {
        Some(imaging::Format::Jpeg) => "image/jpeg",
        Some(imaging::Format::Webp) => "image/webp",
        _ => "image/png",
    }
}

/// An input as a `data:` URI (the vendors take these for files; the type is sniffed).
pub fn data_uri(bytes: &[u8]) -> String {
    format!(
        "data:{};base64,{}",
        mime_of(bytes),
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// An input as the vendor takes it: inline when small (or when the call has nowhere to put
/// it), else a short-lived URL of a copy in object storage.
pub async fn input_ref(bytes: &[u8], call: &Call<'_>) -> Result<String, ProviderError> {
    match call.staging {
        Some(staging) if bytes.len() > INLINE_INPUT_MAX => staging
            .stage(bytes.to_vec(), mime_of(bytes))
            .await
            .map_err(|e| ProviderError::Staging(e.to_string())),
        _ => Ok(data_uri(bytes)),
    }
}

/// The image and the vendor mask (white = edit) of an inpainting edit: the mask's transparent
/// pixels, or the image's own when no mask was sent.
pub async fn fill_inputs(
    image: &InputImage,
    mask: Option<&InputImage>,
    call: &Call<'_>,
) -> Result<(String, String), ProviderError> {
    let source = mask.map_or(&image.rgba, |m| &m.rgba);
    let mask_png = super::masks::to_vendor_png(source)?;
    Ok((
        input_ref(&image.bytes, call).await?,
        input_ref(&mask_png, call).await?,
    ))
}

/// A queue vendor's images for `op`: one request per image (`each`, given the image's index and
/// the edit's image and mask as URIs), an edit being an inpainting; they make no variations.
pub fn images<'a, 'c: 'a, F, Fut>(
    plan: &'a crate::domain::generation::GenerationPlan,
    route: &'a crate::domain::catalog::Route,
    op: super::Op<'a>,
    call: Call<'c>,
    each: F,
) -> super::Answer<'a, Vec<ProviderImage>>
where
    F: Fn(u64, Option<(String, String)>) -> Fut + Send + 'a,
    Fut: Future<Output = Result<ProviderImage, ProviderError>> + Send + 'a,
{
    let inputs = match op {
        super::Op::Generate => None,
        super::Op::Edit(inputs) => Some(inputs),
        super::Op::Variation(_) => {
            return Box::pin(std::future::ready(Err(super::not_offered(route))));
        }
    };
    Box::pin(async move { per_image(plan, inputs, &call, each).await })
}

/// One request per image of `plan` (at once): `one(index, image and mask)`, an edit's image and
/// vendor mask as `data:` URIs or staged URLs (`input_ref`). The first failure ends the call
/// (the others are dropped, and cancel their work).
pub async fn per_image<F, Fut>(
    plan: &crate::domain::generation::GenerationPlan,
    inputs: Option<&super::EditInputs>,
    call: &Call<'_>,
    one: F,
) -> Result<Vec<ProviderImage>, ProviderError>
where
    F: Fn(u64, Option<(String, String)>) -> Fut,
    Fut: std::future::Future<Output = Result<ProviderImage, ProviderError>>,
{
    let pair = match inputs {
        None => None,
        Some(inputs) => {
            let first = inputs
                .images
                .first()
                .ok_or_else(|| ProviderError::BadOutput("an edit without an image".into()))?;
            Some(fill_inputs(first, inputs.mask.as_ref(), call).await?)
        }
    };
    futures::future::try_join_all((0..plan.n as u64).map(|i| one(i, pair.clone()))).await
}

/// Downloads an output at once (vendors delete them within the hour).
async fn download(
    fetch: &Fetch,
    http: &reqwest::Client,
    url: &str,
    call: &Call<'_>,
) -> Result<ProviderImage, ProviderError> {
    let left = call.deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ProviderError::Timeout);
    }
    let bytes = fetch.get(http, url, left).await?;
    if imaging::sniff_format(&bytes).is_none() {
        return Err(ProviderError::BadOutput(
            "the vendor's output is not a PNG, JPEG or WebP image".into(),
        ));
    }
    Ok(ProviderImage {
        image: ProviderOutput::Encoded(bytes),
        revised_prompt: None,
        partials: Vec::new(),
        usage: None,
    })
}

/// Downloads a vendor's MP4 at once, refused unless it is one (an `ftyp` box first).
async fn download_video(
    fetch: &Fetch,
    http: &reqwest::Client,
    url: &str,
    call: &Call<'_>,
) -> Result<Vec<u8>, ProviderError> {
    let left = call.deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ProviderError::Timeout);
    }
    let bytes = fetch.get(http, url, left).await?;
    if mp4_dimensions(&bytes).is_none() {
        return Err(ProviderError::BadOutput(
            "the vendor's output is not an MP4 video".into(),
        ));
    }
    Ok(bytes)
}

/// The width and height of an MP4's first video track (its `tkhd`), if the bytes are an MP4.
pub fn mp4_dimensions(mp4: &[u8]) -> Option<(u32, u32)> {
    /// The boxes in `data`: (type, body).
    fn boxes(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
        std::iter::from_fn(move || {
            if data.len() < 8 {
                return None;
            }
            let size = u32::from_be_bytes(data[..4].try_into().ok()?) as usize;
            let kind: [u8; 4] = data[4..8].try_into().ok()?;
            let (header, size) = match size {
                1 if data.len() >= 16 => (
                    16,
                    u64::from_be_bytes(data[8..16].try_into().ok()?) as usize,
                ),
                0 => (8, data.len()),
                n => (8, n),
            };
            if size < header || size > data.len() {
                return None;
            }
            let body = &data[header..size];
            data = &data[size..];
            Some((kind, body))
        })
    }
    let mut top = boxes(mp4);
    if top.next()?.0 != *b"ftyp" {
        return None;
    }
    let moov = boxes(mp4).find(|(k, _)| k == b"moov")?.1;
    boxes(moov)
        .filter(|(k, _)| k == b"trak")
        .find_map(|(_, trak)| {
            let tkhd = boxes(trak).find(|(k, _)| k == b"tkhd")?.1;
            // Version 1 has 64-bit times: 12 more bytes before the width and height.
            let at = if tkhd.first() == Some(&1) { 88 } else { 76 };
            let fixed = |o: usize| {
                tkhd.get(o..o + 4)
                    .map(|b| u32::from_be_bytes(b.try_into().unwrap()) >> 16)
            };
            let (w, h) = (fixed(at)?, fixed(at + 4)?);
            (w > 0 && h > 0).then_some((w, h))
        })
}

/// The seed of the `index`-th image when the request set one (vendors take 31-bit seeds).
pub fn seed_of(seed: Option<u64>, index: u64) -> Option<u64> {
    seed.map(|s| s.wrapping_add(index) % 2_147_483_647)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what it is given and answers a URL naming its size.
    struct Shelf(std::sync::Mutex<Vec<(usize, &'static str)>>);

    impl crate::ports::Staging for Shelf {
        fn stage(
            &self,
            bytes: Vec<u8>,
            content_type: &'static str,
        ) -> futures::future::BoxFuture<'_, Result<String, crate::error::ApiError>> {
            self.0.lock().unwrap().push((bytes.len(), content_type));
            Box::pin(async move { Ok(format!("https://bucket.example/{}", bytes.len())) })
        }
    }

    #[tokio::test]
    async fn inputs_over_256_kb_are_staged_and_smaller_ones_go_inline() {
        let shelf = Shelf(Default::default());
        let call = |staging| Call {
            deadline: Instant::now() + Duration::from_secs(5),
            max_retries: 0,
            watch: None,
            staging,
            partials: None,
        };
        let jpeg = |len: usize| {
            let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
            b.resize(len, 7);
            b
        };
        let small = input_ref(&jpeg(INLINE_INPUT_MAX), &call(Some(&shelf)))
            .await
            .unwrap();
        assert!(small.starts_with("data:image/jpeg;base64,"), "{small}");
        let large = input_ref(&jpeg(INLINE_INPUT_MAX + 1), &call(Some(&shelf)))
            .await
            .unwrap();
        assert_eq!(
            large,
            format!("https://bucket.example/{}", INLINE_INPUT_MAX + 1)
        );
        assert_eq!(
            *shelf.0.lock().unwrap(),
            [(INLINE_INPUT_MAX + 1, "image/jpeg")]
        );
        // Nowhere to stage (tests, tools): inline whatever the size.
        let inline = input_ref(&jpeg(INLINE_INPUT_MAX + 1), &call(None))
            .await
            .unwrap();
        assert!(inline.starts_with("data:image/jpeg;"));
    }

    #[test]
    fn follow_up_urls_stay_on_the_api_origin() {
        let api = Url::parse("https://api.replicate.com").unwrap();
        assert!(on_origin(&api, "https://api.replicate.com/v1/predictions/x").is_ok());
        for bad in [
            "https://evil.example/v1/predictions/x",
            "http://api.replicate.com/v1/predictions/x",
            "https://api.replicate.com:8443/v1/predictions/x",
            "not a url",
        ] {
            assert!(on_origin(&api, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_mp4s_size_is_read_from_its_track_and_other_bytes_are_no_mp4() {
        assert_eq!(mp4_dimensions(b""), None);
        assert_eq!(
            mp4_dimensions(b"\x00\x00\x00\x08moov"),
            None,
            "no ftyp first"
        );
        let png =
            imaging::encode(&imaging::RgbaImage::new(4, 4), imaging::Format::Png, None).unwrap();
        assert_eq!(mp4_dimensions(&png), None);
        #[cfg(feature = "video")]
        {
            let picture = imaging::RgbaImage::from_pixel(64, 48, imaging::Rgba([9, 9, 9, 255]));
            let mut e = imaging::video::ClipEncoder::new(&picture, (64, 48), 1, 1).unwrap();
            while e.done() < e.total() {
                e.encode_next(imaging::video::FPS).unwrap();
            }
            let mp4 = e.finish().unwrap().mp4;
            assert_eq!(mp4_dimensions(&mp4), Some((64, 48)));
            // Cut short anywhere: refused, never a panic.
            for cut in [8, 40, mp4.len() / 2] {
                let _ = mp4_dimensions(&mp4[..cut]);
            }
        }
    }
}
