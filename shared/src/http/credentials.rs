//! Who is calling: bearer credentials (access tokens and API keys), the request's admission
//! (liveness and the hourly count in one write), and the limits on failed sign-ins and failed
//! authentications.

use super::*;
use crate::usecases::auth::limited;

impl Ctx {
    /// A signed-in session (not an API key): managing API keys, linking a sign-in provider and
    /// the admin routes need one, so a leaked key cannot mint credentials that outlive its
    /// revocation. `what` names the action in the 403.
    pub async fn authenticate_session<S: Store, B>(
        &self,
        deps: &Deps<S, B>,
        req: &Request,
        what: &str,
    ) -> Result<Principal, ApiError> {
        // Sessions have every scope; API keys are refused below whatever theirs.
        let who = self.authenticate(deps, req, Scope::Account).await?;
        if !matches!(who.credential, Credential::Session { .. }) {
            return Err(ApiError::forbidden(format!(
                "API keys cannot {what}: sign in (POST /v1/auth/login) and use the access token"
            )));
        }
        Ok(who)
    }

    /// An admin, by the role on their profile as it is now (not the one a token was issued
    /// with): a removed role takes effect at once. Everyone else gets a 403.
    pub async fn authenticate_admin<S: Store, B>(
        &self,
        deps: &Deps<S, B>,
        req: &Request,
    ) -> Result<Principal, ApiError> {
        let who = self
            .authenticate_session(deps, req, "use the admin routes")
            .await?;
        let me = deps.store.user(&who.user_id).await?;
        if me.is_none_or(|u| u.role != crate::domain::accounts::Role::Admin) {
            return Err(ApiError::forbidden("this route is for admins only"));
        }
        Ok(who)
    }

    /// The caller, admitted: its credential is checked and its request counted in one write
    /// (an authenticated request's only bookkeeping), then its scope. An API key is looked up
    /// once per instance; whether it is still live, and its policy still the one read, is part
    /// of that write, so revocation and changes apply at once.
    pub async fn authenticate<S: Store, B>(
        &self,
        deps: &Deps<S, B>,
        req: &Request,
        scope: Scope,
    ) -> Result<Principal, ApiError> {
        // A tool call of the MCP endpoint, admitted there once for the whole call.
        if let Some(Admitted(principal)) = req.extensions().get::<Admitted>() {
            principal.require(scope)?;
            return Ok(principal.clone());
        }
        let principal = self.admit(deps, req).await?;
        principal.require(scope)?;
        Ok(principal)
    }

