//! Charges that survive a killed Lambda.
//!
//! A paid request takes three things before it calls the provider: a reservation of the day's
//! image quota, credits, and possibly an Idempotency-Key. In-process failures give them back at
//! once, but a Lambda can also be killed (timeout, out of memory, a crash) between taking and
//! giving back. So every paid request first writes a [`Hold`] naming what it is about to take,
//! and the writes that take mark their reference on the balance and the quota item. Storing the
//! images settles the hold in the same transaction. A scheduled sweeper visits holds once they
//! are due (later than any Lambda can still run) and gives back what a pending or refunding hold
//! took — each give-back conditional on its mark, so nothing is given back twice or without
//! having been taken — then makes settled holds final.

use crate::error::ApiError;
use crate::ports::{Hold, HoldState, Store};

/// Lambda kills an invocation after at most 15 minutes; a hold is due one minute after that.
pub const HOLD_SECONDS: i64 = 15 * 60 + 60;

/// Holds visited per sweep; the next run continues with the rest.
pub const SWEEP_BATCH: usize = 200;

pub fn hold_for(
    generation_id: &str,
    user_id: &str,
    amount: i64,
    images: u32,
    now: i64,
    idempotency_key: Option<String>,
) -> Hold {
    Hold {
        id: generation_id.to_string(),
        user_id: user_id.to_string(),
        amount,
        images,
        reserved_at: now,
        idempotency_key,
        due_at: now + HOLD_SECONDS,
        state: HoldState::Pending,
    }
}

/// Gives back what `hold` took, unless its images were stored. Each step is idempotent, so the
/// sweeper may repeat what a dying Lambda began. `free_key`: also release the Idempotency-Key
/// (the in-process path leaves that to the idempotency wrapper, which knows the outcome).
/// Returns whether anything could have been given back (`false`: the hold was settled).
pub async fn give_back<S: Store>(store: &S, hold: &Hold, free_key: bool) -> Result<bool, ApiError> {
    if !store.start_refund(&hold.id).await? {
        return Ok(false);
    }
    store.refund(&hold.user_id, hold.amount, &hold.id).await?;
    store
        .release_daily(&hold.user_id, hold.images, hold.reserved_at, &hold.id)
        .await?;
    if free_key && let Some(key) = &hold.idempotency_key {
        store.abandon(&hold.user_id, key).await?;
    }
    store.close_hold(&hold.id).await?;
    Ok(true)
}

/// Makes a settled hold's charge and quota final and removes it.
async fn finish<S: Store>(store: &S, hold: &Hold) -> Result<(), ApiError> {
    store.settle_charge(&hold.user_id, &hold.id).await?;
    store
        .settle_daily(&hold.user_id, hold.reserved_at, &hold.id)
        .await?;
    // Still pending only if the Lambda died before recording its answer: the images are in the
    // library, and the key is freed rather than answering "in progress" for a day.
    if let Some(key) = &hold.idempotency_key {
        store.abandon(&hold.user_id, key).await?;
    }
    store.close_hold(&hold.id).await
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Holds whose credits and quota were given back.
    pub refunded: usize,
    /// Holds whose images were stored: their charge is now final.
    pub settled: usize,
    /// Holds that could not be handled this time (left for the next sweep).
    pub failed: usize,
}

/// Visits the holds due at `now`. One failing hold does not stop the others.
pub async fn sweep<S: Store>(store: &S, now: i64) -> Result<SweepReport, ApiError> {
    let mut report = SweepReport::default();
    for hold in store.due_holds(now, SWEEP_BATCH).await? {
        let outcome = match hold.state {
            HoldState::Settled => finish(store, &hold).await.map(|()| false),
            HoldState::Pending | HoldState::Refunding => {
                match give_back(store, &hold, true).await {
                    // Settled between the query and now.
                    Ok(false) => finish(store, &hold).await.map(|()| false),
                    other => other,
                }
            }
        };
        match outcome {
            Ok(true) => {
                tracing::warn!(hold = %hold.id, user_id = %hold.user_id, amount = hold.amount, "gave back the charge of an abandoned request");
                report.refunded += 1;
            }
            Ok(false) => report.settled += 1,
            Err(e) => {
                tracing::error!(hold = %hold.id, error = %e, "could not sweep a hold");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}
