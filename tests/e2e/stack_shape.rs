//! Routes, handlers, resources and the OpenAPI document are one set, read from template.yaml.

use e2e_tests::*;
use local_stack::registry::{http_handlers, scheduled_handlers, sqs_handlers, stream_handlers};
use local_stack::template::Template;
use std::collections::BTreeSet;

/// Every source file of a function, as one text.
/// A function's source, with the source of the functions whose handlers it calls (the MCP
/// endpoint runs theirs): what it may do is what they may.
fn source_of(function: &str) -> String {
    let dir = workspace_root().join("functions").join(function);
    let mut source: String = std::fs::read_dir(dir.join("src"))
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    for line in manifest.lines() {
        if let Some((_, path)) = line.split_once(".path = \"../")
            && let Some(other) = path.strip_suffix('"')
        {
            source.push_str(&source_of(other));
        }
    }
    source
}

fn template() -> Template {
    Template::load(&workspace_root().join("template.yaml")).unwrap()
}

#[test]
fn every_route_has_a_handler_and_every_handler_a_route() {
    let t = template();
    let routed: BTreeSet<String> = t.routes().into_iter().map(|r| r.function).collect();
    let handled: BTreeSet<String> = http_handlers().keys().map(|k| k.to_string()).collect();
    assert_eq!(routed, handled);
    let consumers: BTreeSet<String> = t.sqs_consumers().into_iter().map(|(b, _)| b).collect();
    let known: BTreeSet<String> = sqs_handlers().keys().map(|s| s.to_string()).collect();
    assert_eq!(consumers, known);
    let scheduled: BTreeSet<String> = t.scheduled().unwrap().into_iter().map(|(b, _)| b).collect();
    let known: BTreeSet<String> = scheduled_handlers().keys().map(|s| s.to_string()).collect();
    assert_eq!(scheduled, known);
    let streamed: BTreeSet<String> = t.stream_sources().into_iter().map(|s| s.function).collect();
    let known: BTreeSet<String> = stream_handlers().keys().map(|s| s.to_string()).collect();
    assert_eq!(streamed, known);
    // Every function has a trigger: a route, a queue, a stream or a schedule.
    let triggered: BTreeSet<String> = routed
        .union(&consumers)
        .chain(&scheduled)
        .chain(&streamed)
        .cloned()
        .collect();
    let functions: BTreeSet<String> = t.function_handlers().into_values().collect();
    assert_eq!(triggered, functions);
}

