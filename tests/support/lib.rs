//! Test support: a fresh local stack per test (own table, bucket and queues, named per test) on
//! the emulator `make test` started (`AWS_ENDPOINT_URL`), or on one this test starts and stops.

use local_stack::{LocalStack, Options};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::path::PathBuf;

pub const PASSWORD: &str = "correct horse battery staple";

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub struct TestStack {
    pub stack: LocalStack,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// `error.param` of an OpenAI-shaped error body.
    pub fn param(&self) -> Option<&str> {
        self.body["error"]["param"].as_str()
    }

    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }
}

pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

pub async fn start() -> TestStack {
    start_with(&[]).await
}

/// Starts a stack with template parameter overrides (e.g. `("RateLimitPerHour", "5")`).
pub async fn start_with(parameters: &[(&str, &str)]) -> TestStack {
    // Warnings and errors of the functions show up in a failing test's output.
    let level = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(shared::telemetry::filter(&level))
        .with_test_writer()
        .try_init();
    let mut opts = Options::for_workspace(workspace_root());
    opts.endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|e| !e.is_empty());
    opts.stack_name = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    for (k, v) in parameters {
        opts.parameters.insert(k.to_string(), v.to_string());
    }
    let stack = LocalStack::start(opts).await.expect("local stack starts");
    TestStack {
        stack,
        http: reqwest::Client::new(),
    }
}

/// A username unique to this run.
/// Waits, if need be, until at least `needed` seconds are left in the current fixed window of
/// `window` seconds (an hour, a UTC day, 15 minutes): a test that counts within one window must
/// not straddle its edge. Returns at once on all but the last `needed` seconds of a window.
pub async fn away_from_window_edge(window: i64, needed: i64) {
    let now = shared::domain::now_epoch();
    let left = window - now.rem_euclid(window);
    if left < needed {
        tokio::time::sleep(std::time::Duration::from_secs(left as u64 + 1)).await;
    }
}

pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;
pub const LOGIN_WINDOW: i64 = 15 * 60;

/// A client that shows our own answers, not where they redirect to.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

