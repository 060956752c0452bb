//! Referrals: a referred user's first paid generation earns its referrer credits, once, within
//! the referrer's monthly cap. Checked after every paid generation (one read, whose balance is
//! also the answer's `x-credits-remaining`; the reward's transaction only the first time), and
//! never a reason for the generation itself to fail.

use crate::domain::accounts::Reward;
use crate::domain::now_epoch;
use crate::ports::Store;
use crate::usecases::Deps;

/// Rewards the referrer if this was the user's first paid generation; the user's balance as
/// read (after the charge was final), when it could be read.
pub async fn after_paid<S: Store, B>(deps: &Deps<S, B>, user_id: &str) -> Option<i64> {
    let user = match deps.store.user(user_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "referral not checked");
            return None;
        }
    };
    let balance = Some(user.credits.available);
    let Some(referrer) = user.referred_by.as_deref() else {
        return balance;
    };
    if user.referral_rewarded_at.is_some()
        || referrer == user_id
        || deps.config.accounts.referrer_credits == 0
    {
        return balance;
    }
    let outcome = deps
        .store
        .reward_referrer(
            user_id,
            referrer,
            deps.config.accounts.referrer_credits,
            deps.config.accounts.referrer_monthly_cap,
            now_epoch(),
        )
        .await;
    match outcome {
        Ok(Reward::Granted) => tracing::info!(
            referrer,
            credits = deps.config.accounts.referrer_credits,
            "referrer rewarded"
        ),
        Ok(Reward::CapReached) => {
            tracing::info!(referrer, "referrer at its monthly cap: not rewarded")
        }
        Ok(Reward::AlreadyGiven) => {}
        Err(e) => tracing::warn!(referrer, error = %e, "referral reward not written"),
    }
    balance
}
