//! The embedded local stack behind `make run` and the end-to-end tests: an S3/DynamoDB/SQS
//! emulator (moto), the resources and routes of template.yaml, one HTTP gateway calling every
//! function's handler, and the worker polling the emulated queue.

pub mod gateway;
pub mod provision;
pub mod registry;
pub mod stream_loop;
pub mod template;
pub mod worker_loop;

use crate::provision::{Clients, Created};
use crate::template::{Error, Template};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use shared::{Config, Deps};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

pub struct Options {
    pub template: PathBuf,
    /// An emulator already running; `None` starts one and stops it on drop.
    pub endpoint: Option<String>,
    /// The Python of `.venv`, which has moto installed.
    pub python: PathBuf,
    /// `infra/local/moto_server.py`: moto's server with DynamoDB requests serialised.
    pub moto_launcher: PathBuf,
    /// 0 picks a free port.
    pub port: u16,
    /// The gateway's address: loopback unless `make run` is asked for more (`HOST`).
    pub host: std::net::IpAddr,
    /// The emulator's port when this stack starts it; 0 picks a free one.
    pub emulator_port: u16,
    /// Prefix of every resource name, so stacks can share one emulator.
    pub stack_name: String,
    /// Template parameter values (e.g. `RateLimitPerHour`).
    pub parameters: HashMap<String, String>,
    pub region: String,
}

impl Options {
    /// Defaults for this checkout: its template.yaml and the emulator of `.venv`.
    pub fn for_workspace(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            template: root.join("template.yaml"),
            endpoint: None,
            python: root.join(".venv/bin/python"),
            moto_launcher: root.join("infra/local/moto_server.py"),
            port: 0,
            host: std::net::IpAddr::from([127, 0, 0, 1]),
            emulator_port: 0,
            stack_name: "imageapi-local".into(),
            parameters: HashMap::new(),
            region: "us-east-1".into(),
        }
    }
}

pub struct LocalStack {
    pub base_url: String,
    pub endpoint: String,
    pub config: Config,
    pub created: Created,
    pub routes: Vec<template::Route>,
    /// Functions run on a schedule, with their period.
    pub scheduled: Vec<(String, std::time::Duration)>,
    pub clients: Arc<Clients>,
    /// The root of the test chain outputs are signed with (PEM), when this stack made one: what
    /// a verifier of its Content Credentials trusts.
    pub c2pa_test_root: Option<String>,
    tasks: Vec<JoinHandle<()>>,
    _emulator: Option<Child>,
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        // The emulator child is killed on drop (`kill_on_drop`).
    }
}

async fn free_port() -> Result<u16, Error> {
    Ok(TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port())
}

/// Starts the emulator (moto, see `moto_server.py`) on 127.0.0.1 and waits until it answers.
pub async fn start_emulator(
    python: &std::path::Path,
    launcher: &std::path::Path,
    port: u16,
) -> Result<(Child, String), Error> {
    if !python.exists() {
        return Err(format!(
            "{} not found: run `make venv` (or `make run`) to install the emulator",
            python.display()
        )
        .into());
    }
    let port = match port {
        0 => free_port().await?,
        fixed => {
            // Whatever answers on a taken port is not this run's emulator: never provision
            // into it (another stack's tables, or LocalStack's).
            if TcpListener::bind(("127.0.0.1", fixed)).await.is_err() {
                return Err(port_taken(fixed, &occupant(fixed).await).into());
            }
            fixed
        }
    };
    let mut child = Command::new(python)
        .arg(launcher)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let endpoint = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        // Our child must still be running when the port answers: if it died (the port was
        // taken meanwhile), the answer is someone else's.
        if let Some(status) = child.try_wait()? {
            return Err(match TcpListener::bind(("127.0.0.1", port)).await {
                Err(_) => port_taken(port, &occupant(port).await),
                Ok(_) => format!("the emulator exited at start ({status})"),
            }
            .into());
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok((child, endpoint));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("the emulator did not start on port {port} within 10 s").into())
}

