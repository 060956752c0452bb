//! Assets, lineages and uploads, in memory.

use super::*;

impl Images for MemoryStore {
    // Long: it mirrors, step by step, the conditions of the DynamoDB transaction it stands for.
    async fn put_images(
        &self,
        records: &[ImageRecord],
        settles: Option<&Settlement>,
        storage_quota: u64,
    ) -> WriteOutcome {
        let mut st = self.state();
        let fault = st.faults.pop_front();
        let lost = || ApiError::internal("the answer of the write was lost");
        match fault {
            Some(PutFault::Refuse) => {
                return WriteOutcome::NotWritten(ApiError::internal("refused (injected)"));
            }
            Some(PutFault::Unknown) => return WriteOutcome::Unknown(lost()),
            Some(PutFault::LoseAnswer) | None => {}
        }
        // Every condition first, as one transaction: all or nothing.
        let taken = records.iter().any(|r| {
            st.images.contains_key(&(r.user_id.clone(), r.id.clone()))
                || st
                    .versions
                    .get(&(r.user_id.clone(), r.root_id.clone()))
                    .is_some_and(|v| v.contains_key(&r.version))
        });
        if taken {
            return WriteOutcome::NotWritten(ApiError::Conflict {
                message: "another version of this image was made at the same moment; retry".into(),
                param: None,
            });
        }
        let adding: u64 = records.iter().map(|r| r.bytes).sum();
        let owner = records
            .first()
            .map(|r| r.user_id.clone())
            .unwrap_or_default();
        let used = st
            .users
            .get(&owner)
            .and_then(|p| p.user.as_ref())
            .map_or(0, |u| u.storage_bytes);
        if adding > 0 && used + adding > storage_quota {
            return WriteOutcome::NotWritten(ApiError::storage_full(used, storage_quota, adding));
        }
        if let Some(s) = settles {
            let pending = st
                .holds
                .get(&s.hold.id)
                .is_some_and(|h| h.state == HoldState::Pending);
            let claim_ok = s.answer.as_ref().is_none_or(|(claim, _)| {
                st.idempotency
                    .get(&(s.hold.user_id.clone(), claim.key.clone()))
                    .is_some_and(|i| i.pending && i.token == claim.token)
            });
            let upload_ok = s.completes_upload.as_ref().is_none_or(|u| {
                st.uploads
                    .get(&(s.hold.user_id.clone(), u.clone()))
                    .is_some_and(|u| u.asset_id.is_none())
            });
            let job_ok = s.completes_job.as_ref().is_none_or(|c| {
                st.jobs
                    .get(&(s.hold.user_id.clone(), c.id.clone()))
                    .is_some_and(|j| {
                        j.status == JobStatus::Processing
                            && j.attempt == c.attempt
                            && !j.cancel_requested
                    })
            });
            if !(pending && claim_ok && upload_ok && job_ok) {
                return WriteOutcome::NotWritten(ApiError::internal(
                    "image metadata write cancelled",
                ));
            }
            // Closed, and what it took is final.
            st.holds.remove(&s.hold.id);
            if s.hold.amount > 0 || s.hold.images > 0 {
                let today = crate::domain::now_epoch().div_euclid(DAY);
                let usage = st.usage.entry(today).or_default();
                usage.day = today;
                usage.generations += 1;
                usage.images += s.hold.images as i64;
                usage.credits += s.hold.amount;
                if let Some(v) = &s.served {
                    for (name, value) in v.counters(i64::from(s.hold.images), s.hold.amount) {
                        usage.add_counter(&name, value);
                    }
                }
            }
            if let Some(p) = st.users.get_mut(&s.hold.user_id) {
                p.open_charges.remove(&s.hold.id);
            }
            let day = s.hold.reserved_at.div_euclid(DAY);
            if let Some((_, open)) = st.quotas.get_mut(&(s.hold.user_id.clone(), day)) {
                open.remove(&s.hold.id);
            }
            if let Some((claim, answer)) = &s.answer
                && let Some(i) = st
                    .idempotency
                    .get_mut(&(s.hold.user_id.clone(), claim.key.clone()))
            {
                i.pending = false;
                i.response = Some(answer.clone());
            }
            if let Some(c) = &s.completes_job
                && let Some(j) = st.jobs.get_mut(&(s.hold.user_id.clone(), c.id.clone()))
            {
                j.status = JobStatus::Succeeded;
                j.progress = 100;
                j.result = Some(c.result.clone());
                j.completed_at = Some(c.completed_at);
            }
            if let (Some(u), Some(first)) = (&s.completes_upload, records.first())
                && let Some(u) = st.uploads.get_mut(&(s.hold.user_id.clone(), u.clone()))
            {
                u.asset_id = Some(first.id.clone());
            }
        }
        for r in records {
            st.images
                .insert((r.user_id.clone(), r.id.clone()), r.clone());
            st.versions
                .entry((r.user_id.clone(), r.root_id.clone()))
                .or_default()
                .insert(
                    r.version,
                    VersionEntry {
                        version: r.version,
                        image_id: r.id.clone(),
                        parent_id: r.parent_id.clone(),
                    },
                );
        }
        if let Some(u) = st.users.get_mut(&owner).and_then(|p| p.user.as_mut()) {
            u.storage_bytes += adding;
        }
        match fault {
            Some(PutFault::LoseAnswer) => WriteOutcome::Unknown(lost()),
            _ => WriteOutcome::Written,
        }
    }