/// Least privilege for secrets: a function may read the JWT secret if it signs or checks tokens
/// (every routed function but the public ones), the vendor keys if it calls vendors, and the
/// Content Credentials key if it stores pixels it made.
#[test]
fn each_function_may_read_only_the_secrets_it_uses() {
    let t = template();
    let routed: BTreeSet<String> = t.routes().into_iter().map(|r| r.function).collect();
    let vendor_keys = [
        "OpenAiApiKeySecretArn",
        "StabilityApiKeySecretArn",
        "ReplicateApiTokenSecretArn",
        "FalKeySecretArn",
    ];
    for (id, function) in t.function_handlers() {
        let source = source_of(&function);
        let calls_vendors = [
            "shared::providers",
            "usecases::jobs::{Accepted",
            "generation::",
        ]
        .iter()
        .any(|s| source.contains(s));
        // Routes that authenticate nobody (signin-start only redirects to the provider).
        let public = [
            "models",
            "model-info",
            "doc",
            "not-found",
            "web",
            "signin-start",
            "oauth-metadata",
        ]
        .contains(&function.as_str());
        let mut expected = BTreeSet::new();
        if routed.contains(&function) && !public {
            expected.insert("JwtSecretArn".to_string());
        }
        if calls_vendors {
            expected.extend(vendor_keys.iter().map(|k| k.to_string()));
        }
        // What makes or transforms pixels signs them (Content Credentials).
        if calls_vendors || source.contains("transforms::") {
            expected.insert("C2paSigningKeySecretArn".to_string());
        }
        // Signing someone in with a provider exchanges a code (client secrets, Apple's key).
        if source.contains(" sign_in(deps") {
            expected.extend(
                [
                    "GoogleClientSecretArn",
                    "MicrosoftClientSecretArn",
                    "ApplePrivateKeyArn",
                ]
                .map(String::from),
            );
        }
        // Prompt ideas are written by OpenAI's text models only.
        if source.contains("usecases::prompts") {
            expected.insert("OpenAiApiKeySecretArn".to_string());
        }
        let policies = t.resource(&id).unwrap()["Properties"]["Policies"]
            .as_sequence()
            .cloned()
            .unwrap_or_default();
        // A function that may read the library's objects hands out URLs to them: with
        // Delivery cloudfront, signed with the CDN's key.
        if serde_yaml::to_string(&policies)
            .unwrap()
            .contains("/thumbnails/*")
        {
            expected.insert("CdnPrivateKeyArn".to_string());
        }
        let mut readable = BTreeSet::new();
        for p in &policies {
            let text = serde_yaml::to_string(p).unwrap();
            if !text.contains("secretsmanager") {
                continue;
            }
            // Only behind its condition (no secret, no permission), and only GetSecretValue.
            let [cond, then, _] = p["Fn::If"].as_sequence().unwrap().as_slice() else {
                panic!("{id}: a secret's permission outside Fn::If")
            };
            for st in then["Statement"].as_sequence().unwrap() {
                assert_eq!(
                    st["Action"].as_str(),
                    Some("secretsmanager:GetSecretValue"),
                    "{id}"
                );
                let arn = st["Resource"]["Ref"].as_str().unwrap().to_string();
                assert_eq!(cond.as_str(), Some(format!("Has{arn}").as_str()), "{id}");
                readable.insert(arn);
            }
        }
        assert_eq!(readable, expected, "{id} ({function})");
        // The same secrets, passed as plain values, reach only the same functions.
        let given: BTreeSet<String> =
            t.resource(&id).unwrap()["Properties"]["Environment"]["Variables"]
                .as_mapping()
                .into_iter()
                .flatten()
                .filter_map(|(var, _)| {
                    let var = var.as_str().unwrap();
                    PLAIN_SECRETS
                        .iter()
                        .find(|(v, _)| *v == var)
                        .map(|(_, arn)| arn.to_string())
                })
                .collect();
        // The CDN's private key has no plain parameter: it comes from Secrets Manager only.
        expected.remove("CdnPrivateKeyArn");
        assert_eq!(
            given, expected,
            "{id} ({function}): plain secrets in its Environment"
        );
    }
    let globals = t.global_environment();
    for (var, _) in PLAIN_SECRETS {
        assert!(
            !globals.iter().any(|(g, _)| g == var),
            "{var} is in Globals: every function would get it"
        );
    }
}

/// The variables that carry secrets as plain values, and the parameter naming their secret.
const PLAIN_SECRETS: [(&str, &str); 9] = [
    ("C2PA_SIGNING_KEY", "C2paSigningKeySecretArn"),
    ("JWT_SECRET", "JwtSecretArn"),
    ("OPENAI_API_KEY", "OpenAiApiKeySecretArn"),
    ("STABILITY_API_KEY", "StabilityApiKeySecretArn"),
    ("REPLICATE_API_TOKEN", "ReplicateApiTokenSecretArn"),
    ("FAL_KEY", "FalKeySecretArn"),
    ("GOOGLE_CLIENT_SECRET", "GoogleClientSecretArn"),
    ("MICROSOFT_CLIENT_SECRET", "MicrosoftClientSecretArn"),
    ("APPLE_PRIVATE_KEY", "ApplePrivateKeyArn"),
];

#[test]
fn every_function_is_a_crate_of_the_workspace() {
    let t = template();
    for (id, function) in t.function_handlers() {
        let manifest = workspace_root()
            .join("functions")
            .join(&function)
            .join("Cargo.toml");
        let text =
            std::fs::read_to_string(&manifest).unwrap_or_else(|_| panic!("{id}: no {manifest:?}"));
        assert!(text.contains(&format!("name = \"{function}\"")), "{id}");
    }
    let dirs = std::fs::read_dir(workspace_root().join("functions"))
        .unwrap()
        .count();
    assert_eq!(
        dirs,
        t.function_handlers().len(),
        "a function crate without a template function"
    );
}

