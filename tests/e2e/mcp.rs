//! Agents as users: `/mcp` driven by the official MCP SDKs (Python, TypeScript), with API keys
//! and through the OAuth flow an MCP client runs by itself.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const SMALL: &str = "256x256";

/// Runs `tests/sdk/mcp_client.py <mode>` against this stack: the results of `steps`.
async fn python(t: &TestStack, mode: &str, env: &[(&str, &str)], steps: Value) -> Value {
    let mut cmd = tokio::process::Command::new(workspace_root().join(".venv/bin/python"));
    cmd.arg(workspace_root().join("tests/sdk/mcp_client.py"))
        .arg(mode)
        .env("MCP_URL", t.url("/mcp"))
        .env("API_URL", t.url(""))
        .env("STEPS", steps.to_string());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .kill_on_drop(true)
        .output()
        .await
        .expect("the MCP client runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mcp_client.py {mode} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// `python(.., "session", ..)` as `token`.
async fn session(t: &TestStack, token: &str, steps: Value) -> Value {
    python(t, "session", &[("MCP_TOKEN", token)], steps).await
}

fn texts(result: &Value) -> String {
    result["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn blocks<'a>(result: &'a Value, kind: &str) -> Vec<&'a Value> {
    result["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == kind)
        .collect()
}

#[tokio::test]
async fn the_python_sdk_generates_reads_the_library_and_follows_a_video_to_the_end() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (key_id, key) = t.api_key(&s.access).await;
    let before = t.credits(&s.access).await["available"].as_i64().unwrap();
    let report = session(&t, &key, json!([
            {"op": "list_tools"},
            {"op": "call", "name": "generate_image", "args": {"prompt": "a lighthouse at dusk", "size": SMALL}},
            {"op": "read", "uri": "$last_link"},
            {"op": "list_resources"},
            {"op": "call", "name": "create_video", "args": {"prompt": "the light turns", "image": "$last_link"}},
            {"op": "follow"},
            {"op": "prompt", "name": "image_ideas", "args": {"n": "2"}},
        ]),
    )
    .await;
    // The newest revision, stateless: no initialize, no session.
    assert_eq!(report["protocol"], "2026-07-28", "{report}");
    let r = report["results"].as_array().unwrap();

    let names: Vec<&str> = r[0]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for tool in [
        "list_models",
        "get_credits",
        "generate_image",
        "edit_image",
        "create_variation",
        "transform_image",
        "list_images",
        "get_image",
        "create_video",
        "get_job",
        "cancel_job",
    ] {
        assert!(names.contains(&tool), "{tool} in {names:?}");
    }
    let schema = &r[0]["schemas"]["generate_image"];
    assert_eq!(schema["required"], json!(["prompt"]), "{schema}");
    assert!(
        schema["properties"]["dry_run"]["description"]
            .as_str()
            .unwrap()
            .contains("nothing is charged")
    );
    assert_eq!(r[0]["read_only"]["list_images"], true);
    assert_eq!(r[0]["read_only"]["generate_image"], false);

    // The generation: a preview an agent can look at, and a link to the stored image.
    let made = &r[1];
    assert_eq!(made["is_error"], false, "{made}");
    let images = blocks(made, "image");
    assert_eq!(images.len(), 1, "{made}");
    let preview = image::load_from_memory(&b64(images[0]["data"].as_str().unwrap())).unwrap();
    assert_eq!((preview.width(), preview.height()), (256, 256));
    let links = blocks(made, "resource_link");
    let uri = links[0]["uri"].as_str().unwrap();
    let id = uri.strip_prefix("library://").unwrap();
    assert_eq!(links[0]["mime"], "image/png");

    // It is in the library, charged like the REST call: what the answer says was charged is
    // a ledger line of the key.
    let info = t.get(&format!("/v1/images/{id}"), Some(&key)).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    let said = texts(made);
    let number = |before: &str| -> i64 {
        let at = said.find(before).unwrap_or_else(|| panic!("{said}"));
        said[..at]
            .split_whitespace()
            .last()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (charged, left) = (number(" credits charged"), number(" left"));
    assert!(
        charged > 0 && left == before - charged,
        "{said} (had {before})"
    );
    let credit = t.credits(&s.access).await;
    assert!(
        credit["ledger"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["delta"] == -charged
                && l["reason"] == "generation"
                && l["api_key_id"] == key_id.as_str()),
        "{credit}"
    );

    // Reading the link gives the stored file itself.
    let stored = t.fetch(&t.content_location(id, &s.access).await).await;
    let read = &r[2]["contents"][0];
    assert_eq!(read["mime"], "image/png", "{}", r[2]);
    assert_eq!(read["bytes"].as_u64(), Some(stored.len() as u64));
    use sha2::Digest;
    assert_eq!(
        read["sha256"].as_str().unwrap(),
        hex::encode(sha2::Sha256::digest(&stored))
    );
    assert!(
        r[3]["uris"].as_array().unwrap().iter().any(|u| u == uri),
        "{}",
        r[3]
    );

    // A video answers with its job at once; get_job follows it to the MP4.
    let queued = &r[4];
    assert_eq!(queued["is_error"], false, "{queued}");
    assert!(texts(queued).contains("get_job"), "{queued}");
    let done = &r[5];
    assert_eq!(done["is_error"], false, "{done}");
    assert!(texts(done).contains("succeeded"), "{done}");
    let video = blocks(done, "resource_link");
    assert_eq!(video.last().unwrap()["mime"], "video/mp4", "{done}");
    let video_id = video.last().unwrap()["uri"]
        .as_str()
        .unwrap()
        .strip_prefix("library://")
        .unwrap();
    let listed = t.get(&format!("/v1/images/{video_id}"), Some(&key)).await;
    assert_eq!(listed.body["kind"], "video", "{}", listed.text);

    // The prompt ideas come from the prompt grammar, two of them.
    let ideas = r[6]["text"].as_str().unwrap();
    assert_eq!(
        ideas.lines().filter(|l| l.starts_with("- ")).count(),
        2,
        "{ideas}"
    );
}

#[tokio::test]
async fn every_tool_reaches_the_route_it_stands_for() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (_, key) = t.api_key(&s.access).await;
    // An image the agent was given (a data URL): a small opaque picture.
    let picture = fixtures::png(&fixtures::object_on_background(64, 48));
    use base64::Engine;
    let data_url = |png: &[u8]| {
        format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        )
    };
    let mask = fixtures::png(&fixtures::mask_over_object(64, 48));
    let (picture, mask) = (data_url(&picture), data_url(&mask));
    let report = session(&t, &key, json!([
            {"op": "call", "name": "list_models", "args": {}},
            {"op": "call", "name": "edit_image", "args": {"prompt": "make it blue", "images": [picture], "mask": mask}},
            {"op": "call", "name": "transform_image", "args": {"image_id": "$last_link", "operations": [{"op": "flip"}, {"op": "grayscale"}], "output_format": "jpeg"}},
            {"op": "call", "name": "create_variation", "args": {"image": "$last_link"}},
            {"op": "call", "name": "generate_image", "args": {"prompt": "a moon", "size": SMALL, "background": "transparent"}},
            {"op": "call", "name": "edit_image", "args": {"prompt": "add a moon", "images": ["$last_link"]}},
            {"op": "call", "name": "get_image", "args": {"id": "$last_link"}},
            {"op": "call", "name": "list_images", "args": {"limit": 2}},
            {"op": "call", "name": "get_credits", "args": {}},
            {"op": "call", "name": "edit_image", "args": {"prompt": "x", "images": ["$last_link", picture]}},
        ]),
    )
    .await;
    let r = report["results"].as_array().unwrap();
    for (i, step) in r.iter().enumerate().take(9) {
        assert_eq!(step["is_error"], false, "step {i}: {}", texts(step));
    }
    let shown = |i: usize| texts(&r[i]);
    assert!(shown(0).contains("local"), "{}", shown(0));
    // The uploaded picture was edited (multipart), the result is in the library.
    assert_eq!(blocks(&r[1], "image").len(), 1, "{}", shown(1));
    assert!(shown(1).contains("credits charged"), "{}", shown(1));
    // The transform is a JPEG in the library, shown as one.
    assert_eq!(
        blocks(&r[2], "image")[0]["mime"],
        "image/jpeg",
        "{}",
        shown(2)
    );
    assert!(shown(2).contains("\"format\": \"jpeg\""), "{}", shown(2));
    // A variation, and an edit of a library image (JSON naming its file id).
    assert_eq!(blocks(&r[3], "resource_link").len(), 1, "{}", shown(3));
    assert_eq!(blocks(&r[5], "resource_link").len(), 1, "{}", shown(5));
    assert!(shown(6).contains("add a moon"), "{}", shown(6));
    assert_eq!(blocks(&r[7], "resource_link").len(), 2, "{}", shown(7));
    assert!(shown(7).contains("next_cursor"), "{}", shown(7));
    assert!(shown(8).contains("\"available\""), "{}", shown(8));
    // Both kinds of image in one call: refused before anything is sent.
    assert_eq!(r[9]["is_error"], true);
    assert!(shown(9).contains("not both"), "{}", shown(9));
    let images = t.get("/v1/images", Some(&key)).await;
    assert_eq!(
        images.body["data"].as_array().unwrap().len(),
        5,
        "{}",
        images.text
    );
}

#[tokio::test]
async fn bad_arguments_a_refused_scope_and_an_exhausted_budget_come_back_as_tool_errors() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (_, key) = t.api_key(&s.access).await;
    let before = t.credits(&s.access).await["available"].as_i64().unwrap();
    let report = session(&t, &key, json!([
            {"op": "call", "name": "generate_image", "args": {"prompt": "a fox", "size": "13x13"}},
            {"op": "call", "name": "generate_image", "args": {"prompt": 5}},
            {"op": "call", "name": "generate_image", "args": {"prompt": "a fox", "colour": "red"}},
            {"op": "call", "name": "generate_image", "args": {"prompt": "a fox", "size": SMALL, "dry_run": true}},
            {"op": "call", "name": "get_image", "args": {"id": "img_nothing_here"}},
            {"op": "read", "uri": "library://img_nothing_here"},
        ]),
    )
    .await;
    let r = report["results"].as_array().unwrap();
    let size = texts(&r[0]);
    assert_eq!(r[0]["is_error"], true, "{}", r[0]);
    assert!(size.contains("Argument: size"), "{size}");
    assert_eq!(r[1]["is_error"], true);
    assert!(texts(&r[1]).contains("prompt"), "{}", r[1]);
    assert_eq!(r[2]["is_error"], true);
    assert!(texts(&r[2]).contains("colour"), "{}", r[2]);
    // A quote: the price, nothing charged.
    assert_eq!(r[3]["is_error"], false, "{}", r[3]);
    assert!(texts(&r[3]).contains("\"credits\""), "{}", r[3]);
    assert_eq!(r[4]["is_error"], true);
    assert!(texts(&r[4]).contains("404"), "{}", r[4]);
    assert!(r[5]["error"].as_str().is_some(), "{}", r[5]);
    assert_eq!(
        t.credits(&s.access).await["available"].as_i64().unwrap(),
        before
    );

    // A read-only key is shown the read tools only, and refused the others with the reason.
    let r = t
        .post(
            "/v1/api-keys",
            json!({"name": "gallery", "scopes": ["library:read"]}),
            Some(&s.access),
        )
        .await;
    let read_only = r.body["key"].as_str().unwrap().to_string();
    let report = session(
        &t,
        &read_only,
        json!([
            {"op": "list_tools"},
            {"op": "call", "name": "generate_image", "args": {"prompt": "a fox", "size": SMALL}},
        ]),
    )
    .await;
    let r = report["results"].as_array().unwrap();
    assert_eq!(
        r[0]["names"],
        json!(["list_models", "list_images", "get_image"]),
        "{}",
        r[0]
    );
    assert_eq!(r[1]["is_error"], true);
    assert!(texts(&r[1]).contains("'generate' scope"), "{}", r[1]);

    // A key whose budget is spent: the refusal says so, and nothing is charged.
    let r = t
        .post(
            "/v1/api-keys",
            json!({"name": "tight", "budget": {"credits": 1, "period": "day"}}),
            Some(&s.access),
        )
        .await;
    let tight = r.body["key"].as_str().unwrap().to_string();
    let report = session(&t, &tight, json!([{"op": "call", "name": "generate_image", "args": {"prompt": "a fox", "size": SMALL, "n": 2}}]),
    )
    .await;
    let refused = &report["results"][0];
    assert_eq!(refused["is_error"], true, "{refused}");
    assert!(texts(refused).contains("budget"), "{refused}");
    assert_eq!(
        t.credits(&s.access).await["available"].as_i64().unwrap(),
        before
    );
}

#[tokio::test]
async fn the_typescript_sdk_connects_lists_the_tools_and_calls_one() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (_, key) = t.api_key(&s.access).await;
    let out = tokio::process::Command::new("node")
        .arg(workspace_root().join("tests/sdk/mcp_client.mjs"))
        .env("MCP_URL", t.url("/mcp"))
        .env("MCP_TOKEN", &key)
        .env("TOOL", "generate_image")
        .env(
            "ARGS",
            json!({"prompt": "a paper boat", "size": SMALL}).to_string(),
        )
        .kill_on_drop(true)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    // The TypeScript SDK begins with initialize (2025-11-25): served without a session.
    assert_eq!(report["protocol"], "2025-11-25", "{report}");
    assert_eq!(report["server"]["name"], "image-api");
    assert!(report["tools"].as_array().unwrap().len() >= 11, "{report}");
    let content = report["result"]["content"].as_array().unwrap();
    assert!(content.iter().any(|c| c["type"] == "image"), "{report}");
    assert!(
        content.iter().any(|c| c["type"] == "resource_link"
            && c["uri"].as_str().unwrap().starts_with("library://img_")),
        "{report}"
    );
}

