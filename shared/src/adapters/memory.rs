//! In-memory ports, in the style of serverless-rust-demo's memory store: the same contracts as
//! the DynamoDB and S3 adapters (every conditional write, every "only once"), one lock per
//! store so each operation is as atomic as DynamoDB's. The use-case tests run against it in
//! milliseconds; the end-to-end tests keep the emulator and the real adapters.
//!
//! Faults can be queued for the metadata write of images (`fail_next_put_images`), the one
//! write whose outcome the use cases must judge.

use crate::domain::accounts::{
    Admission, ApiKeyRecord, Live, LoginId, RateWindow, Rotation, SessionRecord, Taken, UserRecord,
};
use crate::domain::assets::{AssetKind, ImageRecord, SortOrder, UploadRecord, VersionEntry};
use crate::domain::billing::{
    Hold, HoldState, IdempotencyClaim, KeyClaim, LedgerEntry, Opened, Settlement, WriteOutcome,
};
use crate::error::ApiError;
use crate::ports::*;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// How the next metadata write of images ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutFault {
    /// Refused before anything is written.
    Refuse,
    /// Written, but the answer is lost (the caller sees an unknown outcome).
    LoseAnswer,
    /// Not written, and the answer is lost too.
    Unknown,
}

#[derive(Default)]
struct Profile {
    user: Option<UserRecord>,
    open_charges: HashSet<String>,
    /// Live API key ids → last use (0: never).
    api_keys: HashMap<String, i64>,
    revoked_sessions: HashSet<String>,
    /// (window start, hits)
    rate: (i64, u32),
}

#[derive(Default)]
struct Idem {
    pending: bool,
    token: String,
    body_hash: String,
    response: Option<String>,
    expires_at: i64,
}

#[derive(Default)]
struct State {
    users: HashMap<String, Profile>,
    logins: HashMap<String, String>,
    referral_codes: HashMap<String, String>,
    sessions: HashMap<String, SessionRecord>,
    /// refresh hash → (session id, used, expires_at)
    refresh: HashMap<String, (String, bool, i64)>,
    keys: HashMap<String, ApiKeyRecord>,
    rates: HashMap<String, u32>,
    images: HashMap<(String, String), ImageRecord>,
    /// (user, root) → version → entry
    versions: HashMap<(String, String), BTreeMap<u32, VersionEntry>>,
    uploads: HashMap<(String, String), UploadRecord>,
    /// user → sort key → entry (newest first is the reverse order, as in DynamoDB)
    ledger: HashMap<String, BTreeMap<String, LedgerEntry>>,
    /// (user, day) → (images, open reservations)
    quotas: HashMap<(String, i64), (u32, HashSet<String>)>,
    holds: HashMap<String, Hold>,
    idempotency: HashMap<(String, String), Idem>,
    faults: VecDeque<PutFault>,
}

#[derive(Default)]
pub struct MemoryStore(Mutex<State>);

impl MemoryStore {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues how the next `put_images` ends.
    pub fn fail_next_put_images(&self, fault: PutFault) {
        self.state().faults.push_back(fault);
    }

    /// Every hold still present (what the sweeper has yet to see).
    pub fn holds(&self) -> Vec<Hold> {
        let mut holds: Vec<Hold> = self.state().holds.values().cloned().collect();
        holds.sort_by(|a, b| a.id.cmp(&b.id));
        holds
    }
}

const DAY: i64 = 86_400;
const IDEMPOTENCY_TTL: i64 = DAY;

fn ledger_line(
    state: &mut State,
    user_id: &str,
    sk: String,
    delta: i64,
    reason: &str,
    reference: &str,
) -> bool {
    let lines = state.ledger.entry(user_id.to_string()).or_default();
    if lines.contains_key(&sk) {
        return false;
    }
    let id = sk.trim_start_matches("LEDGER#").to_string();
    lines.insert(
        sk,
        LedgerEntry {
            id,
            delta,
            reason: reason.into(),
            reference: Some(reference.into()),
            created_at: crate::domain::now_epoch(),
        },
    );
    true
}