/// The `shared = ...` line of a crate's dependencies: which of its features the crate enables.
fn shared_dependency(manifest: &str) -> String {
    manifest
        .lines()
        .find(|l| l.starts_with("shared"))
        .unwrap_or_default()
        .to_string()
}

/// SAM builds each bundle once (the functions of one CodeUri share a build definition) and
/// gives every function the same bootstrap, which serves the function its `Handler` names. A
/// bundle links the union of its members' features: a function that makes no pixels never
/// shares one with the codecs.
#[test]
fn every_function_is_served_by_the_bundle_it_is_built_from() {
    let t = template();
    let mut bundles: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (id, function) in t.function_handlers() {
        let props = &t.resource(&id).unwrap()["Properties"];
        let code_uri = props["CodeUri"].as_str().unwrap_or_default();
        let bundle = code_uri
            .strip_prefix("infra/bundles/")
            .and_then(|b| b.strip_suffix('/'))
            .unwrap_or_else(|| panic!("{id}: CodeUri {code_uri:?} is not a bundle"));
        let metadata = &t.resource(&id).unwrap()["Metadata"];
        assert_eq!(
            metadata["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );
        assert_eq!(
            metadata["BuildProperties"]["Binary"].as_str(),
            Some(format!("bundle-{bundle}").as_str()),
            "{id}: the Binary of {code_uri}"
        );
        bundles
            .entry(bundle.to_string())
            .or_default()
            .push(function);
    }
    let dirs: BTreeSet<String> = std::fs::read_dir(workspace_root().join("infra/bundles"))
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        dirs,
        bundles.keys().cloned().collect(),
        "a bundle no function is built from"
    );
    for (bundle, functions) in &bundles {
        let dir = workspace_root().join("infra/bundles").join(bundle);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        assert!(
            manifest.contains(&format!(
                "name = \"bundle-{bundle}\"\npath = \"src/main.rs\""
            )),
            "{bundle}: its binary is not bundle-{bundle}"
        );
        let served: BTreeSet<String> = main
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"')?.split_once("\" => "))
            .map(|(name, krate)| {
                assert_eq!(krate, format!("{},", name.replace('-', "_")), "{bundle}");
                name.to_string()
            })
            .collect();
        let expected: BTreeSet<String> = functions.iter().cloned().collect();
        assert_eq!(served, expected, "{bundle}: what its bootstrap serves");
        let pixels: BTreeSet<bool> = functions
            .iter()
            .map(|f| {
                assert!(
                    manifest.contains(&format!("\n{f}.path = \"../../../functions/{f}\"")),
                    "{bundle} does not depend on {f}"
                );
                let member = workspace_root()
                    .join("functions")
                    .join(f)
                    .join("Cargo.toml");
                let shared = shared_dependency(&std::fs::read_to_string(member).unwrap());
                // Image codecs, or the C2PA SDK (a 3 MB library) that reads credentials.
                ["\"images\"", "\"video\"", "\"provenance\""]
                    .iter()
                    .any(|f| shared.contains(f))
            })
            .collect();
        assert_eq!(
            pixels.len(),
            1,
            "{bundle} mixes functions with and without image codecs or the C2PA SDK"
        );
    }
}

#[test]
fn the_openapi_document_covers_exactly_the_template_routes() {
    let t = template();
    let routes: BTreeSet<(String, String)> = t
        .routes()
        .into_iter()
        // The API's routes; the web pages and the catch-all are not operations of it.
        .filter(|r| r.path.starts_with("/v1/"))
        .map(|r| (r.method, r.path))
        .collect();
    let documented: BTreeSet<(String, String)> =
        shared::http::openapi::operations().into_iter().collect();
    assert_eq!(routes, documented);
}