impl TestStack {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.base_url)
    }

    /// Another instance of the functions' dependencies, as a second Lambda container would build.
    pub async fn deps(&self) -> shared::Deps {
        shared::Deps::from_config(self.stack.config.clone())
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("request reaches the gateway");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Reply {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = self.http.delete(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn register(&self, username: &str) -> Reply {
        self.post(
            "/v1/auth/register",
            json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD}),
            None,
        )
        .await
    }

    pub async fn login(&self, username: &str) -> Tokens {
        let r = self
            .post(
                "/v1/auth/login",
                json!({"username": username, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "login: {}", r.text);
        tokens(&r)
    }

    /// Registers a fresh user and signs in.
    pub async fn new_user(&self) -> (String, Tokens) {
        let name = unique("user");
        let r = self.register(&name).await;
        assert_eq!(r.status, StatusCode::CREATED, "register: {}", r.text);
        let t = self.login(&name).await;
        (name, t)
    }

    /// Creates an API key for the holder of `access`.
    pub async fn api_key(&self, access: &str) -> (String, String) {
        let r = self
            .post("/v1/api-keys", json!({"name": "test"}), Some(access))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "create key: {}", r.text);
        (
            r.body["id"].as_str().unwrap().to_string(),
            r.body["key"].as_str().unwrap().to_string(),
        )
    }
}

pub fn tokens(r: &Reply) -> Tokens {
    Tokens {
        access: r.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string(),
        refresh: r.body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_string(),
    }
}

impl TestStack {
    /// Runs `tests/sdk/<script>` with `.venv`'s Python (the official SDK) against this stack as
    /// `key`, with `dir` in the environment variable `dir_var` for its files.
    pub async fn sdk_script(
        &self,
        script: &str,
        key: &str,
        dir_var: &str,
        dir: &std::path::Path,
    ) -> std::process::Output {
        tokio::process::Command::new(workspace_root().join(".venv/bin/python"))
            .arg(workspace_root().join("tests/sdk").join(script))
            .env("OPENAI_BASE_URL", self.url("/v1"))
            .env("OPENAI_STREAM_BASE_URL", self.url("/stream/v1"))
            .env("OPENAI_API_KEY", key)
            .env(dir_var, dir)
            .kill_on_drop(true)
            .output()
            .await
            .expect("the SDK script runs")
    }

    /// `bytes`' Content Credentials as the official C2PA SDK (c2pa-python) reads and validates
    /// them, trusting this stack's test root: the manifest store with `validation_state`, or
    /// `{"error"}` when there are none.
    pub async fn c2pa_verified(&self, bytes: &[u8], media_type: &str) -> Value {
        let dir = std::env::temp_dir().join(unique("c2pa"));
        std::fs::create_dir_all(&dir).unwrap();
        let (file, root) = (dir.join("asset"), dir.join("root.pem"));
        std::fs::write(&file, bytes).unwrap();
        let mut cmd = tokio::process::Command::new(workspace_root().join(".venv/bin/python"));
        cmd.arg(workspace_root().join("tests/sdk/c2pa_verify.py"))
            .arg(&file)
            .arg(media_type);
        if let Some(pem) = &self.stack.c2pa_test_root {
            std::fs::write(&root, pem).unwrap();
            cmd.arg(&root);
        }
        let out = cmd
            .kill_on_drop(true)
            .output()
            .await
            .expect("c2pa_verify.py runs");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "c2pa-python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The bytes behind a URL the API answered with (a presigned URL of the gateway's S3).
    pub async fn fetch(&self, url: &str) -> Vec<u8> {
        let resp = self.http.get(url).send().await.unwrap();
        assert!(resp.status().is_success(), "{url}: {}", resp.status());
        resp.bytes().await.unwrap().to_vec()
    }

    /// A finished video's MP4, as `GET /v1/videos/{id}/content` gives it (asserting a 200).
    pub async fn video_content(&self, id: &str, token: &str) -> Vec<u8> {
        let resp = self
            .http
            .get(self.url(&format!("/v1/videos/{id}/content")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{id}");
        resp.bytes().await.unwrap().to_vec()
    }

    pub async fn generate(&self, token: &str, body: Value) -> Reply {
        self.post("/v1/images/generations", body, Some(token)).await
    }

    /// Where `GET /v1/images/{id}/content` redirects (asserting that it is a 302).
    pub async fn content_location(&self, id: &str, token: &str) -> String {
        let resp = no_redirects()
            .get(self.url(&format!("/v1/images/{id}/content")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND);
        resp.headers()["location"].to_str().unwrap().to_string()
    }

    /// Changes a user's profile item behind the API's back (`expression`: an update expression
    /// without values), as data from an older release would be.
    pub async fn alter_profile(&self, user_id: &str, expression: &str) {
        self.stack
            .clients
            .dynamodb
            .update_item()
            .table_name(&self.stack.config.aws.table_name)
            .set_key(Some(shared::adapters::dynamo::keys::profile(user_id)))
            .update_expression(expression)
            .send()
            .await
            .unwrap();
    }

    /// The id of the user a token signs in.
    pub async fn user_id(&self, access: &str) -> String {
        let me = self.get("/v1/me", Some(access)).await;
        assert_eq!(me.status, StatusCode::OK, "me: {}", me.text);
        me.body["id"].as_str().unwrap().to_string()
    }

    pub async fn credits(&self, token: &str) -> Value {
        let r = self.get("/v1/credit", Some(token)).await;
        assert_eq!(r.status, StatusCode::OK, "credit: {}", r.text);
        r.body
    }

    pub fn bucket(&self) -> String {
        self.stack.created.buckets["ImagesBucket"].clone()
    }

    /// An object's bytes straight from the emulated bucket, or `None`.
    pub async fn object(&self, key: &str) -> Option<Vec<u8>> {
        match self
            .stack
            .clients
            .s3
            .get_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
        {
            Ok(out) => Some(out.body.collect().await.unwrap().into_bytes().to_vec()),
            Err(_) => None,
        }
    }

    /// Every object key in the bucket.
    /// The objects requests stored: every key but the delivery variants, which the table's
    /// stream makes a moment later (see [`Self::all_object_keys`]).
    pub async fn object_keys(&self) -> Vec<String> {
        let mut keys = self.all_object_keys().await;
        keys.retain(|k| !k.starts_with("variants/"));
        keys
    }

    pub async fn all_object_keys(&self) -> Vec<String> {
        let out = self
            .stack
            .clients
            .s3
            .list_objects_v2()
            .bucket(self.bucket())
            .send()
            .await
            .unwrap();
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }
}

/// Decodes base64 image bytes.
/// An image's pixels, RGBA: the same picture whatever Content Credentials its file carries
/// (they are signed anew, with their own time and ids, for every output).
pub fn pixels(bytes: &[u8]) -> Vec<u8> {
    image::load_from_memory(bytes)
        .expect("an image")
        .into_rgba8()
        .into_raw()
}

/// An MP4's media data (its `mdat` box): the same clip whatever credentials the file carries.
pub fn mdat(mp4: &[u8]) -> &[u8] {
    let mut at = 0;
    while at + 8 <= mp4.len() {
        let size = u32::from_be_bytes(mp4[at..at + 4].try_into().unwrap()) as usize;
        let (start, size) = match size {
            1 => (
                at + 16,
                u64::from_be_bytes(mp4[at + 8..at + 16].try_into().unwrap()) as usize,
            ),
            0 => (at + 8, mp4.len() - at),
            n => (at + 8, n),
        };
        if &mp4[at + 4..at + 8] == b"mdat" {
            return &mp4[start..at + size];
        }
        at += size.max(8);
    }
    panic!("no mdat box")
}

pub fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

/// A local HTTP stand-in for OpenAI's Images API (wiremock), returning real PNGs or faults.
pub mod fake_openai {
    use serde_json::json;
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    pub fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_fn(width, height, |x, y| {
            if (x / 16 + y / 16) % 2 == 0 {
                image::Rgba([255, 255, 255, 255])
            } else {
                image::Rgba([30, 90, 200, 255])
            }
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// A vendor that answers its first request only when the test says so: the request's
    /// arrival is a defined point (the charge has been taken, the provider called), and the
    /// answer can come after anything the test does meanwhile — no clock involved.
    pub struct Gated {
        pub uri: String,
        received: std::sync::Arc<tokio::sync::Notify>,
        release: std::sync::Arc<tokio::sync::Notify>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Gated {
        pub async fn start(width: u32, height: u32) -> Self {
            use base64::Engine;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let uri = format!("http://{}", listener.local_addr().unwrap());
            let received = std::sync::Arc::new(tokio::sync::Notify::new());
            let release = std::sync::Arc::new(tokio::sync::Notify::new());
            let item = json!({"b64_json": base64::engine::general_purpose::STANDARD.encode(png(width, height))});
            let body = Answer::Json(json!({"created": 1, "data": [item]}).to_string());
            Self::serving(body, received, release, listener, uri).await
        }

        /// A vendor streaming its answer (`stream: true`): the head and the first partial image
        /// at once, then, when the test says so, the second one and the final image (of the
        /// given size; the partial images are 8×8).
        pub async fn streaming(width: u32, height: u32) -> Self {
            use base64::Engine;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let uri = format!("http://{}", listener.local_addr().unwrap());
            let b64 = |w, h| base64::engine::general_purpose::STANDARD.encode(png(w, h));
            let event = |kind: &str, extra: serde_json::Value| {
                let mut body = json!({"type": format!("image_generation.{kind}"), "created_at": 1,
                    "size": format!("{width}x{height}"), "quality": "low", "background": "opaque",
                    "output_format": "png"});
                for (k, v) in extra.as_object().unwrap() {
                    body[k] = v.clone();
                }
                format!("event: image_generation.{kind}\ndata: {body}\n\n")
            };
            let usage = json!({"input_tokens": 5, "output_tokens": 10, "total_tokens": 15,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": 5}});
            let body = Answer::Stream {
                first: event(
                    "partial_image",
                    json!({"b64_json": b64(8, 8), "partial_image_index": 0}),
                ),
                rest: [
                    event(
                        "partial_image",
                        json!({"b64_json": b64(8, 8), "partial_image_index": 1}),
                    ),
                    event(
                        "completed",
                        json!({"b64_json": b64(width, height), "usage": usage}),
                    ),
                ]
                .concat(),
            };
            Self::serving(body, notify(), notify(), listener, uri).await
        }

        async fn serving(
            body: Answer,
            received: std::sync::Arc<tokio::sync::Notify>,
            release: std::sync::Arc<tokio::sync::Notify>,
            listener: tokio::net::TcpListener,
            uri: String,
        ) -> Self {
            let (r, g) = (received.clone(), release.clone());
            // The first request waits for the test; any later one is answered at once.
            let task = tokio::spawn(async move {
                let mut first = true;
                while let Ok((conn, _)) = listener.accept().await {
                    let gate = first.then(|| (r.clone(), g.clone()));
                    first = false;
                    tokio::spawn(answer(conn, body.clone(), gate));
                }
            });
            Self {
                uri,
                received,
                release,
                task,
            }
        }

        /// Returns once the request has arrived.
        pub async fn received(&self) {
            self.received.notified().await
        }

        /// Lets the vendor answer.
        pub fn release(&self) {
            self.release.notify_one()
        }
    }

    fn notify() -> std::sync::Arc<tokio::sync::Notify> {
        std::sync::Arc::new(tokio::sync::Notify::new())
    }

    /// What the fake vendor answers: JSON, or an event stream in two parts.
    #[derive(Clone)]
    enum Answer {
        Json(String),
        Stream { first: String, rest: String },
    }

    async fn answer(
        mut conn: tokio::net::TcpStream,
        body: Answer,
        gate: Option<(
            std::sync::Arc<tokio::sync::Notify>,
            std::sync::Arc<tokio::sync::Notify>,
        )>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Read the request through its body (Content-Length), then wait for the test.
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let Ok(n) = conn.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0usize);
                if buf.len() >= end + 4 + length {
                    break;
                }
            }
        }
        let body = match body {
            Answer::Json(body) => body,
            Answer::Stream { first, rest } => {
                // The body ends when the connection closes, as a stream's may.
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
                let _ = conn.write_all(format!("{head}{first}").as_bytes()).await;
                let _ = conn.flush().await;
                if let Some((received, release)) = gate {
                    received.notify_one();
                    release.notified().await;
                }
                let _ = conn.write_all(rest.as_bytes()).await;
                return;
            }
        };
        if let Some((received, release)) = gate {
            received.notify_one();
            release.notified().await;
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = conn.write_all(response.as_bytes()).await;
    }

    impl Drop for Gated {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// Answers every generation, edit and variation with `n` PNGs of the given size.
    pub async fn serving_pngs(n: usize, width: u32, height: u32) -> MockServer {
        use base64::Engine;
        let server = MockServer::start().await;
        let item = json!({"b64_json": base64::engine::general_purpose::STANDARD.encode(png(width, height)), "revised_prompt": "revised by the model"});
        Mock::given(method("POST"))
            .and(path_regex("^/images/(generations|edits|variations)$"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"created": 1, "data": vec![item; n]})),
            )
            .mount(&server)
            .await;
        server
    }

    /// Like [`serving_pngs`], but the first request is answered only after `delay`.
    pub async fn slow_first(delay: std::time::Duration, width: u32, height: u32) -> MockServer {
        use base64::Engine;
        let server = serving_pngs(1, width, height).await;
        let item = json!({"b64_json": base64::engine::general_purpose::STANDARD.encode(png(width, height))});
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"created": 1, "data": [item]}))
                    .set_delay(delay),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        server
    }

    pub async fn failing(status: u16, body: serde_json::Value) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        server
    }
}

/// Image fixtures and multipart helpers for edits and variations.
pub mod fixtures {
    use image::{Rgba, RgbaImage};

    pub fn encode(img: &RgbaImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        match format {
            image::ImageFormat::Jpeg => image::DynamicImage::ImageRgba8(img.clone())
                .into_rgb8()
                .write_to(&mut out, format)
                .unwrap(),
            _ => img.write_to(&mut out, format).unwrap(),
        }
        out.into_inner()
    }

    /// A red square on a plain blue background.
    pub fn object_on_background(w: u32, h: u32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            if (w / 3..2 * w / 3).contains(&x) && (h / 3..2 * h / 3).contains(&y) {
                Rgba([220, 30, 30, 255])
            } else {
                Rgba([40, 110, 220, 255])
            }
        })
    }

    /// Opaque everywhere except a transparent rectangle (a little larger than the object).
    pub fn mask_over_object(w: u32, h: u32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            let inside =
                (w / 3 - 2..2 * w / 3 + 2).contains(&x) && (h / 3 - 2..2 * h / 3 + 2).contains(&y);
            Rgba([0, 0, 0, if inside { 0 } else { 255 }])
        })
    }

    pub fn png(img: &RgbaImage) -> Vec<u8> {
        encode(img, image::ImageFormat::Png)
    }

    pub fn part(bytes: Vec<u8>) -> reqwest::multipart::Part {
        // As the SDKs may: octet-stream and no telling file name.
        reqwest::multipart::Part::bytes(bytes)
            .mime_str("application/octet-stream")
            .unwrap()
    }
}

