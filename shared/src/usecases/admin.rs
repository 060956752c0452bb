//! Admin actions on accounts: each one checked against the acting admin, written with its audit
//! entry in one transaction.

use crate::domain::accounts::{CreditBalance, Role, UserRecord};
use crate::domain::admin::{AdminWrite, AuditAction, AuditEntry, DayUsage, USAGE_DAYS_MAX};
use crate::domain::{DAY_SECONDS, now_epoch, plausible_id};
use crate::error::ApiError;
use crate::ports::Store;
use crate::usecases::Deps;

fn no_such_user() -> ApiError {
    ApiError::NotFound("no user with this id".into())
}

/// The user an admin names in the path, as it is now.
pub async fn target<S: Store, B>(deps: &Deps<S, B>, id: &str) -> Result<UserRecord, ApiError> {
    if !plausible_id(id) {
        return Err(no_such_user());
    }
    deps.store.user(id).await?.ok_or_else(no_such_user)
}

fn done<T>(write: AdminWrite<T>) -> Result<T, ApiError> {
    match write {
        AdminWrite::Done(v) => Ok(v),
        AdminWrite::NoSuchUser => Err(no_such_user()),
        AdminWrite::NotAnAdmin => Err(ApiError::forbidden(
            "you are no longer an enabled admin: your role was removed or your account disabled",
        )),
        AdminWrite::Insufficient { available } => Err(ApiError::Conflict {
            message: format!(
                "the user has {available} credits: a deduction cannot take the balance below zero"
            ),
            param: Some("amount".into()),
        }),
    }
}

/// Adds (or, negative, takes away) credits with the reason the user reads in their ledger.
pub async fn grant<S: Store, B>(
    deps: &Deps<S, B>,
    admin: &str,
    user_id: &str,
    amount: i64,
    reason: &str,
) -> Result<(CreditBalance, AuditEntry), ApiError> {
    let audit = AuditEntry::new(
        admin,
        AuditAction::GrantCredits,
        user_id,
        format!("{amount:+} credits: {reason}"),
        now_epoch(),
    );
    let balance = done(
        deps.store
            .adjust_credits(user_id, amount, &audit, reason)
            .await?,
    )?;
    tracing::info!(admin, user_id, amount, audit_id = %audit.id, "admin credit change");
    Ok((balance, audit))
}

/// Disables or enables an account; disabling takes effect for every token and API key at
/// once (each request's admission checks it). An admin cannot lock themselves out.
pub async fn set_disabled<S: Store, B>(
    deps: &Deps<S, B>,
    admin: &str,
    user_id: &str,
    disabled: bool,
) -> Result<UserRecord, ApiError> {
    if disabled && admin == user_id {
        return Err(ApiError::Conflict {
            message: "an admin cannot disable their own account".into(),
            param: None,
        });
    }
    let now = now_epoch();
    let (action, at) = if disabled {
        (AuditAction::Disable, Some(now))
    } else {
        (AuditAction::Enable, None)
    };
    let audit = AuditEntry::new(admin, action, user_id, String::new(), now);
    let user = done(deps.store.set_disabled(user_id, at, &audit).await?)?;
    tracing::info!(admin, user_id, disabled, audit_id = %audit.id, "admin account change");
    Ok(user)
}

/// Grants or removes the admin role. Admins cannot demote themselves (someone must remain).
pub async fn set_role<S: Store, B>(
    deps: &Deps<S, B>,
    admin: &str,
    user_id: &str,
    role: Role,
) -> Result<UserRecord, ApiError> {
    if admin == user_id && role != Role::Admin {
        return Err(ApiError::Conflict {
            message: "an admin cannot remove their own admin role; ask another admin".into(),
            param: Some("role".into()),
        });
    }
    let audit = AuditEntry::new(
        admin,
        AuditAction::SetRole,
        user_id,
        role.as_str().to_string(),
        now_epoch(),
    );
    let user = done(deps.store.set_role(user_id, role, &audit).await?)?;
    tracing::info!(admin, user_id, role = role.as_str(), audit_id = %audit.id, "admin role change");
    Ok(user)
}

