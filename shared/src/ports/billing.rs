//! Ports of billing: credits, daily quotas, holds and Idempotency-Key claims.

use super::*;

pub trait Credits: Send + Sync {
    /// Takes `amount` credits atomically, never below zero; `Ok(false)` when there are too few.
    /// The same write marks `reference` as an open charge on the balance, so that a refund can
    /// tell whether there is anything to give back.
    fn debit(
        &self,
        user_id: &str,
        amount: i64,
        reason: &str,
        reference: &str,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// Gives back the debit of `hold` (made for `reason`) if it is still open, and its count in
    /// the API key's spend; refunding a hold that was never debited, already refunded or
    /// settled does nothing. `Ok(true)` when credits moved; the ledger then shows the debit
    /// and its refund.
    fn refund(
        &self,
        hold: &Hold,
        reason: &str,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// Makes the debit of `reference` final (it can no longer be refunded).
    fn settle_charge(
        &self,
        user_id: &str,
        reference: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn ledger(
        &self,
        user_id: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, ApiError>> + Send;
}

pub trait Quotas: Send + Sync {
    /// The images of `now`'s UTC day reserved so far (made, or being made).
    fn images_today(
        &self,
        user_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<u32, ApiError>> + Send;
    /// Reserves `n` of the images of `now`'s UTC day under `reference`; `Err(reset_at)` when that
    /// would pass `limit`.
    fn reserve_daily(
        &self,
        user_id: &str,
        n: u32,
        limit: u32,
        now: i64,
        reference: &str,
    ) -> impl Future<Output = Result<Result<(), i64>, ApiError>> + Send;
    /// Gives back the reservation of `hold` (its images, and its count in the day's usage), if
    /// it is still open.
    fn release_daily(&self, hold: &Hold) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// The user's paid work per UTC day from `first_day` to `last_day` (days since 1970), as
    /// charged: every day of the range, oldest first, days without any as zeros.
    fn user_usage(
        &self,
        user_id: &str,
        first_day: i64,
        last_day: i64,
    ) -> impl Future<Output = Result<Vec<UserDay>, ApiError>> + Send;
    /// Makes the reservation final (the images were made).
    fn settle_daily(
        &self,
        user_id: &str,
        reserved_at: i64,
        reference: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

pub trait Holds: Send + Sync {
    fn open_hold(&self, hold: &Hold) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Opens `hold` and takes what it names, all in one write: its objects listed, `images` of
    /// the day's quota (at most `daily_limit`) and `amount` credits with the debit's ledger line
    /// (`reason`), only while the account stores less than `storage_quota`. Nothing is taken
    /// unless everything is.
    fn open_charge(
        &self,
        hold: &Hold,
        daily_limit: u32,
        reason: &str,
        storage_quota: u64,
    ) -> impl Future<Output = Result<Opened, ApiError>> + Send;
    /// Names the objects the request is about to write; `Ok(false)` if the hold is no longer
    /// pending (then nothing may be written).
    fn attach_objects(
        &self,
        id: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// Holds whose `due_at` has passed at `now`, oldest first, at most `limit`.
    fn due_holds(
        &self,
        now: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Hold>, ApiError>> + Send;
    /// Pending → refunding (or already refunding). `Ok(false)` when the hold is settled or gone:
    /// then there is nothing to give back.
    fn start_refund(&self, id: &str) -> impl Future<Output = Result<bool, ApiError>> + Send;
    fn hold_state(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<HoldState>, ApiError>> + Send;
    /// Moves a hold that could not be handled to the back of the sweeper's queue.
    fn postpone_hold(
        &self,
        hold: &Hold,
        due_at: i64,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn close_hold(&self, id: &str) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn hold(&self, id: &str) -> impl Future<Output = Result<Option<Hold>, ApiError>> + Send;
}

pub trait Idempotency: Send + Sync {
    fn claim(
        &self,
        user_id: &str,
        claim: &KeyClaim,
        body_hash: &str,
        now: i64,
    ) -> impl Future<Output = Result<IdempotencyClaim, ApiError>> + Send;
    /// Frees the key after a failure, so the client can retry with it; only this pending claim.
    fn abandon(
        &self,
        user_id: &str,
        claim: &KeyClaim,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}