    /// `authenticate` short of a scope: the caller, admitted, whatever it may do.
    pub async fn admit<S: Store, B>(
        &self,
        deps: &Deps<S, B>,
        req: &Request,
    ) -> Result<Principal, ApiError> {
        let token = bearer_token(req)?;
        let mut principal = match self.identify(deps, token, false).await {
            // Only failures that cost a lookup count: a token whose signature fails costs
            // nothing (and answers without any AWS call).
            Err(
                e @ ApiError::Unauthorized {
                    code: "invalid_api_key",
                    ..
                },
            ) => {
                return Err(self.failed_auth(deps, e).await);
            }
            other => other?,
        };
        tracing::Span::current().record("user_id", principal.user_id.as_str());
        if let Credential::ApiKey { policy, .. } = &principal.credential
            && let Some(bound) = &policy.resource
            && req
                .extensions()
                .get::<Resource>()
                .is_none_or(|r| &r.0 != bound)
        {
            return Err(ApiError::Unauthorized {
                message: format!(
                    "this token was issued to an MCP client for {bound} and works only there"
                ),
                code: "invalid_audience",
            });
        }
        let now = now_epoch();
        let limit = deps.config.limits.rate_limit_per_hour;
        let mut reread = false;
        let admission = loop {
            let live = match &principal.credential {
                Credential::Session { session_id } => Live::Session(session_id),
                Credential::ApiKey {
                    key_id,
                    policy,
                    version,
                } => Live::ApiKey {
                    id: key_id,
                    version: *version,
                    hourly: policy.rate_limit_per_hour,
                },
                Credential::Queue => return Err(ApiError::internal("a queue credential")),
            };
            let admission = deps
                .store
                .admit(&principal.user_id, live, limit, RATE_WINDOW_SECS, now)
                .await?;
            // The key was changed since this instance read it: read it again, once.
            if admission == Admission::Stale && !reread {
                deps.api_keys.forget(token);
                principal = self.identify(deps, token, true).await?;
                reread = true;
                continue;
            }
            break admission;
        };
        let refused = |window: RateWindow, what: String| {
            let retry = (window.reset_at - now).max(1) as u64;
            ApiError::RateLimited {
                message: format!("{what}. Try again in {retry} seconds."),
                retry_after_secs: retry,
                limit: window.limit,
                reset_epoch: window.reset_at as u64,
            }
        };
        match admission {
            Admission::Admitted(window) => {
                *self.rate.lock().unwrap_or_else(|p| p.into_inner()) = Some(window);
                // The policy is the current one here (its version was part of the admission), so
                // an expiry extended meanwhile is seen.
                if let Credential::ApiKey { key_id, policy, .. } = &principal.credential
                    && let Some(at) = policy.expires_at.filter(|_| policy.expired(now))
                {
                    let message = if policy.resource.is_some() {
                        // An MCP client's token: the client signs in again by itself.
                        format!(
                            "this token expired at {at} (Unix seconds); the MCP client must sign in again"
                        )
                    } else {
                        format!(
                            "this API key expired at {at} (Unix seconds); extend it with PATCH /v1/api-keys/{key_id} from a signed-in session, or create another"
                        )
                    };
                    return Err(ApiError::Unauthorized {
                        message,
                        code: "api_key_expired",
                    });
                }
                Ok(principal)
            }
            Admission::Limited(window) => Err(refused(
                window,
                format!("Rate limit reached: {limit} requests per hour"),
            )),
            Admission::KeyLimited(window) => Err(refused(
                window,
                format!(
                    "This API key's rate limit reached: {} requests per hour",
                    window.limit
                ),
            )),
            Admission::Disabled => Err(ApiError::account_disabled()),
            Admission::Stale => Err(ApiError::internal("an API key changed twice while read")),
            Admission::Revoked => {
                let e = match principal.credential {
                    Credential::ApiKey { .. } => {
                        deps.api_keys.forget(token);
                        ApiError::Unauthorized {
                            message: "invalid API key".into(),
                            code: "invalid_api_key",
                        }
                    }
                    _ => ApiError::Unauthorized {
                        message: "access token has been revoked; sign in again".into(),
                        code: "token_revoked",
                    },
                };
                Err(self.failed_auth(deps, e).await)
            }
        }
    }
}

impl Ctx {
    /// Who a bearer token names (`fresh`: an API key is read from the table even if this
    /// instance knows it). An address that has failed too often is refused before an API key
    /// costs a lookup (an access token's signature costs none).
    async fn identify<S: Store, B>(
        &self,
        deps: &Deps<S, B>,
        token: &str,
        fresh: bool,
    ) -> Result<Principal, ApiError> {
        if token.starts_with(API_KEY_PREFIX) {
            if let Some(e) = deps.failed_auth.refusal(&self.source_ip, now_epoch()) {
                return Err(e);
            }
            let key = match deps.api_keys.get(token).filter(|_| !fresh) {
                Some(key) => key,
                None => {
                    let key = deps
                        .store
                        .key_by_hash(&token_hash(token))
                        .await?
                        .ok_or_else(|| ApiError::Unauthorized {
                            message: "invalid API key".into(),
                            code: "invalid_api_key",
                        })?;
                    deps.api_keys.remember(token, &key);
                    key
                }
            };
            return Ok(Principal {
                user_id: key.user_id,
                role: key.role,
                credential: Credential::ApiKey {
                    key_id: key.id,
                    policy: key.policy,
                    version: key.version,
                },
            });
        }
        // Whether the session is still signed in is checked by the admission's write.
        let claims = verify_access_token(&deps.config, token).await?;
        Ok(Principal {
            user_id: claims.sub,
            role: claims.role,
            credential: Credential::Session {
                session_id: claims.sid,
            },
        })
    }

    /// Counts a failed authentication that cost a lookup for the client's address; past the
    /// limit the answer is a 429, and this instance refuses that address's API keys without a
    /// lookup until the window ends. One client cannot spend every user's share of the table
    /// on bad keys.
    async fn failed_auth<S: Store, B>(
        &self,
        deps: &Deps<S, B>,
        unauthorized: ApiError,
    ) -> ApiError {
        let now = now_epoch();
        if let Some(e) = deps.failed_auth.refusal(&self.source_ip, now) {
            return e;
        }
        let limit = deps.config.limits.anonymous_rate_limit_per_hour;
        let key = format!("authfail:{}", self.source_ip);
        match deps.store.hit(&key, limit, RATE_WINDOW_SECS, now).await {
            Ok(Ok(_)) => unauthorized,
            Ok(Err(window)) => {
                deps.failed_auth.block(&self.source_ip, window);
                deps.failed_auth
                    .refusal(&self.source_ip, now)
                    .unwrap_or(unauthorized)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not count a failed authentication");
                unauthorized
            }
        }
    }