/// Paid work of the last `days` UTC days (today included), every day present, oldest first.
pub async fn usage<S: Store, B>(deps: &Deps<S, B>, days: u32) -> Result<Vec<DayUsage>, ApiError> {
    let days = days.clamp(1, USAGE_DAYS_MAX) as i64;
    let today = now_epoch().div_euclid(DAY_SECONDS);
    let first = today - days + 1;
    let counted = deps.store.usage(first, today).await?;
    Ok((first..=today)
        .map(|day| {
            counted
                .iter()
                .find(|u| u.day == day)
                .cloned()
                .unwrap_or(DayUsage {
                    day,
                    ..DayUsage::default()
                })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{admin_user, user_with_credits};
    use crate::app::in_memory;
    use crate::ports::{Accounts, Admin, Credits};

    #[tokio::test]
    async fn a_grant_moves_the_balance_with_a_ledger_line_and_an_audit_entry() {
        let deps = in_memory();
        let admin = admin_user(&deps.store).await;
        let user = user_with_credits(&deps.store, 10).await;
        let (balance, audit) = grant(&deps, &admin, &user, 25, "outage refund")
            .await
            .unwrap();
        assert_eq!(balance.available, 35);
        let line = deps.store.ledger(&user, 10).await.unwrap().remove(0);
        assert_eq!(line.delta, 25);
        assert_eq!(line.reason, "admin_grant");
        assert_eq!(line.reference.as_deref(), Some(admin.as_str()));
        assert_eq!(line.note.as_deref(), Some("outage refund"));
        let trail = deps.store.audit_trail(&user, 10).await.unwrap();
        assert_eq!(trail, vec![audit]);
        assert_eq!(trail[0].actor, admin);
    }

    #[tokio::test]
    async fn a_deduction_never_takes_the_balance_below_zero_and_leaves_nothing() {
        let deps = in_memory();
        let admin = admin_user(&deps.store).await;
        let user = user_with_credits(&deps.store, 10).await;
        let e = grant(&deps, &admin, &user, -11, "x").await.unwrap_err();
        assert!(matches!(e, ApiError::Conflict { param: Some(ref p), .. } if p == "amount"));
        assert_eq!(
            deps.store
                .user(&user)
                .await
                .unwrap()
                .unwrap()
                .credits
                .available,
            10
        );
        assert!(deps.store.audit_trail(&user, 10).await.unwrap().is_empty());
        let (balance, _) = grant(&deps, &admin, &user, -10, "x").await.unwrap();
        assert_eq!(balance.available, 0);
    }

    #[tokio::test]
    async fn admins_cannot_lock_themselves_out_and_unknown_users_are_404() {
        let deps = in_memory();
        let admin = admin_user(&deps.store).await;
        assert!(matches!(
            set_disabled(&deps, &admin, &admin, true).await,
            Err(ApiError::Conflict { .. })
        ));
        assert!(matches!(
            set_role(&deps, &admin, &admin, Role::User).await,
            Err(ApiError::Conflict { .. })
        ));
        assert!(matches!(
            set_disabled(&deps, &admin, "user_nobody", true).await,
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            grant(&deps, &admin, "user_nobody", 5, "x").await,
            Err(ApiError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn a_demoted_or_disabled_admin_changes_nothing_and_one_admin_remains() {
        let deps = in_memory();
        let (ada, bob) = (admin_user(&deps.store).await, admin_user(&deps.store).await);
        let user = user_with_credits(&deps.store, 10).await;
        // Ada demotes Bob; Bob's demotion of Ada, admitted before, is then refused.
        set_role(&deps, &ada, &bob, Role::User).await.unwrap();
        assert!(matches!(
            set_role(&deps, &bob, &ada, Role::User).await,
            Err(ApiError::Forbidden { .. })
        ));
        assert_eq!(
            deps.store.user(&ada).await.unwrap().unwrap().role,
            Role::Admin
        );
        assert!(matches!(
            grant(&deps, &bob, &user, 5, "x").await,
            Err(ApiError::Forbidden { .. })
        ));
        // A disabled admin is no admin either.
        set_role(&deps, &ada, &bob, Role::Admin).await.unwrap();
        set_disabled(&deps, &ada, &bob, true).await.unwrap();
        assert!(matches!(
            set_disabled(&deps, &bob, &user, true).await,
            Err(ApiError::Forbidden { .. })
        ));
        assert!(deps.store.audit_trail(&user, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn usage_lists_every_day_of_the_period() {
        let deps = in_memory();
        let days = usage(&deps, 7).await.unwrap();
        assert_eq!(days.len(), 7);
        assert!(days.windows(2).all(|w| w[1].day == w[0].day + 1));
        assert_eq!(days[6].day, now_epoch().div_euclid(DAY_SECONDS));
        assert!(days.iter().all(|d| d.generations == 0));
    }
}
