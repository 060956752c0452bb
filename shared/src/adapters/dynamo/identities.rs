//! Sign-ins in flight, single-use ID tokens, and the identities that sign users in.

use super::accounts::identity_item;
use super::*;

fn signin_from(it: &Item) -> Result<SigninState, ApiError> {
    Ok(SigninState {
        state: get_s(it, "state")?,
        provider: Idp::parse(&get_s(it, "provider")?).ok_or_else(|| corrupt("provider"))?,
        nonce: get_s(it, "nonce")?,
        pkce_verifier: get_s(it, "pkce_verifier")?,
        redirect_uri: get_s(it, "redirect_uri")?,
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
                ("pkce_verifier", s(&st.pkce_verifier)),
                ("redirect_uri", s(&st.redirect_uri)),
                ("expires_at", n(st.expires_at)),
            ],
        );
        for (name, value) in [
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
        binding: Option<&str>,
    ) -> Result<Option<SigninState>, ApiError> {
        // Deleted by the read that returns it: a replayed state finds nothing. An expired one
        // (TTL deletion is lazy), another provider's or another browser's is left alone.
        let mut delete = self
            .delete_item(keys::signin(state))
            .await
            .expression_attribute_values(":p", s(provider.as_str()))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllOld);
        let bound = match binding {
            Some(b) => {
                delete = delete.expression_attribute_values(":b", s(b));
                "browser_binding = :b"
            }
            None => "attribute_not_exists(browser_binding)",
        };
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
