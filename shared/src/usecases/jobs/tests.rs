//! The job lifecycle and the worker's attempts, against the in-memory adapters.

mod lifecycle {
    use crate::adapters::memory::{MemoryEvents, user_with_credits};
    use crate::app::in_memory;
    use crate::domain::jobs::{Job, JobOperation, JobStatus, WebhookEvent};
    use crate::ports::{Accounts, Holds, Jobs, QueueName};
    use crate::usecases::billing::charges::{GENERATION, HOLD_SECONDS, hold_for};
    use crate::usecases::billing::sweep::sweep;
    use crate::usecases::jobs::*;

    const NOW: i64 = 1_800_000_000;

    /// A queued job of `user` charged 2 credits, as a submission leaves it.
    async fn queued(store: &crate::adapters::memory::MemoryStore, user: &str) -> Job {
        let id = crate::domain::new_id(JOB_PREFIX);
        let hold = hold_for(&id, user, 2, 1, NOW, None);
        assert_eq!(
            store
                .open_charge(&hold, 10, GENERATION, u64::MAX)
                .await
                .unwrap(),
            crate::domain::billing::Opened::Taken
        );
        let job = Job {
            id,
            user_id: user.into(),
            status: JobStatus::Queued,
            progress: 0,
            operation: JobOperation::Generation,
            model: "local-procedural".into(),
            created_at: NOW,
            started_at: None,
            completed_at: None,
            result: None,
            failure: None,
            request: "{}".into(),
            attempt: 0,
            lease_until: 0,
            cancel_requested: false,
            webhook: None,
            webhook_events: Vec::new(),
            credits: 2,
        };
        store
            .create_job(&job, NOW + JOB_HOLD_SECONDS, None)
            .await
            .unwrap();
        job
    }

    async fn available(store: &crate::adapters::memory::MemoryStore, user: &str) -> i64 {
        store.user(user).await.unwrap().unwrap().credits.available
    }

    #[tokio::test]
    async fn a_job_left_queued_is_failed_and_refunded_only_once_no_delivery_can_come() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 10).await;
        let job = queued(&d.store, &user).await;
        assert_eq!(available(&d.store, &user).await, 8);
        let budget = std::time::Duration::from_secs(5);

        // Far past a synchronous request's hold, but within the queue's retention: untouched.
        let early = NOW + HOLD_SECONDS + 3600;
        sweep(&d.store, &d.blobs, early, budget).await.unwrap();
        let still = d.store.job(&user, &job.id).await.unwrap().unwrap();
        assert_eq!(still.status, JobStatus::Queued);
        assert_eq!(available(&d.store, &user).await, 8);

        let report = sweep(&d.store, &d.blobs, NOW + JOB_HOLD_SECONDS, budget)
            .await
            .unwrap();
        assert_eq!((report.abandoned, report.credits_returned), (1, 2));
        let expired: Vec<&str> = report.expired_jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(expired, [job.id.as_str()], "handed over to be announced");
        let failed = d.store.job(&user, &job.id).await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        let failure = failed.failure.unwrap();
        assert_eq!(failure.status, 504);
        assert_eq!(failure.error["code"], "provider_timeout");
        assert_eq!(available(&d.store, &user).await, 10);
        assert!(d.store.hold(&job.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn cancel_of_a_queued_job_refunds_once_and_a_finished_one_is_a_conflict() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 10).await;
        let job = queued(&d.store, &user).await;
        let canceled = cancel(&d, &user, &job.id).await.unwrap();
        assert_eq!(canceled.status, JobStatus::Canceled);
        assert_eq!(available(&d.store, &user).await, 10);
        let again = cancel(&d, &user, &job.id).await.unwrap_err();
        assert_eq!(again.status(), http::StatusCode::CONFLICT);
        assert_eq!(available(&d.store, &user).await, 10);
        let missing = cancel(&d, "someone_else", &job.id).await.unwrap_err();
        assert_eq!(missing.status(), http::StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_job_webhook_is_queued_with_an_id_that_names_the_job_and_the_event() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 10).await;
        let mut job = queued(&d.store, &user).await;
        job.webhook = Some("https://example.com/hook".into());
        job.webhook_events = vec![WebhookEvent::Completed];
        job.status = JobStatus::Processing;
        announce(&d, &job).await.unwrap();
        assert!(
            d.queues.take(QueueName::Webhooks).is_empty(),
            "started was not asked for"
        );
        job.status = JobStatus::Failed;
        announce(&d, &job).await.unwrap();
        announce(&d, &job).await.unwrap();
        let sent = d.queues.take(QueueName::Webhooks);
        let ids: Vec<String> = sent
            .iter()
            .map(|s| serde_json::from_str::<serde_json::Value>(s).unwrap()["id"].to_string())
            .collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0], ids[1], "the same id each time it is sent");
        assert!(ids[0].contains(&job.id) && ids[0].contains("completed"));
    }

    #[tokio::test]
    async fn each_status_publishes_its_event_with_the_jobs_owner_and_a_stable_id() {
        let mut d = in_memory();
        let events = MemoryEvents::default();
        d.events = std::sync::Arc::new(events.clone());
        let user = user_with_credits(&d.store, 10).await;
        let mut job = queued(&d.store, &user).await;
        announce(&d, &job).await.unwrap();
        job.status = JobStatus::Processing;
        announce(&d, &job).await.unwrap();
        job.status = JobStatus::Succeeded;
        announce(&d, &job).await.unwrap();
        let published = events.take();
        let kinds: Vec<&str> = published.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(kinds, ["Job Queued", "Job Started", "Job Succeeded"]);
        for (_, detail) in &published {
            assert_eq!(detail["id"], job.id.as_str());
            assert_eq!(detail["user_id"], user.as_str());
        }
        let ids: Vec<&str> = published
            .iter()
            .map(|(_, d)| d["event_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids[2],
            format!("evt_{}_succeeded", job.id),
            "derived from the change"
        );
        // The same transition announced again carries the same id.
        announce(&d, &job).await.unwrap();
        assert_eq!(events.take()[0].1["event_id"], ids[2]);
    }
}