    async fn image(&self, user_id: &str, id: &str) -> Result<Option<ImageRecord>, ApiError> {
        Ok(self
            .state()
            .images
            .get(&(user_id.to_string(), id.to_string()))
            .cloned())
    }

    async fn list_images(
        &self,
        user_id: &str,
        kind: Option<AssetKind>,
        order: SortOrder,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<ImageRecord>, Option<String>), ApiError> {
        let st = self.state();
        let mut all: Vec<ImageRecord> = st
            .images
            .values()
            .filter(|r| r.user_id == user_id && kind.is_none_or(|k| r.kind == k))
            .cloned()
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        if order == SortOrder::NewestFirst {
            all.reverse();
        }
        let start = match after {
            Some(a) => all
                .iter()
                .position(|r| r.id == a)
                .map_or(all.len(), |i| i + 1),
            None => 0,
        };
        let mut page: Vec<ImageRecord> = all.into_iter().skip(start).take(limit + 1).collect();
        let next = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok((page, next))
    }

    async fn delete_images(
        &self,
        user_id: &str,
        images: &[ImageRecord],
        reparent: &[(String, Option<String>)],
    ) -> Result<bool, ApiError> {
        let mut st = self.state();
        let uid = user_id.to_string();
        if images
            .iter()
            .any(|r| !st.images.contains_key(&(uid.clone(), r.id.clone())))
        {
            return Ok(false);
        }
        let freed: u64 = images.iter().map(|r| r.bytes).sum();
        if let Some(u) = st.users.get_mut(&uid).and_then(|p| p.user.as_mut()) {
            u.storage_bytes = u.storage_bytes.saturating_sub(freed);
        }
        for r in images {
            st.images.remove(&(uid.clone(), r.id.clone()));
            if let Some(v) = st.versions.get_mut(&(uid.clone(), r.root_id.clone())) {
                v.remove(&r.version);
            }
        }
        for (child, parent) in reparent {
            if let Some(c) = st.images.get_mut(&(uid.clone(), child.clone())) {
                c.parent_id = parent.clone();
                let (root, version) = (c.root_id.clone(), c.version);
                if let Some(e) = st
                    .versions
                    .get_mut(&(uid.clone(), root))
                    .and_then(|v| v.get_mut(&version))
                {
                    e.parent_id = parent.clone();
                }
            }
        }
        Ok(true)
    }

    async fn versions(&self, user_id: &str, root_id: &str) -> Result<Vec<VersionEntry>, ApiError> {
        Ok(self
            .state()
            .versions
            .get(&(user_id.to_string(), root_id.to_string()))
            .map(|v| v.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn update_image_meta(
        &self,
        user_id: &str,
        id: &str,
        title: Option<Option<String>>,
        tags: Option<Vec<String>>,
    ) -> Result<Option<ImageRecord>, ApiError> {
        let mut st = self.state();
        let Some(r) = st.images.get_mut(&(user_id.to_string(), id.to_string())) else {
            return Ok(None);
        };
        if let Some(t) = title {
            r.title = t;
        }
        if let Some(t) = tags {
            r.tags = t;
        }
        Ok(Some(r.clone()))
    }

    async fn record_variants(
        &self,
        user_id: &str,
        id: &str,
        names: &[String],
    ) -> Result<bool, ApiError> {
        let mut st = self.state();
        let Some(r) = st.images.get_mut(&(user_id.to_string(), id.to_string())) else {
            return Ok(false);
        };
        r.variants = names.to_vec();
        Ok(true)
    }
}

impl Uploads for MemoryStore {
    async fn create_upload(&self, upload: &UploadRecord) -> Result<(), ApiError> {
        self.state()
            .uploads
            .insert((upload.user_id.clone(), upload.id.clone()), upload.clone());
        Ok(())
    }

    async fn upload(&self, user_id: &str, id: &str) -> Result<Option<UploadRecord>, ApiError> {
        Ok(self
            .state()
            .uploads
            .get(&(user_id.to_string(), id.to_string()))
            .cloned())
    }
}
