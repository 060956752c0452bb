//! Creates the template's table, bucket and queues in the emulator, under names prefixed by
//! the stack name (so tests can run side by side), and resolves the functions' environment.

use crate::template::{Error, Resolve, Template, resolve};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml::Value;
use std::collections::HashMap;

/// What was created, by logical id.
#[derive(Debug, Default, Clone)]
pub struct Created {
    pub region: String,
    pub account: String,
    pub parameters: HashMap<String, String>,
    pub tables: HashMap<String, String>,
    pub buckets: HashMap<String, String>,
    /// Logical id → (queue URL, queue name).
    pub queues: HashMap<String, (String, String)>,
    /// Logical id → event bus name.
    pub buses: HashMap<String, String>,
    /// Table logical id → its stream's ARN (tables with a `StreamSpecification`).
    pub streams: HashMap<String, String>,
}

impl Resolve for Created {
    fn reference(&self, id: &str) -> Option<String> {
        match id {
            "AWS::Region" => return Some(self.region.clone()),
            "AWS::AccountId" => return Some(self.account.clone()),
            _ => {}
        }
        self.parameters
            .get(id)
            .or_else(|| self.tables.get(id))
            .or_else(|| self.buckets.get(id))
            .or_else(|| self.queues.get(id).map(|(url, _)| url))
            .or_else(|| self.buses.get(id))
            .cloned()
    }

    fn attribute(&self, id: &str, attribute: &str) -> Option<String> {
        let (r, a) = (&self.region, &self.account);
        match attribute {
            "Arn" => {
                if let Some(t) = self.tables.get(id) {
                    Some(format!("arn:aws:dynamodb:{r}:{a}:table/{t}"))
                } else if let Some(b) = self.buckets.get(id) {
                    Some(format!("arn:aws:s3:::{b}"))
                } else if let Some(bus) = self.buses.get(id) {
                    Some(format!("arn:aws:events:{r}:{a}:event-bus/{bus}"))
                } else {
                    let (_, name) = self.queues.get(id)?;
                    Some(format!("arn:aws:sqs:{r}:{a}:{name}"))
                }
            }
            "StreamArn" => self.streams.get(id).cloned(),
            "QueueUrl" => self.queues.get(id).map(|(url, _)| url.clone()),
            "QueueName" => self.queues.get(id).map(|(_, name)| name.clone()),
            _ => None,
        }
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn key_schema(v: &Value) -> Result<Vec<KeySchemaElement>, Error> {
    v.as_sequence()
        .into_iter()
        .flatten()
        .map(|k| {
            Ok(KeySchemaElement::builder()
                .attribute_name(s(&k["AttributeName"]))
                .key_type(KeyType::from(s(&k["KeyType"]).as_str()))
                .build()?)
        })
        .collect()
}

pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

/// Secrets are given to `make run` (and the tests) as plain values, and the functions read them
/// from Secrets Manager as on AWS: each non-empty parameter with a secret-ARN companion
/// (`JwtSecret` and `JwtSecretArn`, `FalKey` and `FalKeySecretArn`, ...) that is not itself
/// given is stored in the emulator under `<prefix>/<parameter>`, and the companion set to its
/// ARN in place of the value.
pub async fn secrets(
    template: &Template,
    clients: &Clients,
    prefix: &str,
    mut parameters: HashMap<String, String>,
) -> Result<HashMap<String, String>, Error> {
    let declared: Vec<String> = template.parameter_names();
    let mut names: Vec<String> = parameters.keys().cloned().collect();
    names.sort();
    for name in names {
        let value = parameters[&name].clone();
        if value.is_empty() {
            continue;
        }
        for companion in [format!("{name}Arn"), format!("{name}SecretArn")] {
            let unset = parameters.get(&companion).is_some_and(|v| v.is_empty());
            if !declared.contains(&companion) || !unset {
                continue;
            }
            let out = clients
                .secrets
                .create_secret()
                .name(format!("{prefix}/{name}"))
                .secret_string(&value)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "secret {name}: {}",
                        aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                    )
                })?;
            let arn = out.arn.ok_or("the emulator gave the secret no ARN")?;
            parameters.insert(companion, arn);
            parameters.insert(name.clone(), String::new());
        }
    }
    Ok(parameters)
}

