//! Downloading what a vendor names by URL: only from the vendor's own hosts (https), never
//! redirected off them, and never more than a byte cap, read before anything is decoded. A
//! vendor's answer is not trusted to point anywhere (SSRF, or a huge body filling a Lambda).

use super::ProviderError;
use reqwest::Url;
use std::sync::Arc;
use std::time::Duration;

/// The largest output a vendor may send: a 4096×4096 PNG with alpha fits with room to spare.
pub const MAX_OUTPUT_BYTES: usize = 64 << 20;

#[derive(Debug, Clone)]
pub struct Fetch(Arc<Rules>);

#[derive(Debug)]
struct Rules {
    /// `host` or `*.domain` (any subdomain of it), lower case.
    hosts: Vec<String>,
    /// The configured API origin (scheme, host, port): what the operator chose to trust, even
    /// over http (a gateway or a test's fake on loopback).
    api_origin: Option<(String, String, Option<u16>)>,
    max_bytes: usize,
}

fn origin(url: &Url) -> Option<(String, String, Option<u16>)> {
    Some((
        url.scheme().to_string(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default(),
    ))
}

impl Fetch {
    pub fn new(hosts: &[String], api_base: &str, max_bytes: usize) -> Self {
        Self(Arc::new(Rules {
            hosts: hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
            api_origin: Url::parse(api_base).ok().as_ref().and_then(origin),
            max_bytes,
        }))
    }

    /// The same rules with another byte cap.
    pub fn with_max_bytes(&self, max_bytes: usize) -> Self {
        Self(Arc::new(Rules {
            hosts: self.0.hosts.clone(),
            api_origin: self.0.api_origin.clone(),
            max_bytes,
        }))
    }

    /// Whether `url` may be fetched (or redirected to).
    pub fn allows(&self, url: &Url) -> bool {
        let Some(o) = origin(url) else { return false };
        if self.0.api_origin.as_ref() == Some(&o) {
            return true;
        }
        let host = o.1.as_str();
        url.scheme() == "https"
            && self
                .0
                .hosts
                .iter()
                .any(|allowed| match allowed.strip_prefix("*.") {
                    Some(domain) => host
                        .strip_suffix(domain)
                        .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
                    None => host == allowed,
                })
    }

    /// An HTTP client whose redirects stay on allowed hosts (three at most).
    pub fn client(&self, connect_timeout: Duration) -> reqwest::Client {
        let rules = self.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 3 {
                attempt.error("too many redirects")
            } else if rules.allows(attempt.url()) {
                attempt.follow()
            } else {
                attempt.error("a redirect off the vendor's hosts")
            }
        });
        reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .redirect(policy)
            .build()
            .expect("static client configuration")
    }

    /// The body at `url`, refused before it is read if the host is not allowed, and as soon as
    /// it passes the byte cap.
    pub async fn get(
        &self,
        http: &reqwest::Client,
        url: &str,
        timeout: Duration,
    ) -> Result<Vec<u8>, ProviderError> {
        let parsed = Url::parse(url)
            .map_err(|_| ProviderError::BadOutput("the vendor's image URL is not a URL".into()))?;
        if !self.allows(&parsed) {
            return Err(ProviderError::BadOutput(format!(
                "the vendor's image URL is not on its hosts: {}",
                parsed.host_str().unwrap_or("?")
            )));
        }
        let mut resp = http
            .get(parsed)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
        if resp.status().is_server_error() {
            // The vendor's file host is down: another vendor may serve.
            return Err(ProviderError::Upstream {
                status: resp.status().as_u16(),
                message: "the output's host failed".into(),
            });
        }
        if !resp.status().is_success() {
            return Err(ProviderError::BadOutput(format!(
                "image URL answered {}",
                resp.status()
            )));
        }
        let too_big = || {
            ProviderError::BadOutput(format!(
                "the vendor's image is larger than {} bytes",
                self.0.max_bytes
            ))
        };
        if resp
            .content_length()
            .is_some_and(|n| n > self.0.max_bytes as u64)
        {
            return Err(too_big());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| ProviderError::Unreachable(e.to_string()))?
        {
            if body.len() + chunk.len() > self.0.max_bytes {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_vendors_hosts_over_https_or_the_configured_api() {
        let f = Fetch::new(
            &["files.vendor.com".into(), "*.cdn.vendor.com".into()],
            "http://127.0.0.1:9000/v1",
            10,
        );
        let ok = |u: &str| f.allows(&Url::parse(u).unwrap());
        assert!(ok("https://files.vendor.com/a.png"));
        assert!(ok("https://eu.cdn.vendor.com/a.png"));
        assert!(
            ok("http://127.0.0.1:9000/out/a.png"),
            "the configured API's own origin"
        );
        assert!(!ok("http://files.vendor.com/a.png"), "https only");
        assert!(
            !ok("https://cdn.vendor.com/a.png"),
            "a wildcard needs a subdomain"
        );
        assert!(!ok("https://evilcdn.vendor.com.attacker.net/a.png"));
        assert!(!ok("https://files.vendor.com.attacker.net/a.png"));
        assert!(
            !ok("http://127.0.0.1:9001/a.png"),
            "another port is another origin"
        );
        assert!(!ok("http://169.254.169.254/latest/meta-data"));
    }

    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn redirects_off_the_hosts_and_bodies_over_the_cap_are_refused() {
        let api = MockServer::start().await;
        let elsewhere = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/moved.png"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", format!("{}/x.png", elsewhere.uri())),
            )
            .mount(&api)
            .await;
        Mock::given(method("GET"))
            .and(path("/big.png"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![7u8; 1000]))
            .mount(&api)
            .await;
        Mock::given(method("GET"))
            .and(path("/small.png"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![7u8; 100]))
            .mount(&api)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![1u8; 10]))
            .mount(&elsewhere)
            .await;
        let f = Fetch::new(&[], &api.uri(), 100);
        let http = f.client(Duration::from_secs(2));
        let get = |p: String| {
            let (f, http) = (f.clone(), http.clone());
            async move { f.get(&http, &p, Duration::from_secs(5)).await }
        };
        assert_eq!(
            get(format!("{}/small.png", api.uri())).await.unwrap().len(),
            100
        );
        assert!(
            get(format!("{}/big.png", api.uri())).await.is_err(),
            "over the cap"
        );
        assert!(
            get(format!("{}/moved.png", api.uri())).await.is_err(),
            "redirected away"
        );
        assert!(
            get(format!("{}/x.png", elsewhere.uri())).await.is_err(),
            "another origin"
        );
        assert!(
            elsewhere.received_requests().await.unwrap().is_empty(),
            "nothing was ever sent to the other host"
        );
    }
}
