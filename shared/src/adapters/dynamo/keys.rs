//! One function per key shape: every `pk`/`sk` of the table, and every index key, is built
//! here (the layout is listed in `mod.rs`). Public so that tests which must write a state the
//! adapter never would (an unreadable item) still name it as the adapter does.

use super::*;

pub fn profile(user_id: &str) -> Item {
    key(user_pk(user_id), "PROFILE")
}

/// The user's webhook signing secrets (apart from the profile every request reads).
pub fn webhook_secret(user_id: &str) -> Item {
    key(user_pk(user_id), "WEBHOOK_SECRET")
}

/// The partition of everything a user owns (profile, assets, keys, ledger, uploads).
pub fn user_pk(id: &str) -> String {
    format!("USER#{id}")
}

/// Uniqueness guards, written in the user's own transaction.
pub fn username(lowercase: &str) -> Item {
    key(format!("USERNAME#{lowercase}"), "USERNAME")
}

pub fn email(lowercase: &str) -> Item {
    key(format!("EMAIL#{lowercase}"), "EMAIL")
}

pub fn referral_code(code: &str) -> Item {
    key(format!("REFCODE#{code}"), "REFCODE")
}

pub fn session(id: &str) -> Item {
    key(format!("SESSION#{id}"), "SESSION")
}

pub fn refresh(hash: &str) -> Item {
    key(format!("REFRESH#{hash}"), "REFRESH")
}

/// An API key found by its hash (authentication)...
pub fn api_key(hash: &str) -> Item {
    key(format!("APIKEY#{hash}"), "APIKEY")
}

/// ... and listed under its user.
pub fn user_api_key(user_id: &str, key_id: &str) -> Item {
    key(user_pk(user_id), &format!("APIKEY#{key_id}"))
}

pub const API_KEY_PREFIX: &str = "APIKEY#";

/// The counter of one fixed window of `subject` (a user, an address, an account).
pub fn rate(subject: &str, window_start: i64) -> Item {
    key(format!("RATE#{subject}#{window_start}"), "RATE")
}

pub fn image(user_id: &str, id: &str) -> Item {
    key(user_pk(user_id), &image_sort(id))
}

/// The sort key of an asset, in its user's partition and in the kind index alike.
pub fn image_sort(id: &str) -> String {
    format!("{IMAGE_PREFIX}{id}")
}

pub const IMAGE_PREFIX: &str = "IMAGE#";

/// The kind index (`gsi1pk`) partition of a user's assets of one kind.
pub fn kind_index(user_id: &str, kind: AssetKind) -> String {
    format!("USER#{user_id}#{}", kind.as_str())
}

/// A version's place in its lineage: versions sort by number (zero-padded).
pub fn version(user_id: &str, root_id: &str, version: u32) -> Item {
    key(
        user_pk(user_id),
        &format!("{}{version:010}", versions_prefix(root_id)),
    )
}

pub fn versions_prefix(root_id: &str) -> String {
    format!("VERSION#{root_id}#")
}

/// A job, listed under its user (ids are time-ordered: newest last).
/// An announcement kept for the table's stream (see `outbox`).
pub fn outbox(id: &str) -> Item {
    key(format!("OUTBOX#{id}"), "OUTBOX")
}

pub fn job(user_id: &str, id: &str) -> Item {
    key(user_pk(user_id), &format!("{JOB_PREFIX}{id}"))
}

pub const JOB_PREFIX: &str = "JOB#";

pub fn upload(user_id: &str, id: &str) -> Item {
    key(user_pk(user_id), &format!("UPLOAD#{id}"))
}

/// A ledger line, named by what it records (a debit's reference, its refund, the signup).
pub fn ledger(user_id: &str, line: &LedgerLine) -> Item {
    key(
        user_pk(user_id),
        &format!("{LEDGER_PREFIX}{}", ledger_id(line)),
    )
}

