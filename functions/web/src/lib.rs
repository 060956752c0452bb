//! `GET /`, `GET /app/{proxy+}` and `GET /assets/{file}`: the web pages, a single page of plain
//! JavaScript over the public API (it holds no privilege any API client lacks). The files are
//! compiled into the binary; scripts and styles are served under names made of their content's
//! hash, cached for a year, and the page itself is revalidated by its ETag.

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use sha2::Digest;
use shared::{ApiError, Deps};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

const INDEX: &str = include_str!("../site/index.html");
const APP_JS: &str = include_str!("../site/app.js");
const APP_CSS: &str = include_str!("../site/app.css");
const ICON_SVG: &str = include_str!("../site/icon.svg");

struct Asset {
    name: String,
    body: &'static str,
    etag: String,
    content_type: &'static str,
}

fn digest(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))[..16].to_string()
}

fn asset(stem: &str, ext: &str, body: &'static str, content_type: &'static str) -> Asset {
    let hash = digest(body);
    Asset {
        name: format!("{stem}.{hash}.{ext}"),
        body,
        etag: format!("\"{hash}\""),
        content_type,
    }
}

static ASSETS: LazyLock<[Asset; 3]> = LazyLock::new(|| {
    [
        asset("app", "js", APP_JS, "text/javascript; charset=utf-8"),
        asset("app", "css", APP_CSS, "text/css; charset=utf-8"),
        asset("icon", "svg", ICON_SVG, "image/svg+xml"),
    ]
});

/// The page, naming the hashed assets and the sign-in providers this deployment offers.
fn page(providers: &str) -> String {
    INDEX
        .replace("{{APP_JS}}", &ASSETS[0].name)
        .replace("{{APP_CSS}}", &ASSETS[1].name)
        .replace("{{ICON}}", &ASSETS[2].name)
        .replace("{{PROVIDERS}}", providers)
}

/// No inline script or style, nothing framed, nothing loaded from elsewhere but presigned URLs
/// from this stack's own bucket (the emulator's under `make run`): images and videos shown,
/// masks uploaded.
fn content_security_policy(bucket_origins: &str) -> String {
    let s3 = bucket_origins;
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: {s3}; \
         media-src 'self' blob: {s3}; connect-src 'self' {s3}; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )
}

/// Where presigned URLs of the bucket point: its virtual-hosted origin in the region (and the
/// global one, which us-east-1 also answers), or the emulator's endpoint; the local stack's
/// gateway serves them under 'self' when it has a presigned URL base.
fn bucket_origins(config: &shared::Config) -> String {
    if config.aws.presigned_url_base.is_some() {
        return String::new();
    }
    if let Some(endpoint) = &config.aws.endpoint_url {
        return endpoint.trim_end_matches('/').to_string();
    }
    let (bucket, region) = (&config.aws.bucket_name, &config.aws.region);
    let mut origins = format!("https://{bucket}.s3.{region}.amazonaws.com");
    if region == "us-east-1" {
        origins.push_str(&format!(" https://{bucket}.s3.amazonaws.com"));
    }
    origins
}

pub async fn handler<S, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    serve(deps, &req).unwrap_or_else(|e| shared::http::error_response(&e))
}

fn serve<S, B>(deps: &Deps<S, B>, req: &Request) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path();
    // Browsers ask for /favicon.ico whatever the page says: the same icon.
    let asset_name = match path {
        "/favicon.ico" => Some(ASSETS[2].name.as_str()),
        _ => path.strip_prefix("/assets/"),
    };
    let (body, etag, content_type, cache) = match asset_name {
        Some(name) => {
            let a = ASSETS
                .iter()
                .find(|a| a.name == name)
                .ok_or_else(|| ApiError::NotFound(format!("no file {name} here")))?;
            (
                a.body.to_string(),
                a.etag.clone(),
                a.content_type,
                "public, max-age=31536000, immutable",
            )
        }
        None => {
            // The page depends only on the configured providers: rendered once per set.
            static PAGES: LazyLock<Mutex<HashMap<String, (String, String)>>> =
                LazyLock::new(Default::default);
            let providers: Vec<&str> = deps
                .config
                .signin
                .identity_providers
                .iter()
                .map(|p| p.idp.as_str())
                .collect();
            let (html, etag) = PAGES
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(providers.join(","))
                .or_insert_with_key(|providers| {
                    let html = page(providers);
                    let etag = format!("\"{}\"", digest(&html));
                    (html, etag)
                })
                .clone();
            (html, etag, "text/html; charset=utf-8", "no-cache")
        }
    };
    let fresh = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = Response::builder()
        .status(if fresh {
            StatusCode::NOT_MODIFIED
        } else {
            StatusCode::OK
        })
        .header("content-type", content_type)
        .header("cache-control", cache)
        .header("etag", &etag)
        .header(
            "content-security-policy",
            content_security_policy(&bucket_origins(&deps.config)),
        )
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("x-frame-options", "DENY")
        .body(if fresh { Body::Empty } else { Body::Text(body) })
        .map_err(ApiError::internal)?;
    resp.headers_mut()
        .insert("vary", HeaderValue::from_static("accept-encoding"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_hashed_assets_and_has_no_inline_script() {
        let html = page("google,apple");
        assert!(html.contains(&format!("/assets/{}", ASSETS[0].name)));
        assert!(html.contains(&format!("/assets/{}", ASSETS[1].name)));
        assert!(html.contains("data-providers=\"google,apple\""));
        assert!(!html.contains("{{"));
        // Every script is a file: the policy allows no other.
        for tag in html.split("<script").skip(1) {
            assert!(
                tag.trim_start().starts_with("type=\"module\" src="),
                "{tag}"
            );
        }
        assert!(!html.contains("style=\""));
    }

    #[test]
    fn the_policy_names_only_this_stacks_bucket() {
        let mut config = shared::Config::from_map(
            &[
                ("TABLE_NAME", "t"),
                ("BUCKET_NAME", "imageapi-images-123"),
                ("QUEUE_URL", "http://q"),
                ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
                ("AWS_REGION", "eu-west-1"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
        .unwrap();
        let csp = content_security_policy(&bucket_origins(&config));
        assert!(
            csp.contains(
                "img-src 'self' data: blob: https://imageapi-images-123.s3.eu-west-1.amazonaws.com;"
            ),
            "{csp}"
        );
        assert!(!csp.contains('*'), "{csp}");
        config.aws.region = "us-east-1".into();
        let origins = bucket_origins(&config);
        assert_eq!(
            origins,
            "https://imageapi-images-123.s3.us-east-1.amazonaws.com https://imageapi-images-123.s3.amazonaws.com"
        );
        config.aws.endpoint_url = Some("http://127.0.0.1:4566/".into());
        assert_eq!(bucket_origins(&config), "http://127.0.0.1:4566");
    }

    #[test]
    fn asset_names_follow_their_content() {
        assert_ne!(ASSETS[0].name, ASSETS[1].name);
        assert!(ASSETS[0].name.starts_with("app.") && ASSETS[0].name.ends_with(".js"));
        assert_eq!(digest(APP_JS).len(), 16);
    }
}
