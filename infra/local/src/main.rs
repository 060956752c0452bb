//! `make run`: the whole API on http://127.0.0.1:3000 against a local AWS emulator.

use local_stack::{LocalStack, Options};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    shared::telemetry::init();
    let root_dir = std::env::var("WORKSPACE_ROOT").unwrap_or_else(|_| ".".into());
    let mut opts = Options::for_workspace(&root_dir);
    opts.port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    // HOST=0.0.0.0 serves other machines too (the pages and their images, all on this port).
    opts.host = std::env::var("HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .map(|h| h.parse())
        .transpose()
        .map_err(|e| format!("HOST must be an IP address: {e}"))?
        .unwrap_or(opts.host);
    // A fixed emulator port, so tools (the AWS CLI, a browser of the emulator) find it.
    opts.emulator_port = std::env::var("EMULATOR_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(4566);
    opts.endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|e| !e.is_empty());
    // Template parameters can be set under their own names (`RateLimitPerHour=10 make run`) or
    // as the variables the functions read (`OPENAI_API_KEY=... make run`).
    opts.parameters = std::env::vars().collect();
    // A receiver on this machine is the point of a local stack: webhooks may reach loopback.
    opts.parameters
        .entry("AllowPrivateWebhookTargets".into())
        .or_insert_with(|| "true".into());
    let stack = LocalStack::start(opts).await?;

    eprintln!();
    eprintln!("  Image API (local stack) on {}", stack.base_url);
    eprintln!("  Web pages:                 {}/", stack.base_url);
    let stages: std::collections::BTreeSet<_> = stack
        .routes
        .iter()
        .filter_map(|r| r.stage.as_deref())
        .collect();
    for stage in stages {
        eprintln!(
            "  Streaming API (partial images as made): {}/{stage}",
            stack.base_url
        );
    }
    eprintln!("  AWS emulator (moto):       {}", stack.endpoint);
    for (id, name) in stack.created.tables.iter().chain(&stack.created.buckets) {
        eprintln!("    {id:<18} {name}");
    }
    for (id, (url, _)) in &stack.created.queues {
        eprintln!("    {id:<18} {url}");
    }
    eprintln!(
        "  {} routes from template.yaml; consumers polling the generation and webhook queues.",
        stack.routes.len()
    );
    let mut on = vec!["local (offline)"];
    if stack.config.vendors.openai_api_key.is_some() {
        on.push("OpenAI");
    }
    if stack.config.vendors.stability_api_key.is_some() {
        on.push("Stability");
    }
    if stack.config.vendors.replicate_api_token.is_some() {
        on.push("Replicate");
    }
    if stack.config.vendors.fal_key.is_some() {
        on.push("fal");
    }
    eprintln!(
        "  Providers on: {} (keys: OPENAI_API_KEY, STABILITY_API_KEY, REPLICATE_API_TOKEN, FAL_KEY).",
        on.join(", ")
    );
    if let Some(root) = &stack.c2pa_test_root {
        // Where a verifier (c2patool --trust_anchors, c2pa-python) finds the root to trust.
        let path = std::path::Path::new(&root_dir).join("target/c2pa-test-root.pem");
        std::fs::create_dir_all(path.parent().expect("target/"))?;
        std::fs::write(&path, root)?;
        eprintln!(
            "  Content Credentials: signed with a test chain made now; its root: {}",
            path.display()
        );
    } else if !stack.config.credentials.enabled {
        eprintln!("  Content Credentials: off (ContentCredentials=off).");
    }
    for (function, period) in &stack.scheduled {
        eprintln!("  {function} runs every {} s.", period.as_secs());
    }
    eprintln!();
    eprintln!("  Try:");
    eprintln!(
        "    curl -s {}/v1/auth/register -H 'content-type: application/json' \\\n      -d '{{\"username\":\"ada\",\"email\":\"ada@example.com\",\"password\":\"correct horse battery\"}}'",
        stack.base_url
    );
    eprintln!("    curl -s {}/v1/doc | head", stack.base_url);
    eprintln!();
    eprintln!("  Ctrl-C stops the gateway, the worker and the emulator.");

    // Ctrl-C, or a TERM/HUP from a supervisor: either way the emulator child is stopped.
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
    eprintln!("stopping");
    drop(stack);
    Ok(())
}
