//! Lambda's DynamoDB stream event source, locally: reads the table's stream from the emulator
//! (the DynamoDB Streams API), hands its records to the consumer in order as real
//! `DynamoDBEvent`s, and goes on after the last record it did not report as failed. A reported
//! record is read again from its sequence number, as Lambda does.

use crate::registry::StreamHandler;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One table's stream and the function that consumes it.
pub struct StreamConsumer {
    /// The emulator (its DynamoDB Streams API answers on the same endpoint).
    pub endpoint: String,
    pub region: String,
    pub stream_arn: String,
    pub handler: StreamHandler,
    /// Records per invocation (the event source's `BatchSize`).
    pub batch_size: usize,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An idle stream is read again after a pause that doubles from the first to the last (many
/// stacks share one emulator in the tests); a failed batch waits `RETRY` before it comes again.
const IDLE_FIRST: Duration = Duration::from_millis(50);
const IDLE_LAST: Duration = Duration::from_millis(800);
const RETRY: Duration = Duration::from_millis(500);
/// Shards are listed again this often (the emulator keeps one per table).
const REDISCOVER: Duration = Duration::from_secs(30);

pub async fn run(consumer: StreamConsumer, deps: Arc<shared::Deps>) {
    let http = reqwest::Client::new();
    // Shard id → where to read next.
    let mut positions: BTreeMap<String, String> = BTreeMap::new();
    let mut idle = IDLE_FIRST;
    let mut described: Option<tokio::time::Instant> = None;
    loop {
        if described.is_none_or(|at| at.elapsed() >= REDISCOVER) {
            match discover(&http, &consumer, &mut positions).await {
                Ok(()) => described = Some(tokio::time::Instant::now()),
                Err(e) => tracing::warn!(error = %e, "stream not described"),
            }
        }
        let mut busy = false;
        for (shard, iterator) in positions.iter_mut() {
            match read(&http, &consumer, &deps, shard, iterator).await {
                Ok(handled) => busy |= handled > 0,
                Err(e) => {
                    tracing::warn!(%shard, error = %e, "stream batch not settled");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
        if busy {
            idle = IDLE_FIRST;
        } else {
            tokio::time::sleep(idle).await;
            idle = (idle * 2).min(IDLE_LAST);
        }
    }
}

/// New shards start at their oldest record (`TRIM_HORIZON`, as the template asks).
async fn discover(
    http: &reqwest::Client,
    c: &StreamConsumer,
    positions: &mut BTreeMap<String, String>,
) -> Result<(), BoxError> {
    let described = call(
        http,
        c,
        "DescribeStream",
        json!({"StreamArn": c.stream_arn}),
    )
    .await?;
    for shard in described["StreamDescription"]["Shards"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(id) = shard["ShardId"].as_str() else {
            continue;
        };
        if !positions.contains_key(id) {
            let iterator =
                iterator(http, c, id, json!({"ShardIteratorType": "TRIM_HORIZON"})).await?;
            positions.insert(id.to_string(), iterator);
        }
    }
    Ok(())
}

async fn iterator(
    http: &reqwest::Client,
    c: &StreamConsumer,
    shard: &str,
    from: Value,
) -> Result<String, BoxError> {
    let mut body = json!({"StreamArn": c.stream_arn, "ShardId": shard});
    body.as_object_mut()
        .expect("an object")
        .extend(from.as_object().cloned().unwrap_or_default());
    let out = call(http, c, "GetShardIterator", body).await?;
    Ok(out["ShardIterator"]
        .as_str()
        .ok_or("no shard iterator")?
        .to_string())
}

/// One batch of the shard, handed to the consumer; returns how many records it had.
async fn read(
    http: &reqwest::Client,
    c: &StreamConsumer,
    deps: &Arc<shared::Deps>,
    shard: &str,
    position: &mut String,
) -> Result<usize, BoxError> {
    let out = call(
        http,
        c,
        "GetRecords",
        json!({"ShardIterator": position, "Limit": c.batch_size}),
    )
    .await?;
    let records: Vec<Value> = out["Records"].as_array().cloned().unwrap_or_default();
    let next = out["NextShardIterator"].as_str().map(str::to_string);
    if records.is_empty() {
        if let Some(next) = next {
            *position = next;
        }
        return Ok(0);
    }
    let count = records.len();
    let event: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(
        json!({ "Records": records.iter().map(|r| lambda_record(c, r)).collect::<Vec<_>>() }),
    )?;
    let failed = match (c.handler)(deps.clone(), event).await {
        Ok(resp) => resp
            .batch_item_failures
            .into_iter()
            .find_map(|f| f.item_identifier),
        Err(e) => {
            // Like Lambda: a failed invocation brings the whole batch again.
            tracing::warn!(error = %e, "stream consumer invocation failed");
            records[0]["dynamodb"]["SequenceNumber"]
                .as_str()
                .map(str::to_string)
        }
    };
    match failed {
        Some(sequence) => {
            *position = iterator(
                http,
                c,
                shard,
                json!({"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": sequence}),
            )
            .await?;
            tokio::time::sleep(RETRY).await;
        }
        None => {
            if let Some(next) = next {
                *position = next;
            }
        }
    }
    Ok(count)
}

/// A record of GetRecords as Lambda passes it on: the same fields, with the stream's ARN.
fn lambda_record(c: &StreamConsumer, r: &Value) -> Value {
    let mut r = r.clone();
    r["eventSourceARN"] = c.stream_arn.clone().into();
    r["awsRegion"] = c.region.clone().into();
    // Lambda writes the time as epoch seconds.
    r["dynamodb"]["ApproximateCreationDateTime"] = json!(shared::domain::now_epoch() as f64);
    r
}

async fn call(
    http: &reqwest::Client,
    c: &StreamConsumer,
    action: &str,
    body: Value,
) -> Result<Value, BoxError> {
    let resp = http
        .post(&c.endpoint)
        .header("x-amz-target", format!("DynamoDBStreams_20120810.{action}"))
        .header("content-type", "application/x-amz-json-1.0")
        // The emulator tells the service apart by the credential scope; it checks no signature.
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=test/20260101/{}/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                c.region
            ),
        )
        .body(body.to_string())
        .send()
        .await?;
    let status = resp.status();
    let answer: Value = resp.json().await?;
    if !status.is_success() {
        return Err(format!("{action}: {status}: {answer}").into());
    }
    Ok(answer)
}
