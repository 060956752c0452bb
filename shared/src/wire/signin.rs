//! OpenID Connect sign-in (`POST /v1/signin`).

use super::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/signin`, one of three steps (`sign_type`):
/// - `signin`: `sign_to`, `redirect_uri`, the app's `code_challenge` (S256; recommended)
///   (and `referral_code` for a first sign-in) → the provider's URL and the sign-in's `state`.
///   With `Authorization: Bearer`, the sign-in links the provider to that account, and only
///   that session can finish it;
/// - `code`: `sign_to`, `code`, `state`, the `code_verifier` if a challenge was sent (and
///   Apple's `user` on a first sign-in) → our tokens. Sent by the session that started it;
/// - `id_token`: `sign_to`, `id_token` obtained in the browser (Google Identity Services,
///   Sign in with Apple JS) and the `nonce` the app set → our tokens; each ID token signs in
///   once, and linking (with `Authorization: Bearer`) needs the nonce.
#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct SigninRequest {
    #[schema(pattern = "^(signin|code|id_token)$")]
    pub sign_type: Option<String>,
    /// `google`, `microsoft` or `apple`: one this deployment is configured for.
    #[schema(pattern = "^(google|microsoft|apple)$")]
    pub sign_to: Option<String>,
    /// `signin`: where the provider sends the browser back with the code (registered with it).
    #[schema(max_length = 2000)]
    pub redirect_uri: Option<String>,
    /// `signin`: a referral code, used if this sign-in creates the account.
    #[schema(max_length = 64)]
    pub referral_code: Option<String>,
    /// `signin`: the app's PKCE challenge (RFC 7636), the base64url SHA-256 of a
    /// `code_verifier` only the app knows; the `code` step then needs that verifier.
    #[schema(pattern = "^[A-Za-z0-9_-]{43}$")]
    pub code_challenge: Option<String>,
    /// `signin`: `S256`, the only method accepted.
    #[schema(pattern = "^S256$")]
    pub code_challenge_method: Option<String>,
    /// `code`: the authorization code the provider returned.
    #[schema(max_length = 4096)]
    pub code: Option<String>,
    /// `code`: the `state` the `signin` step returned (and the provider echoed).
    #[schema(max_length = 128)]
    pub state: Option<String>,
    /// `code`: the PKCE verifier, when the `signin` step was given its `code_challenge`.
    #[schema(min_length = 43, max_length = 128)]
    pub code_verifier: Option<String>,
    /// `code`, Apple only: the `user` JSON Apple posts with the first sign-in (the name).
    #[schema(max_length = 4096)]
    pub user: Option<String>,
    /// `id_token`: the ID token the provider gave the browser.
    #[schema(max_length = 16384)]
    pub id_token: Option<String>,
    /// `id_token`: the nonce the app asked the provider to put in the token; checked when
    /// given, and required to link (with `Authorization: Bearer`).
    #[schema(max_length = 256)]
    pub nonce: Option<String>,
}

/// `POST /v1/signin`'s answer: the provider's URL (`signin`) or our tokens (`code`,
/// `id_token`).
#[derive(Serialize, ToSchema, Debug)]
#[serde(untagged)]
pub enum SigninAnswer {
    Started(SigninStarted),
    Tokens(TokenResponse),
}

/// The `signin` step's answer: send the browser to `url`; `state` comes back with the code.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct SigninStarted {
    pub url: String,
    pub state: String,
}
