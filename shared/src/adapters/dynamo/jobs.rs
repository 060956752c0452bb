//! Jobs: one item per job in its user's partition. Each transition is one conditional update.

use super::*;
use crate::domain::billing::JobCompletion;
use crate::domain::jobs::{
    CancelOutcome, Checkpoint, Job, JobEnd, JobFailure, JobFilter, JobOperation, JobStatus, Lease,
    WebhookEvent,
};

/// Jobs are kept for this long after they are made (then the TTL removes them).
const JOB_RETENTION: i64 = 30 * DAY;

fn job_item(j: &Job) -> Item {
    let mut it = item(
        keys::job(&j.user_id, &j.id),
        [
            ("entity", s("job")),
            ("id", s(&j.id)),
            ("user_id", s(&j.user_id)),
            ("status", s(j.status.as_str())),
            ("progress", n(j.progress as i64)),
            ("operation", s(j.operation.as_str())),
            ("model", s(&j.model)),
            ("created_at", n(j.created_at)),
            ("request", s(&j.request)),
            ("attempt", n(j.attempt as i64)),
            ("lease_until", n(j.lease_until)),
            ("credits", n(j.credits)),
        ],
    );
    // A video is reached through its job (GET /v1/videos/{id}): it stays as long as its asset,
    // until DELETE /v1/videos/{id}. Other jobs go after a while.
    if j.operation != JobOperation::Video {
        it.insert("expires_at".into(), n(j.created_at + JOB_RETENTION));
    }
    if let Some(url) = &j.webhook {
        it.insert("webhook".into(), s(url));
        let events: Vec<&str> = j.webhook_events.iter().map(|e| e.as_str()).collect();
        it.insert("webhook_events".into(), s(events.join(",")));
    }
    it
}

pub(super) fn job_from(it: &Item) -> Result<Job, ApiError> {
    let failure = opt_s(it, "failure")
        .map(|f| serde_json::from_str::<JobFailure>(&f).map_err(|_| corrupt("failure")))
        .transpose()?;
    Ok(Job {
        id: get_s(it, "id")?,
        user_id: get_s(it, "user_id")?,
        status: JobStatus::parse(&get_s(it, "status")?).ok_or_else(|| corrupt("status"))?,
        progress: get_n(it, "progress")?.clamp(0, 100) as u8,
        operation: JobOperation::parse(&get_s(it, "operation")?)
            .ok_or_else(|| corrupt("operation"))?,
        model: get_s(it, "model")?,
        created_at: get_n(it, "created_at")?,
        started_at: opt_n(it, "started_at"),
        completed_at: opt_n(it, "completed_at"),
        result: opt_s(it, "result"),
        failure,
        request: get_s(it, "request")?,
        attempt: get_n(it, "attempt")? as u32,
        lease_until: get_n(it, "lease_until")?,
        cancel_requested: get_bool(it, "cancel_requested"),
        webhook: opt_s(it, "webhook"),
        webhook_events: opt_s(it, "webhook_events")
            .unwrap_or_default()
            .split(',')
            .filter_map(WebhookEvent::parse)
            .collect(),
        // Jobs written before charges were recorded on them show none.
        credits: opt_n(it, "credits").unwrap_or(0),
    })
}

/// Succeeds the job in a settlement's transaction: only the attempt that holds it, and only if
/// no cancel was asked for.
pub(super) fn complete_job(table: &str, user_id: &str, c: &JobCompletion) -> Update {
    Update::builder()
        .table_name(table)
        .set_key(Some(keys::job(user_id, &c.id)))
        .update_expression(
            "SET #status = :succeeded, progress = :full, #result = :r, completed_at = :at",
        )
        .condition_expression(
            "#status = :processing AND attempt = :attempt AND NOT (cancel_requested = :yes)",
        )
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#result", "result")
        .expression_attribute_values(":succeeded", s(JobStatus::Succeeded.as_str()))
        .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
        .expression_attribute_values(":full", n(100))
        .expression_attribute_values(":r", s(&c.result))
        .expression_attribute_values(":at", n(c.completed_at))
        .expression_attribute_values(":attempt", n(c.attempt as i64))
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .build()
        .expect("update fields set")
}

