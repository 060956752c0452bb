//! Sign-ins in flight, single-use ID tokens, and the identities that sign users in.

use super::accounts::identity_item;
use super::*;

fn signin_from(it: &Item) -> Result<SigninState, ApiError> {
    Ok(SigninState {
        state: get_s(it, "state")?,
        provider: Idp::parse(&get_s(it, "provider")?).ok_or_else(|| corrupt("provider"))?,
        nonce: get_s(it, "nonce")?,
        pkce: match opt_s(it, "client_challenge") {
            Some(challenge) => Pkce::Client { challenge },
            None => Pkce::Server {
                verifier: get_s(it, "pkce_verifier")?,
            },
        },
        redirect_uri: get_s(it, "redirect_uri")?,
        started_by: opt_s(it, "started_by"),
        referral_code: opt_s(it, "referral_code"),
        return_to: opt_s(it, "return_to"),
        browser_binding: opt_s(it, "browser_binding"),
        expires_at: get_n(it, "expires_at")?,
    })
}

impl Identities for DynamoStore {
    async fn save_signin(&self, st: &SigninState) -> Result<(), ApiError> {
        let mut it = item(
            keys::signin(&st.state),
            [
                ("state", s(&st.state)),
                ("provider", s(st.provider.as_str())),
                ("nonce", s(&st.nonce)),
                match &st.pkce {
                    Pkce::Server { verifier } => ("pkce_verifier", s(verifier)),
                    Pkce::Client { challenge } => ("client_challenge", s(challenge)),
                },
                ("redirect_uri", s(&st.redirect_uri)),
                ("expires_at", n(st.expires_at)),
            ],
        );
        for (name, value) in [
            ("started_by", &st.started_by),
            ("referral_code", &st.referral_code),
            ("return_to", &st.return_to),
            ("browser_binding", &st.browser_binding),
        ] {
            if let Some(v) = value {
                it.insert(name.into(), s(v));
            }
        }
        // States are 256 random bits: a taken one is a bug, not a retry.
        if self.put_if_absent(it).await? {
            Ok(())
        } else {
            Err(ApiError::internal("sign-in state collision"))
        }
    }

    async fn take_signin(
        &self,
        state: &str,
        provider: Idp,
        now: i64,
        who: Claimant<'_>,
    ) -> Result<Option<SigninState>, ApiError> {
        // Deleted by the read that returns it: a replayed state finds nothing. An expired one
        // (TTL deletion is lazy), another provider's, or one `who` may not take is left alone.
        // The condition is `SigninState::claimable_by`'s.
        let mut delete = self
            .delete_item(keys::signin(state))
            .await
            .expression_attribute_values(":p", s(provider.as_str()))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllOld);
        let mut values = Vec::new();
        let mut equal_or_absent = |attr: &str, value: Option<&str>| match value {
            Some(v) => {
                values.push((format!(":{attr}"), s(v)));
                format!("{attr} = :{attr}")
            }
            None => format!("attribute_not_exists({attr})"),
        };
        let bound = match who {
            Claimant::Browser(b) => equal_or_absent("browser_binding", Some(b)),
            Claimant::App { user, challenge } => [
                equal_or_absent("browser_binding", None),
                equal_or_absent("started_by", user),
                equal_or_absent("client_challenge", challenge),
            ]
            .join(" AND "),
        };
        for (name, value) in values {
            delete = delete.expression_attribute_values(name, value);
        }
        let result = delete
            .condition_expression(format!(
                "attribute_exists(pk) AND provider = :p AND expires_at > :now AND {bound}"
            ))
            .send()
            .await;
        match result {
            Ok(out) => out.attributes.as_ref().map(signin_from).transpose(),
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn spend_once(&self, hash: &str, until: i64) -> Result<bool, ApiError> {
        self.put_if_absent(item(keys::spent(hash), [("expires_at", n(until))]))
            .await
    }

    async fn identity_user(
        &self,
        provider: Idp,
        subject: &str,
    ) -> Result<Option<String>, ApiError> {
        self.get(keys::identity(provider.as_str(), subject))
            .await?
            .map(|it| get_s(&it, "user_id"))
            .transpose()
    }

    async fn link_identity(
        &self,
        provider: Idp,
        subject: &str,
        user_id: &str,
        now: i64,
    ) -> Result<bool, ApiError> {
        self.put_if_absent(identity_item(provider, subject, user_id, now))
            .await
    }

    async fn create_user_with_identity(
        &self,
        user: &UserRecord,
        provider: Idp,
        subject: &str,
    ) -> Result<Result<(), Taken>, ApiError> {
        self.create_user_with(user, Some((provider, subject))).await
    }
}