#[tokio::test]
async fn the_served_document_is_openapi_3_1() {
    let t = start().await;
    let r = t.get("/v1/doc", None).await;
    assert_eq!(r.status, 200);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(r.body["paths"]["/v1/auth/logout"]["post"].is_object());
}

#[tokio::test]
async fn resources_are_created_as_the_template_declares() {
    let t = start().await;
    let table = t.stack.created.tables["Table"].clone();
    let d = t
        .stack
        .clients
        .dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let desc = d.table.unwrap();
    let keys: Vec<_> = desc
        .key_schema()
        .iter()
        .map(|k| k.attribute_name().to_string())
        .collect();
    assert_eq!(keys, ["pk", "sk"]);
    assert_eq!(
        desc.global_secondary_indexes()[0].index_name(),
        Some("gsi1")
    );
    let ttl = t
        .stack
        .clients
        .dynamodb
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description.unwrap().attribute_name(),
        Some("expires_at")
    );

    let (url, _) = t.stack.created.queues["GenerationQueue"].clone();
    let attrs = t
        .stack
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attrs = attrs.attributes.unwrap();
    // Six times the worker's 900 s timeout; kept a day, the time a job's hold waits.
    assert_eq!(
        attrs[&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout],
        "5400"
    );
    assert_eq!(
        attrs[&aws_sdk_sqs::types::QueueAttributeName::MessageRetentionPeriod],
        "86400"
    );
    assert!(
        attrs[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy].contains("GenerationDLQ")
    );
}

