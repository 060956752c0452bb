//! JSON logs through `tracing`: one object per line, with the request span's fields
//! (request id, function, user id) on every line, as CloudWatch's JSON log format expects.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

/// Crates that log whole requests and responses (bodies, headers, items with password hashes
/// and tokens) at debug/trace. They stay at `info` whatever `RUST_LOG` asks for, so turning the
/// functions' log level up can never put a secret in a log line.
pub const WIRE_LEVEL_CRATES: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_smithy_types",
    "aws_sdk_dynamodb",
    "aws_sdk_s3",
    "aws_sdk_sqs",
    "aws_config",
    "aws_runtime",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
];

/// `base` (a `RUST_LOG` value) with the wire-level crates capped at `info`.
pub fn filter(base: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_new(base).unwrap_or_else(|_| EnvFilter::new("info"));
    for krate in WIRE_LEVEL_CRATES {
        let directive: Directive = format!("{krate}=info").parse().expect("static directive");
        filter = filter.add_directive(directive);
    }
    filter
}

/// The functions' log format: JSON, one object per line, with the current span and the list of
/// spans it is in, so the request span's fields (request id, function, user id) are on every
/// line, also on lines logged inside a child span.
pub fn json_subscriber<W>(writer: W, base: &str) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter(base))
        .with_current_span(true)
        .with_span_list(true)
        .with_target(false)
        .with_writer(writer)
        .finish()
}

pub fn init() {
    use tracing_subscriber::util::SubscriberInitExt;
    let base = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let _ = json_subscriber(std::io::stdout, &base).try_init();
}