/// A ledger line's id (its sort key without the prefix).
pub fn ledger_id(line: &LedgerLine) -> String {
    match line {
        LedgerLine::Debit(reference) => reference.to_string(),
        LedgerLine::Refund(reference) => format!("{reference}~refund"),
        // Sorts before every id-keyed line, as it came before them.
        LedgerLine::Signup => "0signup".into(),
        LedgerLine::ReferralSignup => "0signup~referral".into(),
        // One per referred user: a second grant for the same user cannot be written.
        LedgerLine::Referral(referred) => format!("referral~{referred}"),
        LedgerLine::Admin(audit_id) => format!("admin~{audit_id}"),
    }
}

pub enum LedgerLine<'a> {
    Debit(&'a str),
    Refund(&'a str),
    Signup,
    /// A referred user's signup bonus.
    ReferralSignup,
    /// A referrer's reward for the referred user's first paid generation.
    Referral(&'a str),
    /// An admin's grant or deduction, named by its audit entry.
    Admin(&'a str),
}

/// A referrer's rewards of one UTC month (`yyyymm`), for the monthly cap.
pub fn referral_month(referrer: &str, at: i64) -> Item {
    let (year, month, _) = crate::domain::admin::civil_date(at.div_euclid(DAY));
    key(format!("REFCAP#{referrer}#{year:04}{month:02}"), "REFCAP")
}

pub const LEDGER_PREFIX: &str = "LEDGER#";

/// The quota item of the UTC day that `at` falls in.
pub fn quota(user_id: &str, at: i64) -> Item {
    key(format!("QUOTA#{user_id}#{}", at.div_euclid(DAY)), "QUOTA")
}

pub fn hold(id: &str) -> Item {
    key(format!("HOLD#{id}"), "HOLD")
}

/// Due holds are spread over a few index partitions so that no single one is hot.
pub const HOLD_SHARDS: u32 = 8;

pub fn hold_index(shard: u32) -> String {
    format!("HOLDS#{shard}")
}

pub fn hold_shard(id: &str) -> u32 {
    id.bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
        % HOLD_SHARDS
}

/// A hold's place in its index partition: by due time, then id.
pub fn hold_due(due_at: i64, id: &str) -> String {
    format!("{due_at:012}#{id}")
}

pub fn idempotency(user_id: &str, key_name: &str) -> Item {
    key(format!("IDEMP#{user_id}#{key_name}"), "IDEMP")
}

/// The index partition of every username and email guard (`gsi1sk` = the lower-case name), so
/// admins can search both by prefix in one sorted stream.
pub const USER_DIRECTORY: &str = "USERDIR";

/// The index partition of every profile (`gsi1sk` = [`user_listing`]), newest last.
pub const USER_LISTING: &str = "USERS";

pub fn user_listing(created_at: i64, id: &str) -> String {
    format!("{created_at:012}#{id}")
}

/// An admin action, in the partition of the user it was done to (newest last).
pub fn audit(user_id: &str, at: i64, id: &str) -> Item {
    key(user_pk(user_id), &format!("{AUDIT_PREFIX}{at:012}#{id}"))
}

pub const AUDIT_PREFIX: &str = "AUDIT#";

/// Paid work of one UTC day, counted in one of a few shards so no single item is hot.
pub fn usage(shard: u32, day: i64) -> Item {
    key(usage_shard(shard), &format!("DAY#{day:08}"))
}

pub fn usage_shard(shard: u32) -> String {
    format!("USAGE#{shard}")
}

/// A person's identity at a provider (`provider`, its `sub`): the user it signs in.
pub fn identity(provider: &str, subject: &str) -> Item {
    key(format!("IDENTITY#{provider}#{subject}"), "IDENTITY")
}

/// A sign-in in flight, taken once.
pub fn signin(state: &str) -> Item {
    key(format!("SIGNIN#{state}"), "SIGNIN")
}

/// A credential that may be used once (an ID token, by its hash), until it expires.
pub fn spent(hash: &str) -> Item {
    key(format!("SPENT#{hash}"), "SPENT")
}