fn port_taken(port: u16, occupant: &str) -> String {
    format!(
        "port {port} is taken ({occupant}), so this run cannot start its AWS emulator there; \
         stop that, or choose another port: EMULATOR_PORT={} make run (EMULATOR_PORT=0 picks a \
         free one)",
        port.saturating_add(1)
    )
}

/// What answers on a taken port, as far as an HTTP probe can tell.
async fn occupant(port: u16) -> String {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build();
    let Ok(http) = http else {
        return "by an unknown program".into();
    };
    let base = format!("http://127.0.0.1:{port}");
    let answers = |path: &'static str| {
        let (http, base) = (&http, &base);
        async move {
            http.get(format!("{base}{path}"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    };
    if answers("/_localstack/health").await {
        "by LocalStack".into()
    } else if answers("/moto-api/data.json").await {
        "by another moto server: another `make run`?".into()
    } else if http.get(&base).send().await.is_ok() {
        "by an HTTP server that is not an AWS emulator this run knows".into()
    } else {
        "by a program that does not speak HTTP".into()
    }
}

impl LocalStack {
    // Long: the steps of bringing a stack up, in order (emulator, resources, routes, loops).
    pub async fn start(opts: Options) -> Result<Self, Error> {
        let template = Template::load(&opts.template)?;
        let own = template.functions_with_own_environment();
        if !own.is_empty() {
            return Err(format!(
                "functions {own:?} declare their own Environment beyond their secrets; keep it in Globals"
            )
            .into());
        }
        let (emulator, endpoint) = match opts.endpoint.clone() {
            Some(e) => (None, e),
            None => {
                let (child, e) =
                    start_emulator(&opts.python, &opts.moto_launcher, opts.emulator_port).await?;
                (Some(child), e)
            }
        };

        // The clients the functions would build, pointed at the emulator.
        let sdk = shared::adapters::aws::sdk_config(&opts.region, Some(&endpoint)).await;
        let clients = Arc::new(Clients {
            dynamodb: shared::adapters::aws::dynamodb(&sdk),
            s3: shared::adapters::aws::s3(&sdk, true),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            events: aws_sdk_eventbridge::Client::new(&sdk),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
        });

        // Content Credentials are signed as on AWS, with a certificate the deployment brings:
        // here a test chain made now, whose root verifiers are told to trust.
        let mut overrides = opts.parameters.clone();
        let given = |k: &str| opts.parameters.get(k).is_some_and(|v| !v.is_empty());
        let c2pa_test_root = if [
            "C2paSigningKey",
            "C2PA_SIGNING_KEY",
            "C2paSigningKeySecretArn",
        ]
        .iter()
        .any(|k| given(k))
        {
            None
        } else {
            let chain = provenance::generate_chain("Image API local test", false)?;
            overrides.insert(
                "C2paSigningKey".into(),
                format!("{}{}", chain.chain_pem, chain.key_pem),
            );
            if !given("C2paTrustAnchors") && !given("C2PA_TRUST_ANCHORS") {
                overrides.insert("C2paTrustAnchors".into(), chain.root_pem.clone());
            }
            Some(chain.root_pem)
        };
        let parameters = template.parameters(&overrides)?;
        let parameters =
            provision::secrets(&template, &clients, &opts.stack_name, parameters).await?;
        let created = provision::provision(
            &template,
            &clients,
            &opts.stack_name,
            parameters,
            &opts.region,
        )
        .await?;
        let listener = TcpListener::bind(SocketAddr::new(opts.host, opts.port)).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let mut env = provision::environment(&template, &created)?;
        env.insert("AWS_ENDPOINT_URL".into(), endpoint.clone());
        env.insert("AWS_REGION".into(), opts.region.clone());
        // Presigned URLs name the gateway's origin (the public one, if the stack has one), which
        // serves the emulator's S3: images load wherever the API does.
        let public = env
            .get("PUBLIC_BASE_URL")
            .filter(|u| !u.is_empty())
            .cloned()
            .unwrap_or_else(|| base_url.clone());
        env.insert(
            "PRESIGNED_URL_BASE".into(),
            format!("{}{}", public.trim_end_matches('/'), gateway::S3_PREFIX),
        );
        let config = Config::from_map(&env)?;
        let deps = Arc::new(Deps::from_config(config.clone()));

        let handlers = registry::http_handlers();
        let routes = template.routes();
        let mut bound = Vec::new();
        for r in &routes {
            let h = handlers.get(r.function.as_str()).ok_or_else(|| {
                format!(
                    "route {} {} names function {} which has no handler",
                    r.method, r.path, r.function
                )
            })?;
            bound.push((r.clone(), h.clone()));
        }
        let gateway = Arc::new(gateway::Gateway {
            routes: bound,
            cors: template.cors(),
            deps: deps.clone(),
            s3_origin: endpoint.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        });

        let mut tasks = vec![tokio::spawn(serve(listener, gateway))];

        let sqs_handlers = registry::sqs_handlers();
        for source in template.sqs_sources() {
            let (function, queue) = (source.function.clone(), source.queue.clone());
            let handler = sqs_handlers
                .get(function.as_str())
                .cloned()
                .ok_or_else(|| {
                    format!("SQS function {function} has no handler in the local stack")
                })?;
            let (url, _) = created
                .queues
                .get(&queue)
                .ok_or_else(|| format!("queue {queue} not created"))?
                .clone();
            let arn = template::resolve(
                &serde_yaml::from_str(&format!("{{\"Fn::GetAtt\": [{queue}, Arn]}}"))?,
                &created,
            )?;
            tasks.push(tokio::spawn(worker_loop::run(
                worker_loop::Consumer {
                    queue: Arc::new(registry::QueueRef {
                        sqs: clients.sqs.clone(),
                        url,
                    }),
                    arn,
                    region: opts.region.clone(),
                    handler,
                    batch_size: source.batch_size,
                    max_concurrency: source.max_concurrency,
                },
                deps.clone(),
            )));
        }

        let stream_handlers = registry::stream_handlers();
        for source in template.stream_sources() {
            let handler = stream_handlers
                .get(source.function.as_str())
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "stream function {} has no handler in the local stack",
                        source.function
                    )
                })?;
            let stream_arn = created
                .streams
                .get(&source.table)
                .ok_or_else(|| format!("table {} has no stream", source.table))?
                .clone();
            tasks.push(tokio::spawn(stream_loop::run(
                stream_loop::StreamConsumer {
                    endpoint: endpoint.clone(),
                    region: opts.region.clone(),
                    stream_arn,
                    handler,
                    batch_size: source.batch_size,
                },
                deps.clone(),
            )));
        }

        let scheduled = template.scheduled()?;
        let scheduled_handlers = registry::scheduled_handlers();
        for (function, period) in &scheduled {
            let handler = scheduled_handlers
                .get(function.as_str())
                .cloned()
                .ok_or_else(|| {
                    format!("scheduled function {function} has no handler in the local stack")
                })?;
            let (deps, period) = (deps.clone(), *period);
            tasks.push(tokio::spawn(async move {
                // Like EventBridge: the first run one period after start, then every period.
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                loop {
                    ticks.tick().await;
                    handler(deps.clone()).await;
                }
            }));
        }

        Ok(Self {
            base_url,
            endpoint,
            config,
            created,
            routes,
            scheduled,
            clients,
            c2pa_test_root,
            tasks,
            _emulator: emulator,
        })
    }
}

async fn serve(listener: TcpListener, gateway: Arc<gateway::Gateway>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let gateway = gateway.clone();
                async move { Ok::<_, std::convert::Infallible>(gateway.handle(req, peer.ip()).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
