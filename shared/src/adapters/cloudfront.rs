//! CloudFront signed URLs (canned policy) for the distribution in front of the bucket. The key
//! is RSA-2048 with SHA-256 (`Hash-Algorithm=SHA256`): RSA PKCS#1 v1.5 signatures are
//! deterministic, so the same object and expiry give the same URL on every Lambda instance
//! and the browser's and the edge's caches recognise it (ECDSA's would differ every time).

use crate::error::ApiError;
use crate::secrets::Secret;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use std::sync::Arc;
use tokio::sync::OnceCell;

#[derive(Clone)]
pub struct CloudFrontUrls {
    domain: String,
    key_id: String,
    private_key: Arc<Secret>,
    pair: Arc<OnceCell<RsaKeyPair>>,
}

impl std::fmt::Debug for CloudFrontUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CloudFrontUrls({}, key {})", self.domain, self.key_id)
    }
}

impl CloudFrontUrls {
    pub fn new(domain: &str, key_id: &str, private_key: Arc<Secret>) -> Self {
        Self {
            domain: domain.trim_end_matches('/').to_string(),
            key_id: key_id.to_string(),
            private_key,
            pair: Arc::new(OnceCell::new()),
        }
    }

    /// A URL of `key` that CloudFront serves until `expires` (Unix seconds).
    pub async fn sign(&self, key: &str, expires: i64) -> Result<String, ApiError> {
        let pair = self
            .pair
            .get_or_try_init(|| async {
                key_pair(self.private_key.text().await?)
                    .map_err(|reason| ApiError::internal(format!("CDN_PRIVATE_KEY: {reason}")))
            })
            .await?;
        signed_url(pair, &self.domain, &self.key_id, key, expires)
    }
}

/// An RSA private key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`, what `openssl genpkey` writes)
/// or PKCS#1 (`BEGIN RSA PRIVATE KEY`). The reason never quotes the key.
pub fn key_pair(pem: &str) -> Result<RsaKeyPair, String> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "not PEM (base64 between BEGIN and END lines)".to_string())?;
    let pair = if pem.contains("BEGIN RSA PRIVATE KEY") {
        RsaKeyPair::from_der(&der)
    } else {
        RsaKeyPair::from_pkcs8(&der)
    };
    pair.map_err(|_| "not an RSA private key (PKCS#8 or PKCS#1 PEM, 2048 bits)".to_string())
}

/// `https://<domain>/<key>?Expires=..&Signature=..&Key-Pair-Id=..&Hash-Algorithm=SHA256`, the
/// signature over CloudFront's canned policy for exactly that resource and expiry.
pub fn signed_url(
    pair: &RsaKeyPair,
    domain: &str,
    key_id: &str,
    key: &str,
    expires: i64,
) -> Result<String, ApiError> {
    let resource = format!("https://{domain}/{}", encode_key(key));
    let policy = canned_policy(&resource, expires);
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        policy.as_bytes(),
        &mut signature,
    )
    .map_err(|_| ApiError::internal("CloudFront URL signing failed"))?;
    // CloudFront's URL-safe base64: + → -, = → _, / → ~.
    let signature: String = base64::engine::general_purpose::STANDARD
        .encode(signature)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            c => c,
        })
        .collect();
    Ok(format!(
        "{resource}?Expires={expires}&Signature={signature}&Key-Pair-Id={key_id}&Hash-Algorithm=SHA256"
    ))
}

/// The policy a canned-policy URL is signed over: no whitespace, keys in this order.
pub fn canned_policy(resource: &str, expires: i64) -> String {
    format!(
        r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    )
}

/// An object key as a URL path: RFC 3986 unreserved characters and `/` as they are.
fn encode_key(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    fn pem_of(pair: &RsaKeyPair) -> String {
        let der = pair.as_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    #[tokio::test]
    async fn urls_verify_with_the_public_key_and_are_the_same_every_time() {
        let generated = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = generated.public_key().as_ref().to_vec();
        let urls = CloudFrontUrls::new(
            "d111111abcdef8.cloudfront.net",
            "K2JCJMDEHXQW5F",
            Secret::plain("CDN_PRIVATE_KEY", pem_of(&generated)),
        );
        let key = "thumbnails/user_1/img 1.webp";
        let url = urls.sign(key, 1_800_000_000).await.unwrap();
        // Deterministic: a second instance signs the same URL (and the cache hits).
        assert_eq!(url, urls.sign(key, 1_800_000_000).await.unwrap());
        let (resource, query) = url.split_once('?').unwrap();
        assert_eq!(
            resource,
            "https://d111111abcdef8.cloudfront.net/thumbnails/user_1/img%201.webp"
        );
        let params: std::collections::HashMap<_, _> =
            form_urlencoded::parse(query.as_bytes()).collect();
        assert_eq!(params["Expires"], "1800000000");
        assert_eq!(params["Key-Pair-Id"], "K2JCJMDEHXQW5F");
        assert_eq!(params["Hash-Algorithm"], "SHA256");
        let signature: String = params["Signature"]
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '=',
                '~' => '/',
                c => c,
            })
            .collect();
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature)
            .unwrap();
        let policy = canned_policy(resource, 1_800_000_000);
        assert_eq!(
            policy,
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/thumbnails/user_1/img%201.webp","Condition":{"DateLessThan":{"AWS:EpochTime":1800000000}}}]}"#
        );
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public)
            .verify(policy.as_bytes(), &signature)
            .expect("CloudFront's check of the signature passes");
        // Another expiry is another signature.
        assert_ne!(url, urls.sign(key, 1_800_003_600).await.unwrap());
    }

    #[tokio::test]
    async fn a_bad_key_is_named_without_quoting_it() {
        let urls = CloudFrontUrls::new(
            "cdn.example.com",
            "K1",
            Secret::plain(
                "CDN_PRIVATE_KEY",
                "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----",
            ),
        );
        let e = urls.sign("images/a.png", 1).await.unwrap_err().to_string();
        assert!(!e.contains("c2VjcmV0"), "{e}");
    }
}