    /// Limits the unauthenticated routes (register, login, refresh) per client address.
    pub async fn throttle_address<S: Store, B>(&self, deps: &Deps<S, B>) -> Result<(), ApiError> {
        let now = now_epoch();
        let limit = deps.config.limits.anonymous_rate_limit_per_hour;
        let key = format!("ip:{}", self.source_ip);
        match deps.store.hit(&key, limit, RATE_WINDOW_SECS, now).await? {
            Ok(_) => Ok(()),
            Err(w) => Err(limited(
                w,
                now,
                format!("Too many requests from this address: {limit} per hour."),
            )),
        }
    }

    /// Before a password is checked: refused when this address has failed too often for this
    /// account, or when the account has failed too often from everywhere and this address is
    /// among those that failed. Only failures count, and per address: nobody can lock the
    /// owner out by failing on purpose, while guessing is slowed from each address and, across
    /// many, for every address that has guessed wrong.
    pub async fn check_sign_in<S: Store, B>(
        &self,
        deps: &Deps<S, B>,
        account: &str,
    ) -> Result<(), ApiError> {
        let now = now_epoch();
        let limit = deps.config.limits.login_attempts_per_window;
        let (here, everywhere) = self.sign_in_keys(account);
        let (here_hits, all_hits) = futures::try_join!(
            deps.store.hits(&here, LOGIN_WINDOW_SECS, now),
            deps.store.hits(&everywhere, LOGIN_WINDOW_SECS, now),
        )?;
        let account_wide = limit.saturating_mul(ACCOUNT_WIDE_FACTOR);
        if here_hits >= limit || (all_hits >= account_wide && here_hits > 0) {
            let reset_at =
                crate::domain::accounts::window_start(now, LOGIN_WINDOW_SECS) + LOGIN_WINDOW_SECS;
            let window = RateWindow {
                limit,
                used: here_hits,
                reset_at,
            };
            return Err(limited(
                window,
                now,
                format!(
                    "Too many failed sign-in attempts for this account from this address: {limit} per 15 minutes."
                ),
            ));
        }
        Ok(())
    }

    /// Counts a wrong password for this account, from this address and in all.
    pub async fn sign_in_failed<S: Store, B>(&self, deps: &Deps<S, B>, account: &str) {
        let now = now_epoch();
        let (here, everywhere) = self.sign_in_keys(account);
        let (a, b) = futures::join!(
            deps.store.hit(&here, u32::MAX, LOGIN_WINDOW_SECS, now),
            deps.store
                .hit(&everywhere, u32::MAX, LOGIN_WINDOW_SECS, now),
        );
        if let Err(e) = a.and(b) {
            tracing::warn!(error = %e, "could not count a failed sign-in");
        }
    }

    fn sign_in_keys(&self, account: &str) -> (String, String) {
        (
            format!("login:{account}:{}", self.source_ip),
            format!("login:{account}"),
        )
    }
}

/// Failures on one account from every address together that make each failing address wait,
/// as a multiple of the per-address limit (a correct password from an address that has not
/// failed is still let in).
pub const ACCOUNT_WIDE_FACTOR: u32 = 10;

/// Window of the per-account sign-in limit.
pub const LOGIN_WINDOW_SECS: i64 = 15 * 60;

/// The resource a request was made at, set by a function that serves one (the MCP endpoint's
/// URL): a key bound to a resource works only where this names it. Clients cannot set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource(pub String);

/// A principal already admitted for this request (one MCP tool call, counted once at `/mcp`):
/// the handlers it reaches check only its scope. Clients cannot set it.
#[derive(Debug, Clone)]
pub struct Admitted(pub Principal);

/// The token from `Authorization: Bearer <token>`.
pub fn bearer_token(req: &Request) -> Result<&str, ApiError> {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized {
            message: "missing credentials: send 'Authorization: Bearer <access token or API key>'"
                .into(),
            code: "missing_credentials",
        })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::unauthorized(
            "malformed Authorization header: expected 'Bearer <token>'",
        )),
    }
}
