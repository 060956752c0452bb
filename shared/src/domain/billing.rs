//! What paid work takes and gives back: holds, their settlement, Idempotency-Key claims and
//! the credit ledger.

use crate::domain::key_policy::KeySpend;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: String,
    /// Negative for spending, positive for grants and refunds.
    pub delta: i64,
    pub reason: String,
    pub reference: Option<String>,
    /// An admin's reason for a grant or deduction.
    pub note: Option<String>,
    pub created_at: i64,
    /// The credential that spent (or was refunded): see `Spender::encode`.
    pub by: Option<String>,
}
/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First use: go ahead, then complete or abandon it.
    New,
    /// Same key and body already answered: replay this stored JSON.
    Replay(String),
    /// Same key, another body.
    Mismatch,
    /// Same key and body, still being processed.
    InProgress,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldState {
    /// Credits and quota may be taken; the work is under way (or its Lambda was killed).
    Pending,
    /// The images are stored: what was taken is final.
    Settled,
    /// The work failed or was abandoned: what was taken is being given back.
    Refunding,
}
impl HoldState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Settled => "settled",
            Self::Refunding => "refunding",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Settled, Self::Refunding]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}
/// A paid piece of work in flight, written before anything is taken. Whatever a Lambda that was
/// killed mid-way left behind (credits, daily quota, an Idempotency-Key) is found through it by
/// the sweeper once `due_at` has passed, and given back unless the images were stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The generation id: the reference of the debit and of the quota reservation.
    pub id: String,
    pub user_id: String,
    pub amount: i64,
    pub images: u32,
    /// When the daily quota was reserved (which UTC day it counts against).
    pub reserved_at: i64,
    pub idempotency: Option<KeyClaim>,
    /// Objects about to be written for the request: the sweeper deletes them if it never
    /// stored their metadata.
    pub objects: Vec<String>,
    /// Later than any Lambda holding it can still be running.
    pub due_at: i64,
    pub state: HoldState,
    /// The API key's spend entries the debit counts in (and its budget, when charging).
    pub spend: Option<KeySpend>,
    /// Who spends: named by the debit's and the refund's ledger lines.
    pub by: Option<String>,
    /// The model charged for: the day's usage counts per model.
    pub model: Option<String>,
}

impl Hold {
    /// The day's usage counters a charge adds to (and its refund takes back from): its images
    /// (also the daily quota), and for paid work one generation and its credits, in all, per
    /// model (`m#<model>#…`) and per spender (`s#<spender>#…`).
    pub fn usage_counters(&self) -> Vec<(String, i64)> {
        let images = i64::from(self.images);
        let mut counters = vec![("images".to_string(), images)];
        // Holds opened before spend was counted (they name no spender) counted only images.
        if self.amount > 0 && self.by.is_some() {
            counters.push(("generations".into(), 1));
            counters.push(("credits".into(), self.amount));
            for (prefix, name) in [("m", self.model.clone()), ("s", self.usage_spender())] {
                if let Some(name) = name {
                    counters.push((format!("{prefix}#{name}#credits"), self.amount));
                    counters.push((format!("{prefix}#{name}#images"), images));
                }
            }
        }
        counters
    }

    /// Who spent, as the day's usage groups it: `api_key:<id>`, `session` (every session of
    /// the account together) or `queue`.
    pub fn usage_spender(&self) -> Option<String> {
        let by = self.by.as_deref()?;
        Some(match by.split_once(':') {
            Some(("api_key", _)) => by.to_string(),
            Some((kind, _)) => kind.to_string(),
            None => by.to_string(),
        })
    }
}

/// A user's paid work of one UTC day, as charged (refunds taken back): the figures its ledger
/// lines add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDay {
    /// Days since 1970-01-01.
    pub day: i64,
    pub generations: i64,
    pub images: i64,
    pub credits: i64,
    /// (model id, credits, images), by model id.
    pub models: Vec<(String, i64, i64)>,
    /// (`api_key:<id>`, `session` or `queue`; credits, images), by spender.
    pub spenders: Vec<(String, i64, i64)>,
}