impl Accounts for MemoryStore {
    async fn create_user(&self, user: &UserRecord) -> Result<Result<(), Taken>, ApiError> {
        let mut st = self.state();
        let (name, email) = (
            format!("username:{}", user.username.to_lowercase()),
            format!("email:{}", user.email.to_lowercase()),
        );
        if st.logins.contains_key(&name) {
            return Ok(Err(Taken::Username));
        }
        if st.logins.contains_key(&email) {
            return Ok(Err(Taken::Email));
        }
        st.logins.insert(name, user.id.clone());
        st.logins.insert(email, user.id.clone());
        st.referral_codes
            .insert(user.referral_code.clone(), user.id.clone());
        st.users.insert(
            user.id.clone(),
            Profile {
                user: Some(user.clone()),
                ..Profile::default()
            },
        );
        if user.credits.available != 0 {
            let available = user.credits.available;
            ledger_line(
                &mut st,
                &user.id,
                "LEDGER#0signup".into(),
                available,
                "signup",
                &user.id,
            );
        }
        Ok(Ok(()))
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, ApiError> {
        Ok(self.state().users.get(id).and_then(|p| p.user.clone()))
    }

    async fn user_by_login(&self, login: &LoginId) -> Result<Option<UserRecord>, ApiError> {
        let key = match login {
            LoginId::Username(u) => format!("username:{u}"),
            LoginId::Email(e) => format!("email:{e}"),
        };
        let st = self.state();
        Ok(st
            .logins
            .get(&key)
            .and_then(|id| st.users.get(id))
            .and_then(|p| p.user.clone()))
    }

    async fn referrer(&self, code: &str) -> Result<Option<String>, ApiError> {
        Ok(self.state().referral_codes.get(code).cloned())
    }
}

impl Sessions for MemoryStore {
    async fn start_session(
        &self,
        session: &SessionRecord,
        refresh_hash: &str,
        expires_at: i64,
    ) -> Result<(), ApiError> {
        let mut st = self.state();
        st.sessions.insert(session.id.clone(), session.clone());
        st.refresh
            .insert(refresh_hash.into(), (session.id.clone(), false, expires_at));
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, ApiError> {
        Ok(self.state().sessions.get(id).cloned())
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<Rotation, ApiError> {
        let mut st = self.state();
        let Some((sid, used, exp)) = st.refresh.get(old_hash).cloned() else {
            return Ok(Rotation::Invalid);
        };
        if exp <= now {
            return Ok(Rotation::Invalid);
        }
        let Some(session) = st.sessions.get(&sid).cloned() else {
            return Ok(Rotation::Invalid);
        };
        if used {
            if let Some(s) = st.sessions.get_mut(&sid) {
                s.revoked = true;
            }
            return Ok(Rotation::ReuseDetected);
        }
        if session.revoked {
            return Ok(Rotation::Invalid);
        }
        st.refresh.insert(old_hash.into(), (sid.clone(), true, exp));
        st.refresh.insert(new_hash.into(), (sid, false, expires_at));
        Ok(Rotation::Rotated(session))
    }

    async fn refresh_session(&self, hash: &str) -> Result<Option<SessionRecord>, ApiError> {
        let st = self.state();
        Ok(st
            .refresh
            .get(hash)
            .and_then(|(sid, ..)| st.sessions.get(sid).cloned()))
    }

    async fn revoke_session(&self, id: &str) -> Result<(), ApiError> {
        let mut st = self.state();
        let Some(s) = st.sessions.get_mut(id) else {
            return Ok(());
        };
        s.revoked = true;
        let user_id = s.user_id.clone();
        if let Some(p) = st.users.get_mut(&user_id) {
            p.revoked_sessions.insert(id.to_string());
        }
        Ok(())
    }
}

impl ApiKeys for MemoryStore {
    async fn create_key(&self, key: &ApiKeyRecord) -> Result<(), ApiError> {
        let mut st = self.state();
        st.keys.insert(key.hash.clone(), key.clone());
        if let Some(p) = st.users.get_mut(&key.user_id) {
            p.api_keys.insert(key.id.clone(), 0);
        }
        Ok(())
    }

    async fn list_keys(&self, user_id: &str) -> Result<Vec<ApiKeyRecord>, ApiError> {
        let st = self.state();
        let used = st
            .users
            .get(user_id)
            .map(|p| p.api_keys.clone())
            .unwrap_or_default();
        let mut keys: Vec<ApiKeyRecord> = st
            .keys
            .values()
            .filter(|k| k.user_id == user_id)
            .cloned()
            .map(|mut k| {
                k.last_used_at = used.get(&k.id).copied().filter(|t| *t > 0);
                k
            })
            .collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(keys)
    }

    async fn revoke_key(&self, user_id: &str, key_id: &str) -> Result<bool, ApiError> {
        let mut st = self.state();
        let before = st.keys.len();
        st.keys
            .retain(|_, k| !(k.user_id == user_id && k.id == key_id));
        if let Some(p) = st.users.get_mut(user_id) {
            p.api_keys.remove(key_id);
        }
        Ok(st.keys.len() < before)
    }

    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKeyRecord>, ApiError> {
        Ok(self.state().keys.get(hash).cloned())
    }
}

impl RateLimits for MemoryStore {
    async fn admit(
        &self,
        user_id: &str,
        live: Live<'_>,
        limit: u32,
        window_secs: i64,
        now: i64,
    ) -> Result<Admission, ApiError> {
        let start = now - now.rem_euclid(window_secs);
        let window = |used| RateWindow {
            limit,
            used,
            reset_at: start + window_secs,
        };
        let mut st = self.state();
        let Some(p) = st.users.get_mut(user_id) else {
            return Ok(Admission::Revoked);
        };
        let live_now = match live {
            Live::Session(sid) => !p.revoked_sessions.contains(sid),
            Live::ApiKey(kid) => p.api_keys.contains_key(kid),
        };
        if !live_now {
            return Ok(Admission::Revoked);
        }
        if p.rate.0 != start {
            p.rate = (start, 0);
        }
        if p.rate.1 >= limit {
            return Ok(Admission::Limited(window(limit)));
        }
        p.rate.1 += 1;
        if let Live::ApiKey(kid) = live {
            p.api_keys.insert(kid.to_string(), now);
        }
        Ok(Admission::Admitted(window(p.rate.1)))
    }

    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window_secs: i64,
        now: i64,
    ) -> Result<Result<RateWindow, RateWindow>, ApiError> {
        let start = now - now.rem_euclid(window_secs);
        let reset_at = start + window_secs;
        let mut st = self.state();
        let hits = st.rates.entry(format!("{key}#{start}")).or_insert(0);
        if *hits >= limit {
            return Ok(Err(RateWindow {
                limit,
                used: limit,
                reset_at,
            }));
        }
        *hits += 1;
        Ok(Ok(RateWindow {
            limit,
            used: *hits,
            reset_at,
        }))
    }

    async fn hits(&self, key: &str, window_secs: i64, now: i64) -> Result<u32, ApiError> {
        let start = now - now.rem_euclid(window_secs);
        Ok(*self
            .state()
            .rates
            .get(&format!("{key}#{start}"))
            .unwrap_or(&0))
    }
}

impl Images for MemoryStore {
    async fn put_images(
        &self,
        records: &[ImageRecord],
        settles: Option<&Settlement>,
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
            if !(pending && claim_ok && upload_ok) {
                return WriteOutcome::NotWritten(ApiError::internal(
                    "image metadata write cancelled",
                ));
            }
            // Closed, and what it took is final.
            st.holds.remove(&s.hold.id);
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

impl Credits for MemoryStore {
    async fn debit(
        &self,
        user_id: &str,
        amount: i64,
        reason: &str,
        reference: &str,
    ) -> Result<bool, ApiError> {
        let mut st = self.state();
        let Some(p) = st.users.get_mut(user_id) else {
            return Ok(false);
        };
        let Some(u) = p.user.as_mut() else {
            return Ok(false);
        };
        if u.credits.available < amount {
            return Ok(false);
        }
        u.credits.available -= amount;
        u.credits.spent += amount;
        p.open_charges.insert(reference.to_string());
        ledger_line(
            &mut st,
            user_id,
            format!("LEDGER#{reference}"),
            -amount,
            reason,
            reference,
        );
        Ok(true)
    }

    async fn refund(
        &self,
        user_id: &str,
        amount: i64,
        reason: &str,
        reference: &str,
    ) -> Result<bool, ApiError> {
        let mut st = self.state();
        let Some(p) = st.users.get_mut(user_id) else {
            return Ok(false);
        };
        if !p.open_charges.remove(reference) {
            return Ok(false);
        }
        if let Some(u) = p.user.as_mut() {
            u.credits.available += amount;
            u.credits.spent -= amount;
        }
        ledger_line(
            &mut st,
            user_id,
            format!("LEDGER#{reference}~refund"),
            amount,
            "refund",
            reference,
        );
        ledger_line(
            &mut st,
            user_id,
            format!("LEDGER#{reference}"),
            -amount,
            reason,
            reference,
        );
        Ok(true)
    }

    async fn settle_charge(&self, user_id: &str, reference: &str) -> Result<(), ApiError> {
        if let Some(p) = self.state().users.get_mut(user_id) {
            p.open_charges.remove(reference);
        }
        Ok(())
    }

    async fn ledger(&self, user_id: &str, limit: usize) -> Result<Vec<LedgerEntry>, ApiError> {
        Ok(self
            .state()
            .ledger
            .get(user_id)
            .map(|l| l.values().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }
}

impl Quotas for MemoryStore {
    async fn reserve_daily(
        &self,
        user_id: &str,
        n: u32,
        limit: u32,
        now: i64,
        reference: &str,
    ) -> Result<Result<(), i64>, ApiError> {
        let day = now.div_euclid(DAY);
        let reset_at = (day + 1) * DAY;
        let mut st = self.state();
        let (images, open) = st.quotas.entry((user_id.to_string(), day)).or_default();
        if n > limit || *images + n > limit {
            return Ok(Err(reset_at));
        }
        *images += n;
        open.insert(reference.to_string());
        Ok(Ok(()))
    }

    async fn release_daily(
        &self,
        user_id: &str,
        n: u32,
        reserved_at: i64,
        reference: &str,
    ) -> Result<(), ApiError> {
        let day = reserved_at.div_euclid(DAY);
        if let Some((images, open)) = self.state().quotas.get_mut(&(user_id.to_string(), day))
            && open.remove(reference)
        {
            *images = images.saturating_sub(n);
        }
        Ok(())
    }

    async fn settle_daily(
        &self,
        user_id: &str,
        reserved_at: i64,
        reference: &str,
    ) -> Result<(), ApiError> {
        let day = reserved_at.div_euclid(DAY);
        if let Some((_, open)) = self.state().quotas.get_mut(&(user_id.to_string(), day)) {
            open.remove(reference);
        }
        Ok(())
    }
}

impl Holds for MemoryStore {
    async fn open_charge(
        &self,
        hold: &Hold,
        daily_limit: u32,
        reason: &str,
    ) -> Result<Opened, ApiError> {
        let mut st = self.state();
        let day = hold.reserved_at.div_euclid(DAY);
        let reset_at = (day + 1) * DAY;
        let used = st
            .quotas
            .get(&(hold.user_id.clone(), day))
            .map_or(0, |(n, _)| *n);
        if hold.images > 0 && used + hold.images > daily_limit {
            return Ok(Opened::QuotaFull { reset_at });
        }
        if hold.amount > 0 {
            let available = st
                .users
                .get(&hold.user_id)
                .and_then(|p| p.user.as_ref())
                .map_or(0, |u| u.credits.available);
            if available < hold.amount {
                return Ok(Opened::TooFewCredits);
            }
        }
        if st.holds.contains_key(&hold.id) {
            return Err(ApiError::internal(format!("hold {} exists", hold.id)));
        }
        st.holds.insert(hold.id.clone(), hold.clone());
        if hold.images > 0 {
            let (n, open) = st.quotas.entry((hold.user_id.clone(), day)).or_default();
            *n += hold.images;
            open.insert(hold.id.clone());
        }
        if hold.amount > 0 {
            if let Some(p) = st.users.get_mut(&hold.user_id) {
                if let Some(u) = p.user.as_mut() {
                    u.credits.available -= hold.amount;
                    u.credits.spent += hold.amount;
                }
                p.open_charges.insert(hold.id.clone());
            }
            ledger_line(
                &mut st,
                &hold.user_id,
                format!("LEDGER#{}", hold.id),
                -hold.amount,
                reason,
                &hold.id,
            );
        }
        Ok(Opened::Taken)
    }

    async fn open_hold(&self, hold: &Hold) -> Result<(), ApiError> {
        let mut st = self.state();
        if st.holds.contains_key(&hold.id) {
            return Err(ApiError::internal(format!("hold {} exists", hold.id)));
        }
        st.holds.insert(hold.id.clone(), hold.clone());
        Ok(())
    }

    async fn attach_objects(&self, id: &str, keys: &[String]) -> Result<bool, ApiError> {
        if keys.is_empty() {
            return Ok(true);
        }
        let mut st = self.state();
        match st.holds.get_mut(id) {
            Some(h) if h.state == HoldState::Pending => {
                for k in keys {
                    if !h.objects.contains(k) {
                        h.objects.push(k.clone());
                    }
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn due_holds(&self, now: i64, limit: usize) -> Result<Vec<Hold>, ApiError> {
        let mut due: Vec<Hold> = self
            .state()
            .holds
            .values()
            .filter(|h| h.due_at <= now)
            .cloned()
            .collect();
        due.sort_by(|a, b| a.due_at.cmp(&b.due_at).then_with(|| a.id.cmp(&b.id)));
        due.truncate(limit);
        Ok(due)
    }

    async fn start_refund(&self, id: &str) -> Result<bool, ApiError> {
        let mut st = self.state();
        match st.holds.get_mut(id) {
            Some(h) if h.state != HoldState::Settled => {
                h.state = HoldState::Refunding;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn hold_state(&self, id: &str) -> Result<Option<HoldState>, ApiError> {
        Ok(self.state().holds.get(id).map(|h| h.state))
    }

    async fn postpone_hold(&self, hold: &Hold, due_at: i64) -> Result<(), ApiError> {
        if let Some(h) = self.state().holds.get_mut(&hold.id) {
            h.due_at = due_at;
        }
        Ok(())
    }

    async fn close_hold(&self, id: &str) -> Result<(), ApiError> {
        self.state().holds.remove(id);
        Ok(())
    }
}

impl Idempotency for MemoryStore {
    async fn claim(
        &self,
        user_id: &str,
        claim: &KeyClaim,
        body_hash: &str,
        now: i64,
    ) -> Result<IdempotencyClaim, ApiError> {
        let mut st = self.state();
        let slot = (user_id.to_string(), claim.key.clone());
        match st.idempotency.get(&slot) {
            Some(i) if i.expires_at >= now => {
                return Ok(if i.body_hash != body_hash {
                    IdempotencyClaim::Mismatch
                } else if let (false, Some(r)) = (i.pending, &i.response) {
                    IdempotencyClaim::Replay(r.clone())
                } else {
                    IdempotencyClaim::InProgress
                });
            }
            _ => {}
        }
        st.idempotency.insert(
            slot,
            Idem {
                pending: true,
                token: claim.token.clone(),
                body_hash: body_hash.to_string(),
                response: None,
                expires_at: now + IDEMPOTENCY_TTL,
            },
        );
        Ok(IdempotencyClaim::New)
    }

    async fn abandon(&self, user_id: &str, claim: &KeyClaim) -> Result<(), ApiError> {
        let mut st = self.state();
        let slot = (user_id.to_string(), claim.key.clone());
        if st
            .idempotency
            .get(&slot)
            .is_some_and(|i| i.pending && i.token == claim.token)
        {
            st.idempotency.remove(&slot);
        }
        Ok(())
    }
}

/// Objects in memory; presigned URLs are `memory://` addresses that name the key.
#[derive(Default)]
pub struct MemoryBlobs(Mutex<HashMap<String, (Vec<u8>, String)>>);

impl MemoryBlobs {
    fn objects(&self) -> MutexGuard<'_, HashMap<String, (Vec<u8>, String)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every key stored, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.objects().keys().cloned().collect();
        keys.sort();
        keys
    }
}

impl Blobs for MemoryBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), ApiError> {
        self.objects()
            .insert(key.to_string(), (bytes, content_type.to_string()));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
        Ok(self.objects().get(key).map(|(b, _)| b.clone()))
    }

    async fn delete(&self, keys: &[String]) -> Result<(), ApiError> {
        let mut objects = self.objects();
        for k in keys {
            objects.remove(k);
        }
        Ok(())
    }

    async fn presign_get(&self, key: &str, ttl: std::time::Duration) -> Result<String, ApiError> {
        Ok(format!("memory://{key}?expires_in={}", ttl.as_secs()))
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        bytes: u64,
        ttl: std::time::Duration,
    ) -> Result<String, ApiError> {
        Ok(format!(
            "memory://{key}?content-type={content_type}&content-length={bytes}&expires_in={}",
            ttl.as_secs()
        ))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, ApiError> {
        Ok(self.objects().get(key).map(|(b, _)| b.len() as u64))
    }
}

/// Deps over fresh in-memory adapters, with a configuration fit for tests.
pub fn deps() -> crate::Deps<MemoryStore, MemoryBlobs> {
    let config = crate::Config::from_lookup(|k| match k {
        "TABLE_NAME" | "BUCKET_NAME" | "QUEUE_URL" => Some("memory".into()),
        "JWT_SECRET" => Some("x".repeat(crate::config::MIN_JWT_SECRET_BYTES)),
        _ => None,
    })
    .expect("a test configuration");
    crate::Deps::with(config, MemoryStore::default(), MemoryBlobs::default())
}

/// A user with `credits` to spend; its id.
pub async fn user_with_credits(store: &MemoryStore, credits: i64) -> String {
    let id = crate::domain::new_id("user");
    let user = UserRecord {
        id: id.clone(),
        username: id.to_lowercase(),
        email: format!("{id}@example.com"),
        password_hash: String::new(),
        role: crate::domain::accounts::Role::User,
        created_at: 0,
        referral_code: id.to_uppercase(),
        referred_by: None,
        credits: crate::domain::accounts::CreditBalance {
            available: credits,
            earned: 0,
            spent: 0,
        },
    };
    store
        .create_user(&user)
        .await
        .expect("in memory")
        .expect("a fresh name");
    id
}
