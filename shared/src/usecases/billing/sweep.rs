//! The scheduled sweeper: visits the holds left behind once they are due, gives back what an
//! abandoned request took, finishes settled charges and hands expired jobs over to be ended.

use crate::domain::billing::HoldState;
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::billing::charges::{Unwound, finish, give_back};

/// Holds read per query; a sweep goes on batch after batch within its time budget.
pub const SWEEP_BATCH: usize = 100;

/// A hold that could not be handled goes to the back of the queue by this much.
pub const RETRY_AFTER_SECONDS: i64 = 5 * 60;

#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct SweepReport {
    /// Holds of requests that never stored their images, unwound.
    pub abandoned: usize,
    /// Credits given back to their users by unwinding those.
    pub credits_returned: i64,
    /// Holds whose images were stored: their charge is now final.
    pub settled: usize,
    /// Holds that could not be handled (postponed to a later sweep).
    pub failed: usize,
    /// Jobs failed because their hold fell due (the table's stream announces them).
    #[serde(skip)]
    pub expired_jobs: Vec<crate::domain::jobs::Job>,
}

/// Visits the holds due at `now`, batch after batch until none is left or `budget` is spent.
/// A hold that fails is postponed, so it cannot block the ones behind it.
pub async fn sweep<S: Store, B: Blobs>(
    store: &S,
    blobs: &B,
    now: i64,
    budget: std::time::Duration,
) -> Result<SweepReport, ApiError> {
    let started = std::time::Instant::now();
    let mut report = SweepReport::default();
    loop {
        let batch = store.due_holds(now, SWEEP_BATCH).await?;
        let full = batch.len() == SWEEP_BATCH;
        for hold in batch {
            let outcome = match hold.state {
                HoldState::Settled => finish(store, &hold).await.map(|()| Unwound::Settled),
                HoldState::Pending | HoldState::Refunding => {
                    // A job's hold falls due only once no delivery of the job can come.
                    let expired = if crate::usecases::jobs::is_job(&hold.id) {
                        crate::usecases::jobs::expire(store, &hold, now).await
                    } else {
                        Ok(None)
                    };
                    if let Ok(Some(job)) = &expired {
                        report.expired_jobs.push(job.clone());
                    }
                    match expired.map(|_| give_back(store, blobs, &hold, true)) {
                        Err(e) => Err(e),
                        Ok(giving) => match giving.await {
                            // Settled between the query and now.
                            Ok(Unwound::Settled) => {
                                finish(store, &hold).await.map(|()| Unwound::Settled)
                            }
                            other => other,
                        },
                    }
                }
            };
            match outcome {
                Ok(Unwound::GivenBack { credits }) => {
                    tracing::warn!(hold = %hold.id, user_id = %hold.user_id, credits, "unwound the hold of an abandoned request");
                    report.abandoned += 1;
                    report.credits_returned += credits;
                }
                Ok(Unwound::Settled) => report.settled += 1,
                Ok(Unwound::Gone) => {}
                Err(e) => {
                    tracing::error!(hold = %hold.id, error = %e, "could not sweep a hold; postponed");
                    report.failed += 1;
                    if let Err(e) = store.postpone_hold(&hold, now + RETRY_AFTER_SECONDS).await {
                        tracing::error!(hold = %hold.id, error = %e, "could not postpone a hold");
                        // It would come back in this very sweep: leave it to the next one.
                        return Ok(report);
                    }
                }
            }
        }
        if !full || started.elapsed() >= budget {
            return Ok(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryBlobs, MemoryStore, PutFault, user_with_credits};
    use crate::app::in_memory;
    use crate::domain::assets::{AssetKind, ImageRecord, Lineage, OutputFormat};
    use crate::domain::billing::Hold;
    use crate::domain::billing::{Settlement, WriteOutcome};
    use crate::ports::{Accounts, Credits, Holds, Images, Quotas};
    use crate::usecases::billing::charges::{GENERATION, HOLD_SECONDS, hold_for};
    use std::time::Duration;

    const NOW: i64 = 1_800_000_000;
    /// Lambda's longest run (its maximum timeout): what a hold must outlive, from AWS's
    /// documentation, not from the code under test.
    const LONGEST_LAMBDA: i64 = 15 * 60;

    async fn available(store: &MemoryStore, user: &str) -> i64 {
        store.user(user).await.unwrap().unwrap().credits.available
    }

    /// What a paid request takes before it calls its provider: hold, quota, credits, and the
    /// objects it is about to write. Then it "dies": nothing else happens.
    async fn taken(store: &MemoryStore, blobs: &MemoryBlobs, user: &str, id: &str) -> Hold {
        let mut hold = hold_for(id, user, 3, 1, NOW, None);
        store.open_hold(&hold).await.unwrap();
        store
            .reserve_daily(user, 1, 10, NOW, id)
            .await
            .unwrap()
            .unwrap();
        assert!(store.debit(user, 3, GENERATION, id).await.unwrap());
        hold.objects = vec![format!("images/{user}/{id}.png")];
        blobs
            .put(&hold.objects[0], vec![1], "image/png")
            .await
            .unwrap();
        assert!(store.attach_objects(id, &hold.objects).await.unwrap());
        hold
    }

    async fn sweep_at(store: &MemoryStore, blobs: &MemoryBlobs, at: i64) -> SweepReport {
        sweep(store, blobs, at, Duration::from_secs(5))
            .await
            .unwrap()
    }

    // Checked when the tests compile: a hold shorter than a Lambda's life could be swept while
    // its request still runs.
    const _: () = assert!(HOLD_SECONDS > LONGEST_LAMBDA);

    #[tokio::test]
    async fn a_killed_request_is_given_back_once_and_only_when_due() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 10).await;
        let hold = taken(&d.store, &d.blobs, &user, "gen_1").await;
        assert_eq!(available(&d.store, &user).await, 7);

        // Still within a Lambda's life: nothing is given back.
        let early = sweep_at(&d.store, &d.blobs, NOW + LONGEST_LAMBDA).await;
        assert_eq!(early, SweepReport::default());
        assert_eq!(available(&d.store, &user).await, 7);

        let report = sweep_at(&d.store, &d.blobs, hold.due_at).await;
        assert_eq!((report.abandoned, report.credits_returned), (1, 3));
        assert_eq!(available(&d.store, &user).await, 10);
        assert!(d.blobs.keys().is_empty(), "the half-written object is gone");
        assert!(
            d.store
                .reserve_daily(&user, 1, 1, NOW, "gen_2")
                .await
                .unwrap()
                .is_ok(),
            "the day's image is free again"
        );
        let reasons: Vec<String> = d
            .store
            .ledger(&user, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.reason)
            .collect();
        assert_eq!(reasons, ["refund", "generation", "signup"]);
        // Once: a second sweep and a late give-back find nothing.
        assert_eq!(
            sweep_at(&d.store, &d.blobs, hold.due_at).await,
            SweepReport::default()
        );
        assert_eq!(
            give_back(&d.store, &d.blobs, &hold, true).await.unwrap(),
            Unwound::Gone
        );
        assert_eq!(available(&d.store, &user).await, 10);
    }

    #[tokio::test]
    async fn opening_a_charge_takes_all_or_nothing() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 5).await;
        let hold = |id: &str, amount, images| hold_for(id, &user, amount, images, NOW, None);
        // Quota full: no hold, no credits taken.
        let r = d
            .store
            .open_charge(&hold("g1", 1, 3), 2, GENERATION, u64::MAX)
            .await
            .unwrap();
        assert!(matches!(
            r,
            crate::domain::billing::Opened::QuotaFull { .. }
        ));
        // Too few credits: no hold, no quota taken.
        let r = d
            .store
            .open_charge(&hold("g2", 9, 1), 2, GENERATION, u64::MAX)
            .await
            .unwrap();
        assert_eq!(r, crate::domain::billing::Opened::TooFewCredits);
        assert!(d.store.holds().is_empty());
        assert_eq!(available(&d.store, &user).await, 5);
        // Storage full (the account stores 0 bytes of a 0-byte quota): no vendor is paid for
        // work that could not be kept.
        let r = d
            .store
            .open_charge(&hold("g4", 1, 1), 2, GENERATION, 0)
            .await
            .unwrap();
        assert_eq!(r, crate::domain::billing::Opened::StorageFull { used: 0 });
        assert!(d.store.holds().is_empty());
        assert_eq!(available(&d.store, &user).await, 5);
        assert!(
            d.store
                .reserve_daily(&user, 2, 2, NOW, "probe")
                .await
                .unwrap()
                .is_ok()
        );
        d.store
            .release_daily(&hold_for("probe", &user, 0, 2, NOW, None))
            .await
            .unwrap();
        // Enough of both: everything at once, with the debit's ledger line.
        let r = d
            .store
            .open_charge(&hold("g3", 5, 2), 2, GENERATION, u64::MAX)
            .await
            .unwrap();
        assert_eq!(r, crate::domain::billing::Opened::Taken);
        assert_eq!(available(&d.store, &user).await, 0);
        assert_eq!(d.store.holds().len(), 1);
        assert!(
            d.store
                .reserve_daily(&user, 1, 2, NOW, "probe")
                .await
                .unwrap()
                .is_err()
        );
        let lines = d.store.ledger(&user, 10).await.unwrap();
        assert_eq!(lines[0].delta, -5);
    }

    #[tokio::test]
    async fn a_hold_without_a_debit_gives_nothing() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 10).await;
        let hold = hold_for("gen_1", &user, 3, 1, NOW, None);
        d.store.open_hold(&hold).await.unwrap();
        let report = sweep_at(&d.store, &d.blobs, hold.due_at).await;
        assert_eq!((report.abandoned, report.credits_returned), (1, 0));
        assert_eq!(
            available(&d.store, &user).await,
            10,
            "nothing was taken, nothing given"
        );
    }

    fn image_of(user: &str) -> ImageRecord {
        ImageRecord::new(
            user,
            AssetKind::Image,
            OutputFormat::Png,
            (1, 1),
            1,
            Lineage::original(None),
        )
    }

    #[tokio::test]
    async fn a_request_killed_after_storing_keeps_its_charge_and_objects() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 10).await;
        let hold = taken(&d.store, &d.blobs, &user, "gen_1").await;
        let settlement = Settlement {
            hold: hold.clone(),
            answer: None,
            completes_upload: None,
            completes_job: None,
            commit_by: None,
            served: None,
        };
        let record = image_of(&user);
        assert!(matches!(
            d.store
                .put_images(std::slice::from_ref(&record), Some(&settlement), u64::MAX)
                .await,
            WriteOutcome::Written
        ));
        // The hold went with the images: the sweeper has nothing to do.
        let report = sweep_at(&d.store, &d.blobs, hold.due_at).await;
        assert_eq!(report, SweepReport::default());
        assert_eq!(available(&d.store, &user).await, 7, "the charge stands");
        assert_eq!(d.blobs.keys(), hold.objects, "the objects stay");
        // Settled for good: a refund of it gives nothing.
        assert!(!d.store.refund(&hold, GENERATION).await.unwrap());
        assert!(d.store.holds().is_empty());
    }

    #[tokio::test]
    async fn a_lost_answer_is_judged_by_the_hold() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 10).await;
        // Written, answer lost: the hold is settled, the charge and objects stay.
        let kept = taken(&d.store, &d.blobs, &user, "gen_1").await;
        let settle = |hold: &Hold| Settlement {
            hold: hold.clone(),
            answer: None,
            completes_upload: None,
            completes_job: None,
            commit_by: None,
            served: None,
        };
        d.store.fail_next_put_images(PutFault::LoseAnswer);
        let r = d
            .store
            .put_images(&[image_of(&user)], Some(&settle(&kept)), u64::MAX)
            .await;
        assert!(matches!(r, WriteOutcome::Unknown(_)));
        // The hold closed with the images: there is nothing to give back.
        assert_eq!(
            give_back(&d.store, &d.blobs, &kept, false).await.unwrap(),
            Unwound::Gone
        );
        assert_eq!(d.blobs.keys(), kept.objects);
        // Not written, answer lost: the give-back returns everything and deletes the objects.
        let lost = taken(&d.store, &d.blobs, &user, "gen_2").await;
        d.store.fail_next_put_images(PutFault::Unknown);
        let r = d
            .store
            .put_images(&[image_of(&user)], Some(&settle(&lost)), u64::MAX)
            .await;
        assert!(matches!(r, WriteOutcome::Unknown(_)));
        let back = give_back(&d.store, &d.blobs, &lost, false).await.unwrap();
        assert_eq!(back, Unwound::GivenBack { credits: 3 });
        assert_eq!(
            d.blobs.keys(),
            kept.objects,
            "only the written request's objects remain"
        );
        assert_eq!(available(&d.store, &user).await, 7);
    }
}