impl UserDay {
    /// A day from its counters as `Hold::usage_counters` names them (others are ignored).
    pub fn from_counters(day: i64, counters: impl IntoIterator<Item = (String, i64)>) -> Self {
        let mut usage = UserDay {
            day,
            ..UserDay::default()
        };
        let mut grouped: std::collections::BTreeMap<(bool, String), (i64, i64)> =
            Default::default();
        for (name, value) in counters {
            match name.as_str() {
                "generations" => usage.generations = value,
                "images" => usage.images = value.max(0),
                "credits" => usage.credits = value,
                _ => {
                    let mut parts = name.splitn(2, '#');
                    let (Some(kind @ ("m" | "s")), Some(rest)) = (parts.next(), parts.next())
                    else {
                        continue;
                    };
                    let Some((what, field)) = rest.rsplit_once('#') else {
                        continue;
                    };
                    let entry = grouped.entry((kind == "m", what.to_string())).or_default();
                    match field {
                        "credits" => entry.0 = value,
                        "images" => entry.1 = value,
                        _ => {}
                    }
                }
            }
        }
        for ((model, what), (credits, images)) in grouped {
            if credits == 0 && images == 0 {
                continue;
            }
            if model {
                usage.models.push((what, credits, images));
            } else {
                usage.spenders.push((what, credits, images));
            }
        }
        usage
    }
}
/// What storing a paid request's images makes final (see `Images::put_images`): in the same
/// write the hold is closed and what it took (credits, quota) becomes final.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub hold: Hold,
    /// The claim and the answer to replay for it (without image bytes or URLs).
    pub answer: Option<(KeyClaim, String)>,
    /// The upload these images complete: marked in the same transaction, once only.
    pub completes_upload: Option<String>,
    /// The job these images finish: it succeeds in the same transaction, only if `attempt`
    /// still holds it and no cancel was asked for.
    pub completes_job: Option<JobCompletion>,
    /// A synchronous answer's last moment to commit: later, the client is gone (API Gateway's
    /// limit), so nothing is stored or charged.
    pub commit_by: Option<std::time::Instant>,
    /// Paid work: the model, the vendor that served it and what that cost us (counted in the
    /// day's usage once settled).
    pub served: Option<crate::domain::admin::VendorCharge>,
}

#[derive(Debug, Clone)]
pub struct JobCompletion {
    pub id: String,
    pub attempt: u32,
    /// The replayable answer (see `Job::result`).
    pub result: String,
    pub completed_at: i64,
}

/// What opening a charge found (see `Holds::open_charge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// The hold is written and what it names is taken.
    Taken,
    /// The day's images would pass the limit; nothing was taken.
    QuotaFull { reset_at: i64 },
    /// Too few credits; nothing was taken.
    TooFewCredits,
    /// The account already stores its whole storage quota: the work could not be kept, so
    /// no vendor is paid for it. Nothing was taken.
    StorageFull { used: u64 },
    /// The API key's budget for the period has less left than the charge; nothing was taken.
    OverBudget {
        left: i64,
        budget: i64,
        resets_at: i64,
    },
}

impl Opened {
    /// The refusal of a charge of `amount` by a key with `spent` of budget `b` spent, if it
    /// does not fit.
    pub fn over_budget(
        b: &crate::domain::key_policy::BudgetRoom,
        spent: i64,
        amount: i64,
    ) -> Option<Self> {
        (spent + amount > b.credits).then(|| Opened::OverBudget {
            left: (b.credits - spent).max(0),
            budget: b.credits,
            resets_at: b.resets_at,
        })
    }
}

/// How a metadata write ended. Objects may be deleted only when it is known not to have
/// happened: an unknown outcome may have committed, and its metadata would point at nothing.
#[derive(Debug)]
pub enum WriteOutcome {
    Written,
    /// Refused (a condition failed): nothing was written.
    NotWritten(crate::error::ApiError),
    /// The answer was lost: it may or may not have committed.
    Unknown(crate::error::ApiError),
}
/// One request's claim on an Idempotency-Key: `token` tells this claim from a later one of the
/// same key, so that freeing or completing a stale claim cannot touch a newer request's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClaim {
    pub key: String,
    pub token: String,
}
