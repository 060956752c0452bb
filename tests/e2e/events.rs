//! The payloads in events/ are real API Gateway v2 events: fed to the handlers exactly as
//! Lambda would deliver them (and as the cold-start benchmark does), they work.

use e2e_tests::*;
use lambda_http::{Body, Response};
use serde_json::Value;

fn event(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("events").join(format!("{name}.json"))).unwrap()
}

fn request(name: &str, token: Option<&str>) -> lambda_http::Request {
    let mut text = event(name);
    if let Some(t) = token {
        text = text.replace("REPLACE_WITH_ACCESS_TOKEN", t);
    }
    lambda_http::request::from_str(&text).expect("a valid API Gateway v2 event")
}

fn json(resp: &Response<Body>) -> Value {
    serde_json::from_slice(resp.body().as_ref()).unwrap()
}

#[tokio::test]
async fn account_events_drive_the_handlers() {
    let t = start().await;
    let deps = t.deps().await;

    let resp = register::handler(&deps, request("register", None)).await;
    assert_eq!(resp.status(), 201, "{:?}", json(&resp));
    assert_eq!(json(&resp)["username"], "ada");
    assert_eq!(
        resp.headers()["x-request-id"],
        "evt-register-0001",
        "the gateway's request id is echoed"
    );

    let resp = login::handler(&deps, request("login", None)).await;
    assert_eq!(resp.status(), 200);
    let access = json(&resp)["access_token"].as_str().unwrap().to_string();

    let resp = me::handler(&deps, request("me", Some(&access))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(&resp)["email"], "ada@example.com");

    let resp = create_api_key::handler(&deps, request("create-api-key", Some(&access))).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(json(&resp)["name"], "ci");

    let resp = list_api_keys::handler(&deps, request("list-api-keys", Some(&access))).await;
    assert_eq!(json(&resp)["data"].as_array().unwrap().len(), 1);

    // The sample ids and tokens in the events are not real: they are refused properly.
    let resp = revoke_api_key::handler(&deps, request("revoke-api-key", Some(&access))).await;
    assert_eq!(resp.status(), 404);
    let resp = refresh_token::handler(&deps, request("refresh-token", None)).await;
    assert_eq!(resp.status(), 401);

    let resp = signout::handler(&deps, request("signout", Some(&access))).await;
    assert_eq!(resp.status(), 200);
    let resp = me::handler(&deps, request("me", Some(&access))).await;
    assert_eq!(resp.status(), 401);
}

fn request_for(name: &str, token: &str, id: Option<&str>) -> lambda_http::Request {
    let mut text = event(name).replace("REPLACE_WITH_ACCESS_TOKEN", token);
    if let Some(id) = id {
        text = text.replace("img_example", id);
    }
    lambda_http::request::from_str(&text).expect("a valid API Gateway v2 event")
}

#[tokio::test]
async fn image_events_drive_the_handlers() {
    let t = start().await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;

    let resp = generate_image::handler(&deps, request_for("generate-image", &s.access, None)).await;
    assert_eq!(resp.status(), 200, "{:?}", json(&resp));
    let body = json(&resp);
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    let id = body["data"][0]["id"].as_str().unwrap().to_string();

    let resp = list_images::handler(&deps, request_for("list-images", &s.access, None)).await;
    assert_eq!(json(&resp)["data"].as_array().unwrap().len(), 2);
    let resp = get_image::handler(&deps, request_for("get-image", &s.access, None)).await;
    assert_eq!(resp.status(), 404, "the sample id does not exist");
    let resp = get_image::handler(&deps, request_for("get-image", &s.access, Some(&id))).await;
    assert_eq!(resp.status(), 200);
    let resp =
        download_image::handler(&deps, request_for("download-image", &s.access, Some(&id))).await;
    assert_eq!(resp.status(), 302);
    let resp =
        delete_image::handler(&deps, request_for("delete-image", &s.access, Some(&id))).await;
    assert_eq!(resp.status(), 200);
    let resp = credit::handler(&deps, request_for("credit", &s.access, None)).await;
    assert_eq!(json(&resp)["spent"], 2);
    let resp = models::handler(&deps.config, request_for("models", "", None)).await;
    assert_eq!(resp.status(), 200);
    let resp = model_info::handler(&deps.config, request_for("model-info", "", None)).await;
    assert_eq!(json(&resp)["id"], "local-procedural");
}