#[tokio::test]
async fn an_mcp_client_signs_in_with_oauth_and_its_token_works_only_at_mcp_until_revoked() {
    let t = start().await;
    let (username, s) = t.new_user().await;
    let report = python(
        &t,
        "oauth",
        &[
            ("USERNAME", &username),
            ("PASSWORD", PASSWORD),
            ("GRANT", "library:read generate"),
        ],
        json!([
            {"op": "list_tools"},
            {"op": "call", "name": "generate_image", "args": {"prompt": "a kite", "size": SMALL}},
        ]),
    )
    .await;
    // The client found the consent page from the 401, registered itself and got a token.
    assert_eq!(report["authorize_path"], "/app/authorize", "{report}");
    assert_eq!(report["consent"]["client_name"], "Test agent");
    assert_eq!(report["consent"]["resource"], t.url("/mcp"));
    // It asked for every scope the server lists; the person granted two.
    assert_eq!(
        report["asked"],
        "library:read library:write generate jobs account"
    );
    assert_eq!(report["consent"]["scopes"].as_array().unwrap().len(), 5);
    assert_eq!(report["scope"], "library:read generate");
    let r = report["results"].as_array().unwrap();
    let names = r[0]["names"].as_array().unwrap();
    assert!(names.iter().any(|n| n == "generate_image"), "{}", r[0]);
    assert!(!names.iter().any(|n| n == "get_credits"), "{}", r[0]);
    assert_eq!(r[1]["is_error"], false, "{}", r[1]);
    let token = report["token"].as_str().unwrap();

    // It is one of the user's keys, named after the client and bound to /mcp.
    let keys = t.get("/v1/api-keys", Some(&s.access)).await;
    let listed = keys.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "Test agent (MCP)")
        .cloned()
        .unwrap_or_else(|| panic!("the client's key is listed: {}", keys.text));
    assert_eq!(listed["resource"], t.url("/mcp"));
    assert_eq!(listed["scopes"], json!(["library:read", "generate"]));
    assert!(listed["expires_at"].as_i64().is_some());
    let credit = t.credits(&s.access).await;
    assert_eq!(credit["ledger"][0]["api_key_id"], listed["id"], "{credit}");

    // Bound to its resource: the REST routes refuse it.
    let rest = t.get("/v1/images", Some(token)).await;
    assert_eq!(rest.status, StatusCode::UNAUTHORIZED, "{}", rest.text);
    assert_eq!(rest.code(), Some("invalid_audience"));

    // Revoked on the account page's route: the client is signed out at once.
    let id = listed["id"].as_str().unwrap();
    let gone = t
        .delete(&format!("/v1/api-keys/{id}"), Some(&s.access))
        .await;
    assert!(gone.status.is_success(), "{}", gone.text);
    let after = mcp_post(
        &t,
        Some(token),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    let challenge = after.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

async fn mcp_post(t: &TestStack, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = t
        .http
        .post(t.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

/// PKCE's S256 challenge of `verifier`.
fn challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

#[tokio::test]
async fn the_authorization_server_refuses_what_oauth_2_1_refuses() {
    let t = start().await;
    let (_, s) = t.new_user().await;

    // Without a bearer: where to sign in (RFC 9728), and what that says.
    let anon = mcp_post(
        &t,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
    let challenge_header = anon.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let prm_url = t.url("/.well-known/oauth-protected-resource/mcp");
    assert!(challenge_header.contains(&prm_url), "{challenge_header}");
    let prm = t
        .get("/.well-known/oauth-protected-resource/mcp", None)
        .await;
    assert_eq!(prm.body["resource"], t.url("/mcp"), "{}", prm.text);
    let issuer = prm.body["authorization_servers"][0]
        .as_str()
        .unwrap()
        .to_string();
    let meta = t.get("/.well-known/oauth-authorization-server", None).await;
    assert_eq!(meta.body["issuer"], issuer.as_str());
    assert_eq!(
        meta.body["code_challenge_methods_supported"],
        json!(["S256"])
    );
    let get = t
        .http
        .get(t.url("/mcp"))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.headers()["allow"], "POST");

    // Registration: only redirect URIs that cannot leak a code elsewhere.
    for bad in [
        "http://evil.example/cb",
        "javascript:alert(1)",
        "https://a.example/cb#x",
    ] {
        let r = t
            .post("/oauth/register", json!({"redirect_uris": [bad]}), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_redirect_uri", "{bad}");
    }
    let redirect = "http://127.0.0.1:40111/cb";
    let reg = t
        .post(
            "/oauth/register",
            json!({"redirect_uris": [redirect], "client_name": "Probe", "token_endpoint_auth_method": "client_secret_basic"}),
            None,
        )
        .await;
    assert_eq!(reg.status, StatusCode::CREATED, "{}", reg.text);
    assert_eq!(reg.body["token_endpoint_auth_method"], "none");
    let client_id = reg.body["client_id"].as_str().unwrap().to_string();

    let verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789";
    let ask = |extra: Value| {
        let mut body = json!({
            "client_id": client_id, "redirect_uri": redirect, "response_type": "code",
            "state": "st8", "code_challenge": challenge(verifier),
            "code_challenge_method": "S256", "resource": t.url("/mcp"),
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    // A redirect URI the client did not register: shown to the person, never followed.
    let r = t
        .post(
            "/v1/oauth/authorize",
            ask(json!({"redirect_uri": "http://127.0.0.1:40111/other", "decision": "allow"})),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.param(), Some("redirect_uri"));
    // PKCE is required: the client is told, at its redirect URI.
    let r = t
        .post(
            "/v1/oauth/authorize",
            ask(json!({"code_challenge_method": "plain", "decision": "allow"})),
            Some(&s.access),
        )
        .await;
    let to = r.body["redirect_to"].as_str().unwrap();
    assert!(
        to.starts_with(redirect)
            && to.contains("error=invalid_request")
            && to.contains("state=st8"),
        "{to}"
    );
    // An API key may not mint keys.
    let (_, key) = t.api_key(&s.access).await;
    let r = t
        .post(
            "/v1/oauth/authorize",
            ask(json!({"decision": "allow"})),
            Some(&key),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Scopes of others (`offline_access`) are ignored; ours are asked for.
    let r = t
        .post(
            "/v1/oauth/authorize",
            ask(json!({"scope": "offline_access generate"})),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["scopes"].as_array().unwrap().len(), 1, "{}", r.text);
    assert_eq!(r.body["scopes"][0]["scope"], "generate");
    // The person declines.
    let r = t
        .post(
            "/v1/oauth/authorize",
            ask(json!({"decision": "deny"})),
            Some(&s.access),
        )
        .await;
    assert!(
        r.body["redirect_to"]
            .as_str()
            .unwrap()
            .contains("error=access_denied")
    );

    // A code: spent once, with its verifier, by its client, for its redirect URI.
    let r = t
        .post(
            "/v1/oauth/authorize",
            ask(json!({"decision": "allow"})),
            Some(&s.access),
        )
        .await;
    let to = url::Url::parse(r.body["redirect_to"].as_str().unwrap()).unwrap();
    let q: std::collections::HashMap<String, String> = to.query_pairs().into_owned().collect();
    assert_eq!(q["iss"], issuer);
    assert_eq!(q["state"], "st8");
    let exchange = |verifier: &str, redirect_uri: &str| {
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "authorization_code"),
                ("code", q["code"].as_str()),
                ("client_id", client_id.as_str()),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ])
            .finish();
        t.http
            .post(t.url("/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
    };
    for (v, uri) in [
        (
            "another-verifier-that-is-long-enough-for-pkce-0000000",
            redirect,
        ),
        (verifier, "http://127.0.0.1:40111/elsewhere"),
    ] {
        let r = t.send(exchange(v, uri)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.body["error"], "invalid_grant");
    }
    let ok = t.send(exchange(verifier, redirect)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["token_type"], "Bearer");
    let token = ok.body["access_token"].as_str().unwrap().to_string();
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let works = mcp_post(&t, Some(&token), list.clone()).await;
    assert_eq!(works.status(), StatusCode::OK);
    // The code again (it leaked): refused, and the token it gave is revoked.
    let again = t.send(exchange(verifier, redirect)).await;
    assert_eq!(again.body["error"], "invalid_grant", "{}", again.text);
    assert!(
        again.body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    let revoked = mcp_post(&t, Some(&token), list).await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_signs_in_and_consents_on_the_web_page_in_chromium() {
    let t = start().await;
    let (username, s) = t.new_user().await;
    // Signed out in the browser: the consent page sends the person to sign in and back.
    let report = python(
        &t,
        "oauth-browser",
        &[
            ("USERNAME", &username),
            ("PASSWORD", PASSWORD),
            ("GRANT", "library:read"),
            (
                "SCREENSHOTS",
                workspace_root()
                    .join("target/screenshots")
                    .to_str()
                    .unwrap(),
            ),
        ],
        json!([{"op": "list_tools"}, {"op": "call", "name": "list_images", "args": {}}]),
    )
    .await;
    let shown = report["consent_text"].as_str().unwrap();
    assert!(
        shown.contains("Allow Test agent to use your account?"),
        "{shown}"
    );
    assert!(
        shown.contains("Make images and videos, spending your credits"),
        "{shown}"
    );
    // Unticked on the page: the token may only read the library.
    assert_eq!(report["scope"], "library:read");
    assert_eq!(
        report["results"][0]["names"],
        json!(["list_models", "list_images", "get_image"])
    );
    assert_eq!(report["results"][1]["is_error"], false);
    let keys = t.get("/v1/api-keys", Some(&s.access)).await;
    assert_eq!(
        keys.body["data"][0]["name"], "Test agent (MCP)",
        "{}",
        keys.text
    );
}
