//! Charges that survive a killed Lambda.
//!
//! A paid request takes three things before it calls the provider: a reservation of the day's
//! image quota, credits, and possibly an Idempotency-Key. In-process failures give them back at
//! once, but a Lambda can also be killed (timeout, out of memory, a crash) between taking and
//! giving back. So every paid request first writes a [`Hold`] naming what it is about to take,
//! and the writes that take mark their reference on the balance and on the quota item. Storing
//! the images settles the hold in the same transaction, after which the request makes the charge
//! final and removes the hold. A scheduled sweeper visits the holds left behind once they are
//! due (later than any Lambda can still run): it gives back what a pending or refunding hold
//! took — each give-back conditional on its mark, so nothing is given back twice or without
//! having been taken — and finishes settled ones.

use crate::domain::accounts::Principal;
use crate::domain::billing::{Hold, HoldState, KeyClaim};
use crate::error::ApiError;
use crate::ports::{Blobs, Store};

/// The ledger reason of the debits that holds cover.
pub const GENERATION: &str = "generation";

/// Lambda kills an invocation after at most 15 minutes; a hold is due one minute after that.
pub const HOLD_SECONDS: i64 = 15 * 60 + 60;

pub fn hold_for(
    generation_id: &str,
    user_id: &str,
    amount: i64,
    images: u32,
    now: i64,
    idempotency: Option<KeyClaim>,
) -> Hold {
    Hold {
        id: generation_id.to_string(),
        user_id: user_id.to_string(),
        amount,
        images,
        reserved_at: now,
        idempotency,
        objects: Vec::new(),
        due_at: now + HOLD_SECONDS,
        state: HoldState::Pending,
        spend: None,
        by: None,
        model: None,
    }
}

/// The hold of paid work `who` asks for: its debit counts in their API key's spend (within
/// its budget) and its ledger lines name the credential.
pub fn hold_by(
    who: &Principal,
    generation_id: &str,
    amount: i64,
    images: u32,
    now: i64,
    idempotency: Option<KeyClaim>,
) -> Hold {
    Hold {
        spend: who.key_spend(now),
        by: Some(who.spender().encode()),
        ..hold_for(
            generation_id,
            &who.user_id,
            amount,
            images,
            now,
            idempotency,
        )
    }
}

/// What unwinding a hold found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unwound {
    /// The request never stored its images: whatever it had taken was given back (`credits`
    /// is how many were actually returned: none if it died before its debit).
    GivenBack { credits: i64 },
    /// Its images were stored: the charge stands.
    Settled,
    /// Someone else finished it already.
    Gone,
}

/// Gives back what `hold` took, unless its images were stored: credits, quota, the objects it
/// had begun to write (never referenced: their metadata was not stored) and, with `free_key`,
/// its Idempotency-Key claim (in-process, the idempotency wrapper does that). Each step is
/// idempotent and conditional on its mark, so the sweeper may repeat what a dying Lambda began.
pub async fn give_back<S: Store, B: Blobs>(
    store: &S,
    blobs: &B,
    hold: &Hold,
    free_key: bool,
) -> Result<Unwound, ApiError> {
    if !store.start_refund(&hold.id).await? {
        return Ok(match store.hold_state(&hold.id).await? {
            Some(_) => Unwound::Settled,
            None => Unwound::Gone,
        });
    }
    // A free asset's hold (a transform, an upload) took nothing but the objects' places.
    let refunded = hold.amount > 0 && store.refund(hold, GENERATION).await?;
    if hold.images > 0 {
        store.release_daily(hold).await?;
    }
    if free_key && let Some(claim) = &hold.idempotency {
        store.abandon(&hold.user_id, claim).await?;
    }
    if !hold.objects.is_empty() {
        blobs.delete(&hold.objects).await?;
    }
    store.close_hold(&hold.id).await?;
    Ok(Unwound::GivenBack {
        credits: if refunded { hold.amount } else { 0 },
    })
}

/// Makes a settled hold's charge and quota final and removes it. (Its Idempotency-Key already
/// holds the answer: that was recorded in the settling transaction.)
pub async fn finish<S: Store>(store: &S, hold: &Hold) -> Result<(), ApiError> {
    if hold.amount > 0 {
        store.settle_charge(&hold.user_id, &hold.id).await?;
    }
    if hold.images > 0 {
        store
            .settle_daily(&hold.user_id, hold.reserved_at, &hold.id)
            .await?;
    }
    store.close_hold(&hold.id).await
}