#[test]
fn every_function_has_an_event_that_parses() {
    let template =
        local_stack::template::Template::load(&workspace_root().join("template.yaml")).unwrap();
    for (_, function) in template.function_handlers() {
        let text = event(&function);
        if ["worker", "dead-jobs", "deliver-webhook"].contains(&function.as_str()) {
            let e: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_str(&text).unwrap();
            assert!(!e.records.is_empty());
            assert!(text.contains("\"eventSource\": \"aws:sqs\""));
            for r in &e.records {
                let body = r.body.as_deref().unwrap();
                let parsed = if function == "deliver-webhook" {
                    serde_json::from_str::<shared::messages::Delivery>(body).map(|_| ())
                } else {
                    serde_json::from_str::<shared::messages::JobMessage>(body).map(|_| ())
                };
                parsed.unwrap_or_else(|e| panic!("{function}: {e}"));
            }
        } else if function == "announce" {
            let e: aws_lambda_events::event::dynamodb::Event = serde_json::from_str(&text).unwrap();
            assert!(text.contains("\"eventSource\": \"aws:dynamodb\""));
            for r in &e.records {
                let change = shared::adapters::dynamo::stream::change_of(r).unwrap();
                assert!(
                    matches!(
                        change,
                        Some(shared::messages::Change::Job { old: Some(_), .. })
                    ),
                    "{change:?}"
                );
            }
        } else if function == "make-variants" {
            let e: aws_lambda_events::event::dynamodb::Event = serde_json::from_str(&text).unwrap();
            for r in &e.records {
                let image = shared::adapters::dynamo::stream::image_written(r).unwrap();
                assert!(
                    image.is_some_and(|i| i.variants.is_empty()),
                    "an image without variants"
                );
            }
        } else if function == "sweep-holds" {
            let e: aws_lambda_events::event::eventbridge::EventBridgeEvent =
                serde_json::from_str(&text).unwrap();
            assert_eq!(e.detail_type, "Scheduled Event");
        } else {
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{function}: {e}"));
        }
    }
}

#[tokio::test]
async fn asset_events_drive_the_handlers() {
    let t = start().await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let r = t
        .generate(
            &s.access,
            serde_json::json!({"prompt": "a buoy", "size": "256x256", "background": "transparent"}),
        )
        .await;
    let id = r.body["data"][0]["id"].as_str().unwrap().to_string();
    let with_ids = |name: &str| {
        let text = event(name)
            .replace("REPLACE_WITH_ACCESS_TOKEN", &s.access)
            .replace("img_mask_example", &id)
            .replace("img_example", &id);
        lambda_http::request::from_str(&text).unwrap()
    };
    let resp = update_image::handler(&deps, with_ids("update-image")).await;
    assert_eq!(resp.status(), 200, "{:?}", json(&resp));
    assert_eq!(json(&resp)["title"], "Lighthouse");
    let resp = transform_image::handler(&deps, with_ids("transform-image")).await;
    assert_eq!(resp.status(), 201, "{:?}", json(&resp));
    assert_eq!(json(&resp)["format"], "webp");
    let resp = edit_image::handler(&deps, with_ids("edit-image")).await;
    assert_eq!(resp.status(), 200, "{:?}", json(&resp));
    let resp = image_variation::handler(&deps, with_ids("image-variation")).await;
    assert_eq!(json(&resp)["data"].as_array().unwrap().len(), 2);
    let resp = create_upload::handler(&deps, with_ids("create-upload")).await;
    assert_eq!(resp.status(), 201);
    let resp = complete_upload::handler(&deps, with_ids("complete-upload")).await;
    assert_eq!(resp.status(), 404, "the sample upload id does not exist");
}

/// The admin and sign-in events, as Lambda would deliver them: an admin's request for a sample
/// user id is a 404; a sign-in with a configured provider leaves for it; the sample callback's
/// state is no sign-in of ours.
#[tokio::test]
async fn admin_and_sign_in_events_drive_the_handlers() {
    let op = oidc::Provider::start("google", &[]).await;
    let params = op.parameters("google");
    let mut all: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.push(("AdminUsernames", "ada"));
    let t = start_with(&all).await;
    let deps = t.deps().await;
    assert_eq!(t.register("ada").await.status, 201);
    let access = t.login("ada").await.access;

    for (name, status) in [
        ("admin-get-user", 404),
        ("admin-grant-credits", 404),
        ("admin-disable-user", 404),
        ("admin-enable-user", 404),
        ("admin-set-role", 404),
    ] {
        let req = request(name, Some(&access));
        let resp = match name {
            "admin-get-user" => admin_get_user::handler(&deps, req).await,
            "admin-grant-credits" => admin_grant_credits::handler(&deps, req).await,
            "admin-disable-user" => admin_disable_user::handler(&deps, req).await,
            "admin-enable-user" => admin_enable_user::handler(&deps, req).await,
            _ => admin_set_role::handler(&deps, req).await,
        };
        assert_eq!(resp.status(), status, "{name}: {:?}", json(&resp));
    }
    let resp = admin_list_users::handler(&deps, request("admin-list-users", Some(&access))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(&resp)["data"][0]["username"], "ada");
    let resp = admin_usage::handler(&deps, request("admin-usage", Some(&access))).await;
    assert_eq!(json(&resp)["data"].as_array().unwrap().len(), 30);

    let resp = signin::handler(&deps, request("signin", None)).await;
    assert_eq!(resp.status(), 200, "{:?}", json(&resp));
    assert!(json(&resp)["url"].as_str().unwrap().starts_with(&op.base));
    let resp = signin_start::handler(&deps, request("signin-start", None)).await;
    assert_eq!(resp.status(), 302);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&op.base)
    );
    let resp = signin_callback::handler(&deps, request("signin-callback", None)).await;
    assert_eq!(resp.status(), 401, "{:?}", json(&resp));
    assert_eq!(json(&resp)["error"]["code"], "invalid_state");
}