mod runs {
    use crate::adapters::memory::{MemoryStore, user_with_credits};
    use crate::app::in_memory;
    use crate::domain::accounts::{Credential, Principal};
    use crate::domain::billing::KeyClaim;
    use crate::domain::generation::CreateImageRequest;
    use crate::domain::jobs::{Job, JobEnd, JobOperation, JobStatus};
    use crate::domain::now_epoch;
    use crate::messages::JobMessage;
    use crate::ports::{Accounts, Holds, Idempotency, Jobs, QueueName};
    use crate::usecases::jobs::*;

    #[test]
    fn a_vendor_calls_progress_climbs_to_its_ceiling_and_stays() {
        let p = std::sync::atomic::AtomicU8::new(10);
        let seen: Vec<u8> = (0..100).map(|_| step(&p, 5, 75)).collect();
        assert_eq!(seen[..3], [15, 20, 25]);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "never goes back");
        assert_eq!(*seen.last().unwrap(), 75);
    }

    fn who(user_id: &str) -> Principal {
        Principal {
            user_id: user_id.into(),
            role: crate::domain::accounts::Role::User,
            credential: Credential::ApiKey {
                key_id: "key_test".into(),
                policy: Default::default(),
                version: 0,
            },
        }
    }

    async fn available(store: &MemoryStore, user: &str) -> i64 {
        store.user(user).await.unwrap().unwrap().credits.available
    }

    async fn submitted(
        d: &crate::usecases::Deps<MemoryStore, crate::adapters::memory::MemoryBlobs>,
        user: &str,
    ) -> Job {
        let fields = CreateImageRequest {
            prompt: "a lighthouse".into(),
            size: Some("256x256".into()),
            n: Some(2),
            ..Default::default()
        };
        let plan = fields
            .clone()
            .plan(d.providers.default_model(), |_| true)
            .unwrap();
        let claim = KeyClaim {
            key: "k".into(),
            token: "t".into(),
        };
        d.store
            .claim(user, &claim, "hash", now_epoch())
            .await
            .unwrap();
        let sub = Submission {
            operation: JobOperation::Generation,
            fields,
            work: Work::Images(plan),
            images: Vec::new(),
            mask: None,
        };
        submit(d, &who(user), sub, Some(claim)).await.unwrap()
    }

    #[tokio::test]
    async fn a_job_outlives_a_requests_hold_and_its_key_answers_with_it() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 10).await;
        let job = submitted(&d, &user).await;
        assert_eq!(available(&d.store, &user).await, 8);
        let hold = d.store.hold(&job.id).await.unwrap().unwrap();
        assert!(hold.due_at >= job.created_at + JOB_HOLD_SECONDS);
        assert_eq!(hold.idempotency, None, "the key answers with the job now");
        let sent = d.queues.take(QueueName::Jobs);
        let message: JobMessage = serde_json::from_str(&sent[0]).unwrap();
        assert_eq!(message.job_id, job.id);
    }

    #[tokio::test]
    async fn a_job_ended_by_a_process_that_died_before_giving_back_is_given_back_on_delivery() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 10).await;
        let job = submitted(&d, &user).await;
        // Failed, and then that process died: nothing given back yet.
        let end = JobEnd {
            status: JobStatus::Failed,
            failure: None,
            completed_at: now_epoch(),
        };
        assert!(
            d.store
                .end_job(&user, &job.id, JobStatus::Queued, None, &end)
                .await
                .unwrap()
        );
        assert_eq!(available(&d.store, &user).await, 8);
        let message = JobMessage {
            job_id: job.id.clone(),
            user_id: user.clone(),
        };
        assert_eq!(run(&d, &message, now_epoch()).await.unwrap(), Ran::Done);
        assert_eq!(available(&d.store, &user).await, 10);
        assert!(d.store.hold(&job.id).await.unwrap().is_none());
        // Once: another delivery finds nothing left to give.
        assert_eq!(run(&d, &message, now_epoch()).await.unwrap(), Ran::Done);
        assert_eq!(available(&d.store, &user).await, 10);
    }
}
