//! Jobs in memory, with the DynamoDB adapter's conditions.

use super::*;

fn key(user_id: &str, id: &str) -> (String, String) {
    (user_id.to_string(), id.to_string())
}

impl Jobs for MemoryStore {
    async fn create_job(
        &self,
        job: &Job,
        hold_due_at: i64,
        answer: Option<&(KeyClaim, String)>,
    ) -> Result<(), ApiError> {
        let mut st = self.state();
        let k = key(&job.user_id, &job.id);
        let hold_pending = st
            .holds
            .get(&job.id)
            .is_some_and(|h| h.state == HoldState::Pending);
        let claim_ok = answer.is_none_or(|(claim, _)| {
            st.idempotency
                .get(&(job.user_id.clone(), claim.key.clone()))
                .is_some_and(|i| i.pending && i.token == claim.token)
        });
        if st.jobs.contains_key(&k) || !claim_ok || !hold_pending {
            return Err(ApiError::internal("creating a job was cancelled"));
        }
        if let Some(h) = st.holds.get_mut(&job.id) {
            h.due_at = hold_due_at;
            h.idempotency = None;
        }
        if let Some((claim, answer)) = answer
            && let Some(i) = st
                .idempotency
                .get_mut(&(job.user_id.clone(), claim.key.clone()))
        {
            i.pending = false;
            i.response = Some(answer.clone());
        }
        st.jobs.insert(k, job.clone());
        Ok(())
    }

    async fn job(&self, user_id: &str, id: &str) -> Result<Option<Job>, ApiError> {
        Ok(self.state().jobs.get(&key(user_id, id)).cloned())
    }

    async fn list_jobs(
        &self,
        user_id: &str,
        filter: JobFilter,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<Job>, Option<String>), ApiError> {
        let st = self.state();
        let mut mine: Vec<&Job> = st
            .jobs
            .range(key(user_id, "")..)
            .take_while(|((u, _), _)| u == user_id)
            .map(|(_, j)| j)
            .collect();
        if !filter.oldest_first {
            mine.reverse();
        }
        let mut jobs: Vec<Job> = mine
            .into_iter()
            .filter(|j| {
                after.is_none_or(|a| {
                    if filter.oldest_first {
                        j.id.as_str() > a
                    } else {
                        j.id.as_str() < a
                    }
                })
            })
            .filter(|j| filter.admits(j))
            .take(limit + 1)
            .cloned()
            .collect();
        if jobs.len() > limit {
            jobs.truncate(limit);
            let next = jobs.last().map(|j| j.id.clone());
            return Ok((jobs, next));
        }
        Ok((jobs, None))
    }

    async fn lease_job(
        &self,
        user_id: &str,
        id: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Lease, ApiError> {
        let mut st = self.state();
        let Some(j) = st.jobs.get_mut(&key(user_id, id)) else {
            return Ok(Lease::Missing);
        };
        let free = j.status == JobStatus::Queued
            || (j.status == JobStatus::Processing && j.lease_until < now);
        if !free {
            return Ok(if j.status.is_terminal() {
                Lease::Finished(j.clone())
            } else {
                Lease::Busy {
                    lease_until: j.lease_until,
                }
            });
        }
        j.status = JobStatus::Processing;
        j.lease_until = lease_until;
        j.started_at.get_or_insert(now);
        j.attempt += 1;
        Ok(Lease::Taken(j.clone()))
    }

    async fn checkpoint_job(
        &self,
        user_id: &str,
        id: &str,
        attempt: u32,
        progress: u8,
    ) -> Result<Checkpoint, ApiError> {
        let mut st = self.state();
        match st.jobs.get_mut(&key(user_id, id)) {
            Some(j) if j.status == JobStatus::Processing && j.attempt == attempt => {
                j.progress = progress;
                Ok(if j.cancel_requested {
                    Checkpoint::CancelRequested
                } else {
                    Checkpoint::Continue
                })
            }
            _ => Ok(Checkpoint::Lost),
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
        let mut st = self.state();
        match st.jobs.get_mut(&key(user_id, id)) {
            Some(j) if j.status == from && attempt.is_none_or(|a| a == j.attempt) => {
                j.status = end.status;
                j.completed_at = Some(end.completed_at);
                if end.failure.is_some() {
                    j.failure = end.failure.clone();
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn request_cancel(
        &self,
        user_id: &str,
        id: &str,
        now: i64,
    ) -> Result<CancelOutcome, ApiError> {
        let mut st = self.state();
        let Some(j) = st.jobs.get_mut(&key(user_id, id)) else {
            return Ok(CancelOutcome::Missing);
        };
        Ok(match j.status {
            JobStatus::Queued => {
                j.status = JobStatus::Canceled;
                j.completed_at = Some(now);
                CancelOutcome::Canceled(j.clone())
            }
            JobStatus::Processing => {
                j.cancel_requested = true;
                CancelOutcome::Requested(j.clone())
            }
            _ => CancelOutcome::Finished(j.clone()),
        })
    }

    async fn delete_job(&self, user_id: &str, id: &str) -> Result<bool, ApiError> {
        let mut st = self.state();
        let k = key(user_id, id);
        if st.jobs.get(&k).is_some_and(|j| j.status.is_terminal()) {
            st.jobs.remove(&k);
            return Ok(true);
        }
        Ok(false)
    }
}
