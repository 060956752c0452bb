//! Sign-ins in flight and linked identities, in memory.

use super::*;
use crate::domain::signin::{Claimant, Idp, SigninState};

impl Identities for MemoryStore {
    async fn save_signin(&self, state: &SigninState) -> Result<(), ApiError> {
        self.state()
            .signins
            .insert(state.state.clone(), state.clone());
        Ok(())
    }

    async fn take_signin(
        &self,
        state: &str,
        provider: Idp,
        now: i64,
        who: Claimant<'_>,
    ) -> Result<Option<SigninState>, ApiError> {
        let mut st = self.state();
        let usable = st
            .signins
            .get(state)
            .is_some_and(|s| s.provider == provider && s.expires_at > now && s.claimable_by(who));
        Ok(if usable {
            st.signins.remove(state)
        } else {
            None
        })
    }

    async fn spend_once(&self, hash: &str, until: i64) -> Result<bool, ApiError> {
        let mut st = self.state();
        if st.spent.contains_key(hash) {
            return Ok(false);
        }
        st.spent.insert(hash.to_string(), until);
        Ok(true)
    }

    async fn identity_user(
        &self,
        provider: Idp,
        subject: &str,
    ) -> Result<Option<String>, ApiError> {
        Ok(self
            .state()
            .identities
            .get(&(provider, subject.to_string()))
            .cloned())
    }

    async fn link_identity(
        &self,
        provider: Idp,
        subject: &str,
        user_id: &str,
        _now: i64,
    ) -> Result<bool, ApiError> {
        let mut st = self.state();
        let key = (provider, subject.to_string());
        if st.identities.contains_key(&key) {
            return Ok(false);
        }
        st.identities.insert(key, user_id.to_string());
        Ok(true)
    }

    async fn create_user_with_identity(
        &self,
        user: &UserRecord,
        provider: Idp,
        subject: &str,
    ) -> Result<Result<(), Taken>, ApiError> {
        if self
            .state()
            .identities
            .contains_key(&(provider, subject.to_string()))
        {
            return Ok(Err(Taken::Identity));
        }
        // The store's lock is per call: a race between these two steps cannot happen in the
        // single-threaded use-case tests that use this adapter.
        let created = self.create_user(user).await?;
        if created.is_ok() {
            self.state()
                .identities
                .insert((provider, subject.to_string()), user.id.clone());
        }
        Ok(created)
    }
}
