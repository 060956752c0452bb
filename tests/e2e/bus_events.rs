//! Events for other systems: a rule on the stack's EventBridge bus, as a subscriber would write
//! it, forwards to an SQS queue what the API announces.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A queue receiving every `imageapi` event of the bus through a rule.
pub(crate) async fn subscriber(t: &TestStack) -> String {
    let c = &t.stack.clients;
    let bus = t.stack.created.buses["EventBus"].clone();
    let name = unique("subscriber");
    let url = c
        .sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = format!(
        "arn:aws:sqs:{}:{}:{name}",
        t.stack.created.region, t.stack.created.account
    );
    c.events
        .put_rule()
        .name(&name)
        .event_bus_name(&bus)
        .event_pattern(json!({"source": ["imageapi"]}).to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(arn)
        .build()
        .unwrap();
    c.events
        .put_targets()
        .rule(&name)
        .event_bus_name(&bus)
        .targets(target)
        .send()
        .await
        .unwrap();
    url
}

/// Every event on the subscriber's queue so far.
pub(crate) async fn received(t: &TestStack, queue: &str, at_least: usize) -> Vec<Value> {
    let mut events = Vec::new();
    for _ in 0..30 {
        let out = t
            .stack
            .clients
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            events.push(serde_json::from_str(m.body().unwrap()).unwrap());
        }
        if events.len() >= at_least {
            break;
        }
    }
    events
}

#[tokio::test]
async fn new_and_deleted_assets_are_announced_on_the_bus() {
    let t = start().await;
    let queue = subscriber(&t).await;
    let (_, s) = t.new_user().await;
    let user_id = t.user_id(&s.access).await;
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a harbour", "n": 2, "size": "256x256"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ids: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    let deleted = t
        .delete(&format!("/v1/images/{}", ids[0]), Some(&s.access))
        .await;
    assert_eq!(deleted.status, StatusCode::OK);

    let events = received(&t, &queue, 3).await;
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["detail-type"].as_str().unwrap(),
                e["detail"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen.len(), 3, "{events:?}");
    for id in &ids {
        assert!(seen.contains(&("Image Created", id)), "{seen:?}");
    }
    assert!(seen.contains(&("Image Deleted", ids[0])), "{seen:?}");
    for e in &events {
        assert_eq!(e["source"], "imageapi");
        assert_eq!(e["detail"]["user_id"], user_id.as_str());
        assert_eq!(e["detail"]["size"], "256x256");
        assert_eq!(e["detail"]["prompt"], "a harbour");
        let text = e.to_string();
        assert!(
            !text.contains("X-Amz-Signature"),
            "no URLs in events: {text}"
        );
    }
}
