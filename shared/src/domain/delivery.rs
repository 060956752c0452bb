//! How stored objects reach clients: URLs that stay the same for a window of time, and the
//! caching every object allows (its key never gets new content).

use std::time::Duration;

/// What every stored object says about caching: its bytes never change under its key, so any
/// cache (a browser's, a CDN's) may keep it for a year without asking again.
pub const OBJECT_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// What a browser is told when it reads an object through a presigned S3 URL: the same, but
/// for its own cache only (S3 answers with this through the URL's `response-cache-control`).
pub const PRIVATE_CACHE_CONTROL: &str = "private, max-age=31536000, immutable";

/// URLs signed at the start of a window of time, so every read within the window gets the
/// same URL (and a browser the same cache entry), each valid for `ttl` after the window ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UrlWindow {
    pub window: Duration,
    pub ttl: Duration,
}

/// When a URL is signed and for how long: the same for every read in one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signing {
    /// Seconds since the epoch.
    pub signed_at: i64,
    pub valid_for: Duration,
}

impl UrlWindow {
    /// The signing of a URL read at `now` (seconds since the epoch): signed at the window's
    /// start, valid until `ttl` past its end, so a URL is good for at least `ttl` after any read.
    pub fn at(&self, now: i64) -> Signing {
        let window = self.window.as_secs().max(1) as i64;
        Signing {
            signed_at: now - now.rem_euclid(window),
            valid_for: self.window + self.ttl,
        }
    }

    /// The longest a URL can be used after it was handed out: how long a leaked one lives.
    pub fn longest_life(&self) -> Duration {
        self.window + self.ttl
    }
}

impl Signing {
    /// Signed now, valid for `ttl`: for URLs nobody caches (a vendor fetching an input).
    pub fn fresh(now: i64, ttl: Duration) -> Self {
        Self {
            signed_at: now,
            valid_for: ttl,
        }
    }

    /// Seconds since the epoch when the URL stops working.
    pub fn expires_at(&self) -> i64 {
        self.signed_at + self.valid_for.as_secs() as i64
    }
}

/// The format (`avif`, `webp`) to send a client, by its `Accept` header, among `available`:
/// a format the client names beats one it takes through a wildcard (`image/*`, `*/*`), then
/// the higher q, then the earlier in `available` (smallest first). A client that names none
/// of them gets the last (the most widely understood); so does one without `Accept`.
pub fn negotiate<'a>(accept: Option<&str>, available: &[&'a str]) -> Option<&'a str> {
    let ranges: Vec<(&str, f32)> = accept
        .unwrap_or("")
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';');
            let media = parts.next()?.trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!media.is_empty()).then_some((media, q))
        })
        .collect();
    let score = |format: &str| -> Option<(u8, f32)> {
        let named = format!("image/{format}");
        let find = |media: &str| {
            ranges
                .iter()
                .find(|(m, _)| m.eq_ignore_ascii_case(media))
                .map(|(_, q)| *q)
        };
        match find(&named) {
            Some(q) => (q > 0.0).then_some((2, q)),
            None => find("image/*")
                .or_else(|| find("*/*"))
                .filter(|q| *q > 0.0)
                .map(|q| (1, q)),
        }
    };
    let named_best = available
        .iter()
        .enumerate()
        .filter_map(|(i, f)| score(f).filter(|(rank, _)| *rank == 2).map(|(_, q)| (i, q)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
    match named_best {
        Some((i, _)) => Some(available[i]),
        None => available.last().copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_get_avif_when_they_name_it_others_webp() {
        let both = ["avif", "webp"];
        // Chromium's and Firefox's image Accept headers.
        let chromium = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
        assert_eq!(negotiate(Some(chromium), &both), Some("avif"));
        let firefox = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";
        assert_eq!(negotiate(Some(firefox), &both), Some("avif"));
        // An older Safari names WebP only; curl takes anything.
        assert_eq!(
            negotiate(Some("image/webp,image/png,*/*;q=0.5"), &both),
            Some("webp")
        );
        assert_eq!(negotiate(Some("*/*"), &both), Some("webp"));
        assert_eq!(negotiate(None, &both), Some("webp"));
        // Refused by q=0, or preferred by q.
        assert_eq!(
            negotiate(Some("image/avif;q=0, image/webp"), &both),
            Some("webp")
        );
        assert_eq!(
            negotiate(Some("image/avif;q=0.5, image/webp"), &both),
            Some("webp")
        );
        // Only what exists is chosen.
        assert_eq!(negotiate(Some(chromium), &["webp"]), Some("webp"));
        assert_eq!(negotiate(Some(chromium), &[]), None);
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn reads_in_one_window_sign_alike_and_stay_valid_for_the_ttl() {
        let w = UrlWindow {
            window: HOUR,
            ttl: HOUR,
        };
        let start = 1_800_000_000; // a whole hour
        let first = w.at(start);
        let last = w.at(start + 3599);
        assert_eq!(first, last);
        assert_eq!(first.signed_at, start);
        // Read at the window's last second, the URL still has a whole ttl left.
        assert_eq!(last.expires_at() - (start + 3599), 3601);
        // The next window signs anew.
        assert_ne!(w.at(start + 3600), first);
    }

    #[test]
    fn a_leaked_url_lives_at_most_window_plus_ttl() {
        let w = UrlWindow {
            window: Duration::from_secs(600),
            ttl: HOUR,
        };
        let s = w.at(1_800_000_123);
        assert!(s.expires_at() - 1_800_000_123 <= w.longest_life().as_secs() as i64);
        assert!(s.expires_at() - 1_800_000_123 >= HOUR.as_secs() as i64);
    }
}
