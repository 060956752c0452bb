//! Content Credentials on every output, checked by the official C2PA SDK (c2pa-python) against
//! the stack's test root: generations, transforms, edits, videos, a vendor's own credentials,
//! tampering, the provenance route, and the switch that turns signing off.

use crate::edits::edit;
use crate::videos::until_over;
use e2e_tests::fixtures::*;
use e2e_tests::*;
use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::{Value, json};

const TRAINED: &str = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";
const ALGORITHMIC: &str = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia";
const COMPOSITE_TRAINED: &str =
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia";

fn active(store: &Value) -> &Value {
    let label = store["active_manifest"]
        .as_str()
        .unwrap_or_else(|| panic!("no active manifest: {store}"));
    &store["manifests"][label]
}

fn actions(manifest: &Value) -> Vec<Value> {
    manifest["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["label"].as_str().unwrap().starts_with("c2pa.actions"))
        .flat_map(|a| a["data"]["actions"].as_array().unwrap().clone())
        .collect()
}

fn names(manifest: &Value) -> Vec<String> {
    actions(manifest)
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect()
}

/// The ingredient of `relationship` and the manifest its own credentials are, in `store`.
fn ingredient<'a>(
    store: &'a Value,
    manifest: &'a Value,
    relationship: &str,
) -> (&'a Value, &'a Value) {
    let i = manifest["ingredients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["relationship"] == relationship)
        .unwrap_or_else(|| panic!("no {relationship} ingredient: {manifest}"));
    let label = i["active_manifest"]
        .as_str()
        .expect("the ingredient's credentials");
    (i, &store["manifests"][label])
}

/// An upload's asset id, made as a client makes it.
async fn uploaded(t: &TestStack, token: &str, bytes: Vec<u8>) -> String {
    let len = bytes.len();
    let (_, done) = crate::assets::upload(t, token, bytes, len, "image/png").await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
    done.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_kind_of_output_carries_credentials_the_official_sdk_validates() {
    let t = start().await;
    let (_, s) = t.new_user().await;

    // A generation: made by an algorithm (the offline renderer is no trained model), by which
    // model and vendor, when; trusted through the stack's root; no prompt unless asked.
    let g = t
        .generate(
            &s.access,
            json!({"prompt": "a lighthouse at dusk", "response_format": "b64_json"}),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    let generated_id = g.body["data"][0]["id"].as_str().unwrap().to_string();
    let png = b64(g.body["data"][0]["b64_json"].as_str().unwrap());
    let store = t.c2pa_verified(&png, "image/png").await;
    assert_eq!(store["validation_state"], "Trusted", "{store:#}");
    let created = &actions(active(&store))[0];
    assert_eq!(created["action"], "c2pa.created");
    assert_eq!(created["digitalSourceType"], ALGORITHMIC);
    assert_eq!(created["softwareAgent"]["name"], g.body["model"]);
    assert_eq!(created["parameters"]["vendor"], "local");
    assert!(
        created["when"].as_str().unwrap().starts_with("20"),
        "{created}"
    );
    assert!(
        !store.to_string().contains("lighthouse"),
        "the prompt stays private"
    );
    // What the library stores is what was answered.
    let stored = t
        .fetch(
            t.get(&format!("/v1/images/{generated_id}"), Some(&s.access))
                .await
                .body["url"]
                .as_str()
                .unwrap(),
        )
        .await;
    assert_eq!(stored, png);

    // A transform to JPEG: the generation is its parent, and its credentials come along.
    let tr = t
        .post(
            &format!("/v1/images/{generated_id}/transform"),
            json!({"operations": [{"op": "grayscale"}, {"op": "flip"}], "output_format": "jpeg"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(tr.status, StatusCode::CREATED, "{}", tr.text);
    let jpeg = t.fetch(tr.body["url"].as_str().unwrap()).await;
    let store = t.c2pa_verified(&jpeg, "image/jpeg").await;
    assert_eq!(store["validation_state"], "Trusted", "{store:#}");
    let manifest = active(&store);
    assert_eq!(names(manifest), ["c2pa.opened", "c2pa.edited"]);
    assert_eq!(
        actions(manifest)[1]["description"],
        "transformed: grayscale, flip"
    );
    let (parent, parents) = ingredient(&store, manifest, "parentOf");
    assert_eq!(parent["title"], generated_id.as_str());
    assert_eq!(names(parents), ["c2pa.created"]);

    // An edit of the library image by a model: still synthetic, its parent an ingredient.
    let (w, h) = image::load_from_memory(&png)
        .unwrap()
        .into_rgba8()
        .dimensions();
    let mask_id = uploaded(
        &t,
        &s.access,
        e2e_tests::fixtures::png(&mask_over_object(w, h)),
    )
    .await;
    let e = t
        .post(
            "/v1/images/edits",
            json!({"images": [{"file_id": generated_id}], "mask": {"file_id": mask_id}, "prompt": "add a boat", "response_format": "b64_json"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    let edited_id = e.body["data"][0]["id"].as_str().unwrap().to_string();
    let edited = b64(e.body["data"][0]["b64_json"].as_str().unwrap());
    let store = t.c2pa_verified(&edited, "image/png").await;
    assert_eq!(store["validation_state"], "Trusted", "{store:#}");
    let manifest = active(&store);
    assert_eq!(names(manifest), ["c2pa.opened", "c2pa.edited"]);
    assert_eq!(actions(manifest)[1]["digitalSourceType"], ALGORITHMIC);
    assert_eq!(
        ingredient(&store, manifest, "parentOf").0["title"],
        generated_id.as_str()
    );

    // The API reads the same credentials back, with what made the asset and its history.
    let p = t
        .get(
            &format!("/v1/images/{edited_id}/provenance"),
            Some(&s.access),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.body["validation_state"], "Trusted");
    assert_eq!(p.body["made_with_ai"], true);
    assert_eq!(
        p.body["summary"],
        format!(
            "Made with AI: {} via local",
            e.body["model"].as_str().unwrap()
        )
    );
    let history: Vec<(&str, &str)> = p.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["action"].as_str().unwrap(), h["asset"].as_str().unwrap()))
        .collect();
    assert_eq!(
        history,
        [
            ("c2pa.edited", format!("{edited_id}.png").as_str()),
            ("c2pa.created", format!("{generated_id}.png").as_str()),
        ]
    );
    let other = t.new_user().await.1;
    let hidden = t
        .get(
            &format!("/v1/images/{edited_id}/provenance"),
            Some(&other.access),
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "another user's asset");

    // A video from the generated picture: the MP4 carries credentials naming it.
    let v = t
        .post(
            "/v1/videos",
            json!({"prompt": "a slow push in", "seconds": "4", "size": "1280x720", "input_reference": {"file_id": generated_id}}),
            Some(&s.access),
        )
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    let video_id = v.body["id"].as_str().unwrap();
    let over = until_over(&t, &s.access, video_id).await;
    assert_eq!(over.body["status"], "completed", "{}", over.text);
    let mp4 = t.video_content(video_id, &s.access).await;
    let store = t.c2pa_verified(&mp4, "video/mp4").await;
    assert_eq!(store["validation_state"], "Trusted", "{store:#}");
    let manifest = active(&store);
    assert_eq!(names(manifest), ["c2pa.opened", "c2pa.edited"]);
    assert_eq!(
        actions(manifest)[1]["softwareAgent"]["name"],
        "local-motion"
    );
    assert_eq!(
        ingredient(&store, manifest, "parentOf").0["title"],
        generated_id.as_str()
    );

    // One changed byte of the pixels, and the credentials no longer validate.
    let mut tampered = png.clone();
    let idat = tampered.windows(4).position(|w| w == b"IDAT").unwrap();
    let len = u32::from_be_bytes(tampered[idat - 4..idat].try_into().unwrap()) as usize;
    tampered[idat + 4 + len / 2] ^= 0x01;
    let store = t.c2pa_verified(&tampered, "image/png").await;
    assert_eq!(store["validation_state"], "Invalid", "{store:#}");
}

#[tokio::test]
async fn the_prompt_and_author_are_disclosed_only_when_asked() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let user_id = t.user_id(&s.access).await;
    let g = t
        .generate(
            &s.access,
            json!({"prompt": "a red fox", "response_format": "b64_json", "provenance_include": ["prompt", "author"]}),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    let png = b64(g.body["data"][0]["b64_json"].as_str().unwrap());
    let store = t.c2pa_verified(&png, "image/png").await;
    let created = &actions(active(&store))[0];
    assert_eq!(created["parameters"]["prompt"], "a red fox");
    assert_eq!(created["parameters"]["author"], user_id.as_str());

    let bad = t
        .generate(
            &s.access,
            json!({"prompt": "a red fox", "provenance_include": ["email"]}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.param()),
        (StatusCode::BAD_REQUEST, Some("provenance_include")),
        "{}",
        bad.text
    );
    assert!(bad.text.contains("prompt and author"), "{}", bad.text);

    // A video too, and its refusal names the field as well.
    let v = t
        .post(
            "/v1/videos",
            json!({"prompt": "a slow pan", "seconds": "4", "size": "1280x720", "provenance_include": ["prompt"]}),
            Some(&s.access),
        )
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    let id = v.body["id"].as_str().unwrap();
    assert_eq!(
        until_over(&t, &s.access, id).await.body["status"],
        "completed"
    );
    let mp4 = t.video_content(id, &s.access).await;
    let store = t.c2pa_verified(&mp4, "video/mp4").await;
    let created = &actions(active(&store))[0];
    assert_eq!(created["action"], "c2pa.created", "{store:#}");
    assert_eq!(created["parameters"]["prompt"], "a slow pan");
    assert!(created["parameters"].get("author").is_none());
    let bad = t
        .post(
            "/v1/videos",
            json!({"prompt": "x", "provenance_include": ["face"]}),
            Some(&s.access),
        )
        .await;
    assert_eq!(
        (bad.status, bad.param()),
        (StatusCode::BAD_REQUEST, Some("provenance_include")),
        "{}",
        bad.text
    );
}

/// A fake OpenAI whose images carry the vendor's own credentials, as OpenAI's do.
async fn vendor_signing(png: Vec<u8>) -> (wiremock::MockServer, Vec<u8>) {
    use base64::Engine;
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, ResponseTemplate};
    let chain = provenance::generate_chain("Vendor", false).unwrap();
    let vendor =
        provenance::Signer::from_pem(chain.chain_pem.as_bytes(), chain.key_pem.as_bytes()).unwrap();
    let claim = provenance::Claim {
        title: "vendor.png".into(),
        made: provenance::Made::ByModel {
            agent: provenance::Agent {
                model: "gpt-image".into(),
                vendor: "OpenAI".into(),
            },
            trained: true,
        },
        when: "2026-12-06T00:00:00Z".into(),
        parent: None,
        components: vec![],
        vendor_output: None,
        disclosed: vec![],
    };
    let signed = vendor.sign(&png, "image/png", &claim).unwrap();
    let server = wiremock::MockServer::start().await;
    let item = json!({"b64_json": base64::engine::general_purpose::STANDARD.encode(&signed)});
    Mock::given(method("POST"))
        .and(path_regex("^/images/(generations|edits)$"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"created": 1, "data": [item]})),
        )
        .mount(&server)
        .await;
    (server, signed)
}

#[tokio::test]
async fn a_vendors_own_credentials_stay_and_an_upload_it_edits_is_a_composite() {
    let (server, from_vendor) = vendor_signing(e2e_tests::fake_openai::png(1024, 1024)).await;
    let t = start_with(&[
        ("OpenAiApiKey", "sk-fake"),
        ("OpenAiBaseUrl", &server.uri()),
        ("ProviderMaxRetries", "1"),
    ])
    .await;
    let (_, s) = t.new_user().await;
    let g = t
        .generate(
            &s.access,
            json!({"prompt": "a cat", "model": "gpt-image-1.5", "size": "1024x1024"}),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    let png = b64(g.body["data"][0]["b64_json"].as_str().unwrap());
    assert_ne!(png, from_vendor, "signed again, by us");
    let store = t.c2pa_verified(&png, "image/png").await;
    assert_eq!(store["validation_state"], "Trusted", "{store:#}");
    let manifest = active(&store);
    let created = &actions(manifest)[0];
    assert_eq!(created["action"], "c2pa.created");
    assert_eq!(created["digitalSourceType"], TRAINED);
    assert_eq!(created["parameters"]["vendor"], "openai");
    assert_eq!(created["softwareAgent"]["name"], "gpt-image-1.5");
    // The vendor's manifest is kept whole, as the ingredient its output is.
    let (_, vendors) = ingredient(&store, manifest, "componentOf");
    assert!(
        vendors["signature_info"]["common_name"]
            .as_str()
            .unwrap()
            .starts_with("Vendor"),
        "{vendors:#}"
    );
    // The pixels are the vendor's.
    let decode = |b: &[u8]| image::load_from_memory(b).unwrap().into_rgba8();
    assert_eq!(decode(&png), decode(&from_vendor));

    // A user's own picture edited by the model: a composite with AI, not wholly AI-made.
    let form = Form::new()
        .part(
            "image",
            part(e2e_tests::fixtures::png(&object_on_background(64, 64))),
        )
        .text("prompt", "make it night")
        .text("model", "gpt-image-1.5");
    let e = edit(&t, &s.access, form).await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.text);
    let edited = b64(e.body["data"][0]["b64_json"].as_str().unwrap());
    let store = t.c2pa_verified(&edited, "image/png").await;
    let manifest = active(&store);
    assert_eq!(names(manifest), ["c2pa.opened", "c2pa.edited"]);
    assert_eq!(actions(manifest)[1]["digitalSourceType"], COMPOSITE_TRAINED);
}

#[tokio::test]
async fn with_content_credentials_off_outputs_carry_none_and_the_route_says_so() {
    let t = start_with(&[("ContentCredentials", "off")]).await;
    let (_, s) = t.new_user().await;
    let g = t
        .generate(
            &s.access,
            json!({"prompt": "a kite", "response_format": "b64_json"}),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    let png = b64(g.body["data"][0]["b64_json"].as_str().unwrap());
    let store = t.c2pa_verified(&png, "image/png").await;
    assert!(store.get("error").is_some(), "{store:#}");
    let id = g.body["data"][0]["id"].as_str().unwrap();
    let p = t
        .get(&format!("/v1/images/{id}/provenance"), Some(&s.access))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.body["validation_state"], "None");
    assert_eq!(p.body["made_with_ai"], false);
    assert!(p.body["manifest_store"].is_null());
}

#[tokio::test]
async fn webp_animated_gif_and_svg_outputs_carry_credentials_too() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    for (format, mime) in [
        ("webp", "image/webp"),
        ("gif", "image/gif"),
        ("svg", "image/svg+xml"),
    ] {
        let g = t
            .generate(
                &s.access,
                json!({"prompt": "a windmill", "output_format": format, "response_format": "b64_json", "size": "256x256"}),
            )
            .await;
        assert_eq!(g.status, StatusCode::OK, "{format}: {}", g.text);
        let bytes = b64(g.body["data"][0]["b64_json"].as_str().unwrap());
        let store = t.c2pa_verified(&bytes, mime).await;
        assert_eq!(store["validation_state"], "Trusted", "{format}: {store:#}");
        assert_eq!(actions(active(&store))[0]["action"], "c2pa.created");
    }
}

#[tokio::test]
async fn an_upload_with_damaged_credentials_reads_as_invalid_not_as_a_failure() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    // A file whose credentials were signed elsewhere, then damaged inside the manifest.
    let chain = provenance::generate_chain("Elsewhere", false).unwrap();
    let other =
        provenance::Signer::from_pem(chain.chain_pem.as_bytes(), chain.key_pem.as_bytes()).unwrap();
    let picture = e2e_tests::fixtures::png(&object_on_background(64, 64));
    let claim = provenance::Claim {
        title: "camera.png".into(),
        made: provenance::Made::Edited {
            description: "a photograph".into(),
        },
        when: "2026-12-06T00:00:00Z".into(),
        parent: Some(provenance::Ingredient {
            title: "raw".into(),
            bytes: &picture,
            mime: "image/png",
        }),
        components: vec![],
        vendor_output: None,
        disclosed: vec![],
    };
    let mut damaged = other.sign(&picture, "image/png", &claim).unwrap();
    let at = damaged.windows(4).position(|w| w == b"caBX").unwrap();
    for b in &mut damaged[at + 100..at + 140] {
        *b ^= 0x5a;
    }
    let id = uploaded(&t, &s.access, damaged).await;
    let p = t
        .get(&format!("/v1/images/{id}/provenance"), Some(&s.access))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.body["validation_state"], "Invalid", "{}", p.text);
    assert_eq!(p.body["made_with_ai"], false);
    assert!(p.body["summary"].is_null());
}