/// Creates every table, bucket, queue and event bus of the template under `prefix`.
// Long: one block per resource type, in the order their dependencies need.
pub async fn provision(
    template: &Template,
    clients: &Clients,
    prefix: &str,
    parameters: HashMap<String, String>,
    region: &str,
) -> Result<Created, Error> {
    let mut created = Created {
        region: region.to_string(),
        account: "123456789012".into(),
        parameters,
        ..Default::default()
    };

    for (id, res) in template.resources_of("AWS::DynamoDB::Table") {
        let p = &res["Properties"];
        let name = format!("{prefix}-{id}");
        let mut req = clients
            .dynamodb
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(&p["KeySchema"])?));
        for a in p["AttributeDefinitions"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(s(&a["AttributeName"]))
                    .attribute_type(ScalarAttributeType::from(s(&a["AttributeType"]).as_str()))
                    .build()?,
            );
        }
        for g in p["GlobalSecondaryIndexes"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let projection = g["Projection"]["ProjectionType"].as_str().unwrap_or("ALL");
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(s(&g["IndexName"]))
                    .set_key_schema(Some(key_schema(&g["KeySchema"])?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(projection))
                            .build(),
                    )
                    .build()?,
            );
        }
        let view = &p["StreamSpecification"]["StreamViewType"];
        if !view.is_null() {
            req = req.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(s(view).as_str()))
                    .build()?,
            );
        }
        let described = req.send().await?.table_description;
        if let Some(arn) = described.and_then(|t| t.latest_stream_arn) {
            created.streams.insert(id.clone(), arn);
        }
        let ttl = &p["TimeToLiveSpecification"];
        if ttl["Enabled"].as_bool() == Some(true) {
            clients
                .dynamodb
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(s(&ttl["AttributeName"]))
                        .enabled(true)
                        .build()?,
                )
                .send()
                .await?;
        }
        created.tables.insert(id, name);
    }

    for (id, res) in template.resources_of("AWS::S3::Bucket") {
        let p = &res["Properties"];
        let name = format!("{prefix}-{id}").to_lowercase();
        clients.s3.create_bucket().bucket(&name).send().await?;
        if p["PublicAccessBlockConfiguration"].is_mapping() {
            let b = &p["PublicAccessBlockConfiguration"];
            let flag = |k: &str| b[k].as_bool().unwrap_or(false);
            clients
                .s3
                .put_public_access_block()
                .bucket(&name)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(flag("BlockPublicAcls"))
                        .block_public_policy(flag("BlockPublicPolicy"))
                        .ignore_public_acls(flag("IgnorePublicAcls"))
                        .restrict_public_buckets(flag("RestrictPublicBuckets"))
                        .build(),
                )
                .send()
                .await?;
        }
        if p["BucketEncryption"].is_mapping() {
            clients
                .s3
                .put_bucket_encryption()
                .bucket(&name)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(
                            ServerSideEncryptionRule::builder()
                                .apply_server_side_encryption_by_default(
                                    ServerSideEncryptionByDefault::builder()
                                        .sse_algorithm(ServerSideEncryption::Aes256)
                                        .build()?,
                                )
                                .build(),
                        )
                        .build()?,
                )
                .send()
                .await?;
        }
        created.buckets.insert(id, name);
    }

    // Queues without a redrive policy first: a dead-letter queue must exist before its source.
    let mut queues = template.resources_of("AWS::SQS::Queue");
    queues.sort_by_key(|(_, q)| !q["Properties"]["RedrivePolicy"].is_null());
    for (id, res) in queues {
        let p = &res["Properties"];
        let fifo = p["FifoQueue"].as_bool() == Some(true);
        // As CloudFormation names them: a FIFO queue's name ends in `.fifo`.
        let name = if fifo {
            format!("{prefix}-{id}.fifo")
        } else {
            format!("{prefix}-{id}")
        };
        let mut req = clients.sqs.create_queue().queue_name(&name);
        if fifo {
            req = req.attributes(QueueAttributeName::FifoQueue, "true");
        }
        for (attr, key) in [
            (QueueAttributeName::VisibilityTimeout, "VisibilityTimeout"),
            (
                QueueAttributeName::MessageRetentionPeriod,
                "MessageRetentionPeriod",
            ),
        ] {
            if !p[key].is_null() {
                req = req.attributes(attr, s(&p[key]));
            }
        }
        let redrive = &p["RedrivePolicy"];
        if redrive.is_mapping() {
            let target = resolve(&redrive["deadLetterTargetArn"], &created)?;
            let policy = serde_json::json!({
                "deadLetterTargetArn": target,
                "maxReceiveCount": s(&redrive["maxReceiveCount"]),
            });
            req = req.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
        }
        let url = req
            .send()
            .await?
            .queue_url
            .ok_or("emulator returned no queue URL")?;
        created.queues.insert(id, (url, name));
    }

    for (id, _) in template.resources_of("AWS::Events::EventBus") {
        let name = format!("{prefix}-{id}");
        clients.events.create_event_bus().name(&name).send().await?;
        created.buses.insert(id, name);
    }
    Ok(created)
}

/// The functions' environment: template Globals resolved against what was created.
pub fn environment(
    template: &Template,
    created: &Created,
) -> Result<HashMap<String, String>, Error> {
    let r = crate::template::WithConditions {
        template,
        inner: created,
    };
    template
        .global_environment()
        .into_iter()
        .map(|(k, v)| Ok((k, resolve(&v, &r)?)))
        .collect()
}