/// A real OpenID Provider (npm `oidc-provider`, see tests/oidc/provider.mjs) on loopback,
/// behaving as Google, Microsoft or Apple; stopped when dropped.
pub mod oidc {
    use std::collections::HashMap;
    use tokio::io::AsyncBufReadExt;

    pub const CLIENT_ID: &str = "imageapi-test-client";
    pub const CLIENT_SECRET: &str = "imageapi-test-client-secret";

    pub struct Provider {
        _child: tokio::process::Child,
        pub base: String,
        /// Apple mode: the team's .p8 key (PEM) the service signs client secrets with.
        pub apple_private_key: Option<String>,
        http: reqwest::Client,
    }

    impl Provider {
        /// `mode`: google, microsoft or apple; `env`: extra `OP_*` settings.
        pub async fn start(mode: &str, env: &[(&str, &str)]) -> Self {
            let mut cmd = tokio::process::Command::new("node");
            cmd.arg(super::workspace_root().join("tests/oidc/provider.mjs"))
                .env("OP_MODE", mode)
                .env("OP_CLIENT_ID", CLIENT_ID)
                .env("OP_CLIENT_SECRET", CLIENT_SECRET)
                .env("OP_APPLE_TEAM_ID", "TEAM123456")
                .env("OP_APPLE_KEY_ID", "KEY1234567")
                .stdout(std::process::Stdio::piped())
                // Its warnings (a development adapter, Node 20) are noise here; its failures
                // reach the tests as its HTTP answers.
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true);
            for (k, v) in env {
                cmd.env(k, v);
            }
            let mut child = cmd.spawn().expect("node runs the OpenID Provider");
            let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
            let mut apple_private_key = None;
            let base = loop {
                let line =
                    tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
                        .await
                        .expect("the OpenID Provider starts")
                        .unwrap()
                        .expect("the OpenID Provider prints its address");
                if let Some(key) = line.strip_prefix("apple_private_key ") {
                    let pem =
                        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, key)
                            .unwrap();
                    apple_private_key = Some(String::from_utf8(pem).unwrap());
                } else if let Some(base) = line.strip_prefix("listening ") {
                    break base.to_string();
                }
            };
            Provider {
                _child: child,
                base,
                apple_private_key,
                http: super::no_redirects(),
            }
        }

        /// The stack parameters that make this provider the deployment's `idp`.
        pub fn parameters(&self, idp: &str) -> Vec<(String, String)> {
            let p = |k: &str, v: &str| (k.to_string(), v.to_string());
            match idp {
                "google" => vec![
                    p("GoogleClientId", CLIENT_ID),
                    p("GoogleClientSecret", CLIENT_SECRET),
                    p("GoogleIssuer", &self.base),
                ],
                "microsoft" => vec![
                    p("MicrosoftClientId", CLIENT_ID),
                    p("MicrosoftClientSecret", CLIENT_SECRET),
                    p("MicrosoftIssuer", &format!("{}/common/v2.0", self.base)),
                ],
                _ => vec![
                    p("AppleServicesId", CLIENT_ID),
                    p("AppleTeamId", "TEAM123456"),
                    p("AppleKeyId", "KEY1234567"),
                    p(
                        "ApplePrivateKey",
                        self.apple_private_key.as_deref().unwrap(),
                    ),
                    p("AppleIssuer", &self.base),
                ],
            }
        }

        /// A token signed by the provider's own key (`key`: `op`), an unknown key
        /// (`unknown`), HS256 with the client secret (`hs256`) or not at all (`none`).
        pub async fn sign(&self, claims: serde_json::Value, key: &str) -> String {
            let r = self
                .http
                .post(format!("{}/__test/sign", self.base))
                .json(&serde_json::json!({"claims": claims, "key": key}))
                .send()
                .await
                .unwrap();
            r.json::<serde_json::Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_string()
        }

        /// Signs `login` in at the provider from its authorization `url` (as a person would,
        /// minus the login form), until the provider sends the browser back: the callback's
        /// URL and parameters (a redirect's query, or the fields of Apple's posted form).
        pub async fn authorize(&self, url: &str, login: &str) -> Returned {
            let mut jar: HashMap<String, String> = HashMap::new();
            let mut next = format!("{url}&login_hint={login}");
            for _ in 0..10 {
                let cookies: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let resp = self
                    .http
                    .get(&next)
                    .header("cookie", cookies.join("; "))
                    .send()
                    .await
                    .unwrap();
                for c in resp.headers().get_all("set-cookie") {
                    let pair = c.to_str().unwrap().split(';').next().unwrap();
                    if let Some((k, v)) = pair.split_once('=') {
                        jar.insert(k.to_string(), v.to_string());
                    }
                }
                if resp.status().is_redirection() {
                    let location = resp.headers()["location"].to_str().unwrap().to_string();
                    let absolute = reqwest::Url::parse(&next).unwrap().join(&location).unwrap();
                    if !absolute.as_str().starts_with(&self.base) {
                        let params = absolute.query_pairs().into_owned().collect();
                        let mut to = absolute.clone();
                        to.set_query(None);
                        return Returned {
                            to: to.to_string(),
                            params,
                            posted: false,
                            url: absolute.to_string(),
                        };
                    }
                    next = absolute.to_string();
                    continue;
                }
                let status = resp.status();
                let html = resp.text().await.unwrap();
                assert_eq!(
                    status,
                    reqwest::StatusCode::OK,
                    "the provider answered: {html}"
                );
                return form_post(&html);
            }
            panic!("the provider kept redirecting");
        }
    }

    /// Where the provider sent the browser back, and with what.
    #[derive(Debug, Clone)]
    pub struct Returned {
        /// The redirect URI, without its query.
        pub to: String,
        pub params: HashMap<String, String>,
        /// Posted as a form (Apple) rather than a redirect.
        pub posted: bool,
        /// The full URL of a redirect.
        pub url: String,
    }

    fn unescape(s: &str) -> String {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }

    /// The action and hidden inputs of the provider's auto-submitting form (`form_post`).
    fn form_post(html: &str) -> Returned {
        let attr = |tag: &str, name: &str| -> Option<String> {
            let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
            let end = tag[start..].find('"')? + start;
            Some(unescape(&tag[start..end]))
        };
        let form = html.split("<form").nth(1).expect("a form_post page");
        let action = attr(form.split('>').next().unwrap(), "action").unwrap();
        let params = form
            .split("<input")
            .skip(1)
            .filter_map(|tag| {
                let tag = tag.split('>').next()?;
                Some((attr(tag, "name")?, attr(tag, "value")?))
            })
            .collect();
        Returned {
            to: action.clone(),
            params,
            posted: true,
            url: action,
        }
    }
}