#[tokio::test]
async fn the_worker_consumes_the_queue_and_leaves_unreadable_messages() {
    let t = start().await;
    let (url, _) = t.stack.created.queues["GenerationQueue"].clone();
    let sqs = &t.stack.clients.sqs;
    sqs.send_message()
        .queue_url(&url)
        .message_body(r#"{"job_id":"job_1","user_id":"user_1"}"#)
        .send()
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(&url)
        .message_body("not json")
        .send()
        .await
        .unwrap();
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let mut last = (String::new(), String::new());
    for _ in 0..100 {
        let a = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        last = (
            a[&A::ApproximateNumberOfMessages].clone(),
            a[&A::ApproximateNumberOfMessagesNotVisible].clone(),
        );
        // The readable one (of a job that does not exist) is deleted; the unreadable one was
        // reported failed and waits, invisible, for redelivery and finally the dead-letter queue.
        if last == ("0".to_string(), "1".to_string()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("queue never settled: visible/in-flight = {last:?}");
}

/// Two stacks, one emulator port: the second says the port is taken, by what, and how to pick
/// another, and never provisions into an emulator it did not start.
#[tokio::test]
async fn a_taken_emulator_port_is_named_with_its_occupant_and_the_way_out() {
    let root = workspace_root();
    let (python, launcher) = (
        root.join(".venv/bin/python"),
        root.join("infra/local/moto_server.py"),
    );
    let (first, endpoint) = local_stack::start_emulator(&python, &launcher, 0)
        .await
        .unwrap();
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let err = local_stack::start_emulator(&python, &launcher, port)
        .await
        .expect_err("a second emulator on a taken port")
        .to_string();
    for part in [
        format!("port {port} is taken"),
        "another moto server".into(),
        "EMULATOR_PORT=".into(),
    ] {
        assert!(err.contains(&part), "{part:?} in {err}");
    }
    drop(first);

    // Something that is no emulator at all.
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = other.local_addr().unwrap().port();
    let err = local_stack::start_emulator(&python, &launcher, port)
        .await
        .expect_err("a taken port")
        .to_string();
    assert!(
        err.contains("is taken") && err.contains("does not speak HTTP"),
        "{err}"
    );
}

/// Permissions the emulator does not check, derived from what each function's source calls:
/// admin changes check the acting admin inside their transaction (`ConditionCheckItem`), and
/// the functions that send vendors an input (edits, variations, the worker's jobs and videos)
/// may put large ones where the vendor fetches them.
#[test]
fn functions_have_the_permissions_their_writes_need() {
    let t = template();
    for (id, function) in t.function_handlers() {
        let source = source_of(&function);
        let policies =
            serde_yaml::to_string(&t.resource(&id).unwrap()["Properties"]["Policies"]).unwrap();
        let admin_change = ["set_role", "set_disabled", "grant"]
            .iter()
            .any(|f| source.contains(&format!("usecases::admin::{{{f}")));
        assert_eq!(
            policies.contains("dynamodb:ConditionCheckItem"),
            admin_change,
            "{id} ({function}): ConditionCheckItem"
        );
        let sends_inputs = source.contains("usecases::generation::edit")
            || source.contains("usecases::generation::variation")
            || source.contains("usecases::jobs::{Accepted");
        let staging = policies.contains("tmp/vendor-inputs/*")
            && policies.contains("s3:PutObject")
            && policies.contains("s3:GetObject");
        assert_eq!(
            staging, sends_inputs,
            "{id} ({function}): tmp/vendor-inputs/*"
        );
    }
}

/// What each function's configuration is on AWS with plain secrets (the ARNs empty, as the
/// template passes them): it starts, holds the secrets it uses, and is withheld the others.
#[test]
fn every_function_starts_with_plain_secrets_and_holds_only_its_own() {
    use local_stack::template::{Resolve, WithConditions, resolve};
    let t = template();
    let given: std::collections::HashMap<String, String> = [
        ("JwtSecret", "0123456789abcdef0123456789abcdef"),
        ("OpenAiApiKey", "sk-plain"),
        ("FalKey", "fal-plain"),
        ("GoogleClientId", "google-client"),
        ("GoogleClientSecret", "google-secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    struct Aws(std::collections::HashMap<String, String>);
    impl Resolve for Aws {
        fn reference(&self, id: &str) -> Option<String> {
            Some(
                self.0
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| format!("{id}-name")),
            )
        }
        fn attribute(&self, id: &str, a: &str) -> Option<String> {
            Some(format!("arn:{id}:{a}"))
        }
    }
    let aws = Aws(t.parameters(&given).unwrap());
    let r = WithConditions {
        template: &t,
        inner: &aws,
    };
    let globals: Vec<(String, String)> = t
        .global_environment()
        .into_iter()
        .map(|(k, v)| (k, resolve(&v, &r).unwrap()))
        .collect();
    assert!(globals.contains(&("VENDOR_KEYS".into(), "openai,,,fal".into())));
    let own = t.function_environment();
    for (id, function) in t.function_handlers() {
        let mut env: std::collections::HashMap<String, String> = globals.iter().cloned().collect();
        for (_, k, v) in own.iter().filter(|(f, _, _)| *f == id) {
            env.insert(k.clone(), resolve(v, &r).unwrap());
        }
        let config = shared::Config::from_map(&env)
            .unwrap_or_else(|e| panic!("{id} ({function}) does not start: {e}"));
        // A plain secret is in memory from the start; a withheld one never is.
        let has = |var: &str| env.contains_key(var);
        assert_eq!(
            config.tokens.jwt_secret.is_loaded(),
            has("JWT_SECRET"),
            "{id}"
        );
        let openai = config
            .vendors
            .openai_api_key
            .as_ref()
            .expect("the catalog knows OpenAI");
        assert_eq!(openai.is_loaded(), has("OPENAI_API_KEY"), "{id}");
        let google = config.signin.identity_providers[0]
            .client_secret
            .as_ref()
            .unwrap();
        assert_eq!(google.is_loaded(), has("GOOGLE_CLIENT_SECRET"), "{id}");
    }
}

/// Deleting or replacing the stack keeps what holds data: the table, the bucket, the queues
/// (queued jobs, dead letters) and the logs.
#[test]
fn data_outlives_the_stack() {
    let t = template();
    let kinds = [
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::Logs::LogGroup",
    ];
    let mut kept = 0;
    for kind in kinds {
        for (id, res) in t.resources_of(kind) {
            for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
                assert_eq!(res[policy].as_str(), Some("Retain"), "{id}: {policy}");
            }
            kept += 1;
        }
    }
    assert!(kept >= 8, "only {kept} resources hold data?");
}