impl Jobs for DynamoStore {
    async fn create_job(
        &self,
        job: &Job,
        hold_due_at: i64,
        answer: Option<&(KeyClaim, String)>,
    ) -> Result<(), ApiError> {
        let hold = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::hold(&job.id)))
            .update_expression(
                "SET due_at = :due, gsi1sk = :sk, expires_at = :expires \
                 REMOVE idempotency_key, idempotency_claim",
            )
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(HoldState::Pending.as_str()))
            .expression_attribute_values(":due", n(hold_due_at))
            .expression_attribute_values(":sk", s(keys::hold_due(hold_due_at, &job.id)))
            .expression_attribute_values(":expires", n(hold_due_at + HOLD_RETENTION))
            .build()
            .expect("update fields set");
        let mut items = vec![
            put_new(&self.table, job_item(job)),
            TransactWriteItem::builder().update(hold).build(),
        ];
        if let Some((claim, answer)) = answer {
            items.push(
                TransactWriteItem::builder()
                    .update(record_answer(&self.table, &job.user_id, claim, answer))
                    .build(),
            );
        }
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(reasons) => Err(ApiError::internal(format!(
                "creating a job was cancelled: {reasons:?}"
            ))),
        }
    }

    async fn job(&self, user_id: &str, id: &str) -> Result<Option<Job>, ApiError> {
        self.get(keys::job(user_id, id))
            .await?
            .map(|it| job_from(&it))
            .transpose()
    }

    async fn list_jobs(
        &self,
        user_id: &str,
        filter: JobFilter,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<Job>, Option<String>), ApiError> {
        let mut jobs = Vec::with_capacity(limit);
        let mut start = after.map(|id| keys::job(user_id, id));
        // A filter applies after a page is read: read on until the page is full or the end.
        loop {
            let mut query = self
                .user_items(user_id, keys::JOB_PREFIX)
                .await
                .scan_index_forward(filter.oldest_first)
                // A filter drops items after they are read: read pages of a few hundred then,
                // not `limit`, or a rare kind (videos among thousands of image jobs) takes
                // hundreds of round trips. The cursor is the last job kept, so reading more
                // than is kept loses nothing.
                .limit(if filter.status.is_some() || filter.operation.is_some() {
                    (limit + 1).max(300) as i32
                } else {
                    (limit - jobs.len() + 1) as i32
                })
                .set_exclusive_start_key(start.take());
            let mut conditions = Vec::new();
            if let Some(status) = filter.status {
                conditions.push("#status = :status");
                query = query
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", s(status.as_str()));
            }
            if let Some(operation) = filter.operation {
                conditions.push("#operation = :operation");
                query = query
                    .expression_attribute_names("#operation", "operation")
                    .expression_attribute_values(":operation", s(operation.as_str()));
            }
            if !conditions.is_empty() {
                query = query.filter_expression(conditions.join(" AND "));
            }
            let out = query.send().await.map_err(sdk_error)?;
            for it in out.items.unwrap_or_default() {
                jobs.push(job_from(&it)?);
            }
            if jobs.len() > limit {
                jobs.truncate(limit);
                let next = jobs.last().map(|j| j.id.clone());
                return Ok((jobs, next));
            }
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok((jobs, None)),
            }
        }
    }

    async fn lease_job(
        &self,
        user_id: &str,
        id: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Lease, ApiError> {
        let result = self
            .update_item(keys::job(user_id, id))
            .await
            .update_expression(
                "SET #status = :processing, lease_until = :until, \
                 started_at = if_not_exists(started_at, :now) ADD attempt :one",
            )
            .condition_expression(
                "#status = :queued OR (#status = :processing AND lease_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":until", n(lease_until))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => job_from(&out.attributes.unwrap_or_default()).map(Lease::Taken),
            Err(e) if is_conditional_failure(&e) => Ok(match self.job(user_id, id).await? {
                None => Lease::Missing,
                Some(j) if j.status.is_terminal() => Lease::Finished(j),
                Some(j) => Lease::Busy {
                    lease_until: j.lease_until,
                },
            }),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn checkpoint_job(
        &self,
        user_id: &str,
        id: &str,
        attempt: u32,
        progress: u8,
    ) -> Result<Checkpoint, ApiError> {
        let result = self
            .update_item(keys::job(user_id, id))
            .await
            .update_expression("SET progress = :p")
            .condition_expression("#status = :processing AND attempt = :attempt")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
            .expression_attribute_values(":attempt", n(attempt as i64))
            .expression_attribute_values(":p", n(progress as i64))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out)
                if out
                    .attributes()
                    .is_some_and(|a| get_bool(a, "cancel_requested")) =>
            {
                Ok(Checkpoint::CancelRequested)
            }
            Ok(_) => Ok(Checkpoint::Continue),
            Err(e) if is_conditional_failure(&e) => Ok(Checkpoint::Lost),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn end_job(
        &self,
        user_id: &str,
        id: &str,
        from: JobStatus,
        attempt: Option<u32>,
        end: &JobEnd,
    ) -> Result<bool, ApiError> {
        // A video job has no expiry while it may become a video; one that ended without one
        // goes after the retention like any job (others keep the expiry they were made with).
        let expression = if end.failure.is_some() {
            "SET #status = :end, completed_at = :at, failure = :f, \
             expires_at = if_not_exists(expires_at, :expires)"
        } else {
            "SET #status = :end, completed_at = :at, expires_at = if_not_exists(expires_at, :expires)"
        };
        let mut update = self
            .update_item(keys::job(user_id, id))
            .await
            .update_expression(expression)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":end", s(end.status.as_str()))
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":at", n(end.completed_at))
            .expression_attribute_values(":expires", n(end.completed_at + JOB_RETENTION));
        update = match attempt {
            Some(a) => update
                .condition_expression("#status = :from AND attempt = :attempt")
                .expression_attribute_values(":attempt", n(a as i64)),
            None => update.condition_expression("#status = :from"),
        };
        if let Some(f) = &end.failure {
            update = update.expression_attribute_values(
                ":f",
                s(serde_json::to_string(f).map_err(ApiError::internal)?),
            );
        }
        applied(update.send().await)
    }

    async fn request_cancel(
        &self,
        user_id: &str,
        id: &str,
        now: i64,
    ) -> Result<CancelOutcome, ApiError> {
        let end = JobEnd {
            status: JobStatus::Canceled,
            failure: None,
            completed_at: now,
        };
        if self
            .end_job(user_id, id, JobStatus::Queued, None, &end)
            .await?
        {
            return Ok(match self.job(user_id, id).await? {
                Some(j) => CancelOutcome::Canceled(j),
                None => CancelOutcome::Missing,
            });
        }
        let result = self
            .update_item(keys::job(user_id, id))
            .await
            .update_expression("SET cancel_requested = :yes")
            .condition_expression("#status = :processing")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => job_from(&out.attributes.unwrap_or_default()).map(CancelOutcome::Requested),
            Err(e) if is_conditional_failure(&e) => Ok(match self.job(user_id, id).await? {
                None => CancelOutcome::Missing,
                // Queued again cannot happen: a job never goes back to the queue.
                Some(j) => CancelOutcome::Finished(j),
            }),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn delete_job(&self, user_id: &str, id: &str) -> Result<bool, ApiError> {
        let result = self
            .delete_item(keys::job(user_id, id))
            .await
            .condition_expression("#status IN (:succeeded, :failed, :canceled)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":succeeded", s(JobStatus::Succeeded.as_str()))
            .expression_attribute_values(":failed", s(JobStatus::Failed.as_str()))
            .expression_attribute_values(":canceled", s(JobStatus::Canceled.as_str()))
            .send()
            .await;
        applied(result)
    }
}
