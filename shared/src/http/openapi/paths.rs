//! One stub per operation: its route, parameters, bodies and answers as `/v1/doc` shows them.
//! The handlers are the function crates; these only describe them.

use super::*;

#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", operation_id = "register",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created, with the signup credit grant", body = UserResponse),
        (status = 400, description = "Invalid field (named in `param`), an unknown `referral_code` among them", body = ErrorResponse),
        (status = 409, description = "Username or email already taken", body = ErrorResponse),
        (status = 415, description = "Body is not JSON", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn register() {}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "Invalid field", body = ErrorResponse),
        (status = 401, description = "Wrong username/email or password (one message for both)", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn login() {}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", operation_id = "refresh",
    request_body(content = Option<RefreshRequest>, description = "The refresh token; without a body, the `__Secure-refresh_token` cookie the web pages' sign-in set is used, and the next one is set there instead of answered"),
    responses(
        (status = 200, description = "New access token and a new refresh token (in the body, or in the cookie it came from); the old one is spent", body = TokenResponse),
        (status = 204, description = "No body and no refresh cookie: a visitor without a session, nothing to refresh"),
        (status = 401, description = "Unknown, expired or already-used refresh token (reuse revokes the session)", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn refresh() {}

#[utoipa::path(post, path = "/v1/signout", tag = "auth", operation_id = "signout",
    request_body(content = Option<SignoutRequest>, description = "Optional"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The session's access and refresh tokens are revoked", body = SignoutResponse),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn signout() {}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", operation_id = "logout",
    request_body(content = Option<SignoutRequest>, description = "Optional"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Alias of /v1/signout", body = SignoutResponse),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn logout() {}

#[utoipa::path(get, path = "/v1/me", tag = "auth", operation_id = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Profile, role and credits", body = UserResponse),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
        (status = 429, description = "Hourly request limit reached", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn me() {}

#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", operation_id = "create_api_key",
    request_body(content = Option<CreateApiKeyRequest>, description = "Optional"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The key, shown this once", body = ApiKeyCreated),
        (status = 403, description = "API keys cannot manage API keys: use a signed-in session's access token", body = ErrorResponse),
        (status = 400, description = "Invalid name or limit (named in `param`): an unknown model, an hourly limit above the account's, an expiry in the past", body = ErrorResponse),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn create_api_key() {}

#[utoipa::path(get, path = "/v1/webhooks/secret", tag = "webhooks", operation_id = "webhook_secret",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The Standard Webhooks signing secret, made on first use", body = WebhookSecretResponse),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
        (status = 429, description = "Over the hourly request limit", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn webhook_secret() {}

#[utoipa::path(post, path = "/v1/webhooks/secret/rotate", tag = "webhooks", operation_id = "rotate_webhook_secret",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new secret; the old one still signs for 24 hours", body = WebhookSecretResponse),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
        (status = 403, description = "An API key cannot rotate the secret: sign in", body = ErrorResponse),
        (status = 409, description = "Rotated by another request at the same moment", body = ErrorResponse),
        (status = 429, description = "Over the hourly request limit", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn rotate_webhook_secret() {}

#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", operation_id = "list_api_keys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's keys, newest first (never the secret)", body = ApiKeyList),
        (status = 403, description = "API keys cannot manage API keys: use a signed-in session's access token", body = ErrorResponse),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn list_api_keys() {}

#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", operation_id = "revoke_api_key",
    params(("id" = String, Path, description = "The key id from the list")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Revoked: the key fails at once everywhere", body = Deleted),
        (status = 403, description = "API keys cannot manage API keys: use a signed-in session's access token", body = ErrorResponse),
        (status = 404, description = "No such key for this user", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn revoke_api_key() {}

#[utoipa::path(patch, path = "/v1/api-keys/{id}", tag = "api-keys", operation_id = "update_api_key",
    params(("id" = String, Path, description = "The key id from the list")),
    request_body = UpdateApiKeyRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The key as it is now, with its spend; every request it makes from now on is held to the change", body = ApiKeyInfo),
        (status = 403, description = "API keys cannot manage API keys: use a signed-in session's access token", body = ErrorResponse),
        (status = 404, description = "No such key for this user", body = ErrorResponse),
        (status = 409, description = "Changed by another request at the same moment: read it again and retry", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn update_api_key() {}

#[utoipa::path(get, path = "/v1/usage", tag = "credits", operation_id = "get_usage",
    params(
        ("start" = Option<String>, Query, format = Date, description = "First day (UTC, `yyyy-mm-dd`); default 29 days before `end`"),
        ("end" = Option<String>, Query, format = Date, description = "Last day (UTC); default today. A report covers at most 92 days"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Paid work per day, model and key (or `session`), as charged: refunds are taken back, so the credits add up to the ledger's lines of those days", body = AccountUsage),
        (status = 400, description = "Not a date, start after end, or more than 92 days (named in `param`)", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn get_usage() {}

#[utoipa::path(post, path = "/v1/images/generations", tag = "images", operation_id = "generate_image",
    request_body = CreateImageRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Replays the first answer for 24 h without charging again"),
        ("Prefer" = Option<String>, Header, description = "`respond-async`: answer 202 with a job at once; `wait=N` (at most 25): wait up to N s for the job, then answer 200 with the result or 202 with the job"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Exactly n images, as URLs (presigned, default 1 h) or base64; with `stream: true`, Server-Sent Events `image_generation.partial_image` and `image_generation.completed`, which arrive together through this API and each as it is made through the streaming API (the stack's `StreamApiUrl`, the same paths); with `dry_run: true`, the quote (nothing charged)", content(
            (ImagesOrQuote = "application/json"),
            (ImageStreamEvent = "text/event-stream"),
        )),
        (status = 202, description = "Queued as a job (`Prefer: respond-async`); `Location: /v1/jobs/{id}`", body = JobObject),
        (status = 400, description = "Unsupported value or combination (named in `param`), or `content_policy_violation`", body = ErrorResponse),
        (status = 409, description = "Idempotency-Key reused with another body", body = ErrorResponse),
        (status = 429, description = "`insufficient_quota` (credits), `budget_exceeded` (the API key's budget; Retry-After is its reset), daily image limit or hourly request limit (the account's or the key's)", body = ErrorResponse),
        (status = 502, description = "The provider failed (nothing charged)", body = ErrorResponse),
        (status = 503, description = "The provider is overloaded (Retry-After)", body = ErrorResponse),
        (status = 504, description = "The provider timed out (nothing charged)", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn generate_image() {}

#[utoipa::path(post, path = "/v1/generate-image", tag = "images", operation_id = "generate_image_alias",
    request_body = CreateImageRequest,
    security(("bearer" = [])),
    responses((status = 200, description = "Alias of /v1/images/generations", body = ImagesOrQuote)))]
#[allow(dead_code)]
pub(super) fn generate_image_alias() {}

#[utoipa::path(get, path = "/v1/images", tag = "images", operation_id = "list_images",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,64}$", description = "`next_cursor` of the previous page"),
        ("type" = Option<String>, Query, pattern = "^(all|image|video|upload)$", description = "all (default), image, video or upload"),
        ("sort" = Option<String>, Query, pattern = "^(newest|oldest)$", description = "newest (default) or oldest"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the caller's assets", body = ImageList),
        (status = 400, description = "Invalid limit, cursor, type or sort", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn list_images() {}

#[utoipa::path(get, path = "/v1/images/{id}", tag = "images", operation_id = "get_image",
    params(("id" = String, Path, description = "Asset id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Metadata with fresh presigned URLs", body = ImageInfo),
        (status = 404, description = "Unknown id, or another user's", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn get_image() {}

#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", operation_id = "get_job",
    params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job; once succeeded, `result` is the synchronous answer with fresh URLs", body = JobObject),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
        (status = 404, description = "Unknown id, or another user's", body = ErrorResponse),
        (status = 429, description = "Rate limit reached", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn get_job() {}

#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", operation_id = "list_jobs",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,64}$", description = "`next_cursor` of the previous page"),
        ("status" = Option<String>, Query, pattern = "^(queued|processing|succeeded|failed|canceled)$", description = "queued, processing, succeeded, failed or canceled"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the caller's jobs, newest first; results name their images without URLs or bytes (GET /v1/jobs/{id} refills them)", body = JobList),
        (status = 400, description = "Invalid limit, cursor or status", body = ErrorResponse),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
        (status = 429, description = "Rate limit reached", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn list_jobs() {}

#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "jobs", operation_id = "cancel_job",
    params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Canceled and refunded (was queued), or `cancel_requested` (processing: it stops at its next checkpoint, then is refunded)", body = JobObject),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
        (status = 404, description = "Unknown id, or another user's", body = ErrorResponse),
        (status = 409, description = "The job already ended", body = ErrorResponse),
        (status = 429, description = "Rate limit reached", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn cancel_job() {}

#[utoipa::path(get, path = "/v1/images/{id}/content", tag = "images", operation_id = "download_image",
    params(
        ("id" = String, Path, description = "Asset id"),
        ("variant" = Option<String>, Query, pattern = "^(original|thumbnail|preview)$", description = "original (default), thumbnail (256 px) or preview (1024 px); the last two in AVIF or WebP by the request's Accept header"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 302, description = "Redirect to a signed URL (the same for every request within a window); for a thumbnail or preview, of the format the Accept header prefers (AVIF where named, else WebP), with Vary: Accept. A preview not made yet redirects to the original.", headers(("Vary" = String, description = "Accept"))),
        (status = 404, description = "Unknown id, or another user's", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn download_image() {}

#[utoipa::path(get, path = "/v1/images/{id}/versions", tag = "images", operation_id = "list_versions",
    params(("id" = String, Path, description = "Any version's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The lineage's versions that exist, oldest first", body = VersionList),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
        (status = 404, description = "Unknown id, or another user's", body = ErrorResponse),
        (status = 429, description = "Rate limit reached", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn list_versions() {}

#[utoipa::path(get, path = "/v1/images/{id}/provenance", tag = "images", operation_id = "get_provenance",
    params(("id" = String, Path, description = "Asset id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The asset's Content Credentials, validated (`validation_state` None when it has none)", body = ImageProvenance),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
        (status = 404, description = "Unknown id, or another user's", body = ErrorResponse),
        (status = 429, description = "Rate limit reached", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn get_provenance() {}

#[utoipa::path(delete, path = "/v1/images/{id}", tag = "images", operation_id = "delete_image",
    params(
        ("id" = String, Path, description = "Asset id"),
        ("all_versions" = Option<bool>, Query, description = "Delete every version of the asset's lineage (default: this version only; its children then name its parent)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Objects and metadata removed", body = DeletedImage),
        (status = 400, description = "all_versions is not true or false", body = ErrorResponse),
        (status = 404, description = "Unknown id, another user's, or already deleted", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn delete_image() {}

#[utoipa::path(post, path = "/v1/images/edits", tag = "images", operation_id = "edit_images",
    request_body(content(
        (EditImageForm = "multipart/form-data"),
        (EditImageJson = "application/json"),
    )),
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Replays the first answer for 24 h"),
        ("Prefer" = Option<String>, Header, description = "`respond-async` or `wait=N` (at most 25): run as a job"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Exactly n edited images; with `stream: true`, Server-Sent Events `image_edit.partial_image` and `image_edit.completed`, each as it is made through the streaming API (the stack's `StreamApiUrl`); with `dry_run: true`, the quote", body = ImagesOrQuote),
        (status = 202, description = "Queued as a job; `Location: /v1/jobs/{id}`", body = JobObject),
        (status = 400, description = "Bad image, mask, field or combination (named in `param`)", body = ErrorResponse),
        (status = 404, description = "A named asset does not exist", body = ErrorResponse),
        (status = 413, description = "Inline image too large: use /v1/uploads", body = ErrorResponse),
        (status = 429, description = "`insufficient_quota`, daily or hourly limit", body = ErrorResponse),
        (status = 502, description = "The provider failed (nothing charged)", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn edit_images() {}

#[utoipa::path(post, path = "/v1/edit-image", tag = "images", operation_id = "edit_images_alias",
    request_body(content((EditImageForm = "multipart/form-data"), (EditImageJson = "application/json"))),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Alias of /v1/images/edits", body = ImagesOrQuote),
        (status = 202, description = "Queued as a job; `Location: /v1/jobs/{id}`", body = JobObject),
        (status = 404, description = "A named asset does not exist", body = ErrorResponse),
        (status = 409, description = "Idempotency-Key reused with another body", body = ErrorResponse),
        (status = 502, description = "The provider failed (nothing charged)", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn edit_images_alias() {}

#[utoipa::path(post, path = "/v1/images/variations", tag = "images", operation_id = "image_variations",
    request_body(content((VariationForm = "multipart/form-data"))),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Exactly n variations; with `dry_run: true`, the quote", body = ImagesOrQuote),
        (status = 202, description = "Queued as a job (`Prefer: respond-async` or `wait=N`); `Location: /v1/jobs/{id}`", body = JobObject),
        (status = 400, description = "Bad image or field (named in `param`)", body = ErrorResponse),
        (status = 413, description = "Inline image too large: use /v1/uploads", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn image_variations() {}

#[utoipa::path(patch, path = "/v1/images/{id}", tag = "images", operation_id = "update_image",
    params(("id" = String, Path, description = "Asset id")),
    request_body = UpdateImageRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Title and tags changed", body = ImageInfo),
        (status = 201, description = "A new version (its parent_id is this asset, which is kept)", body = ImageInfo),
        (status = 400, description = "Invalid field", body = ErrorResponse),
        (status = 404, description = "Unknown id, or another user's", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn update_image() {}

#[utoipa::path(post, path = "/v1/images/{id}/transform", tag = "images", operation_id = "transform_image",
    params(("id" = String, Path, description = "Source asset id")),
    request_body = TransformRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new asset", body = TransformedImage),
        (status = 400, description = "Unknown operation or out-of-range value (`operations[i].field`)", body = ErrorResponse),
        (status = 404, description = "Unknown id, or another user's", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn transform_image() {}

#[utoipa::path(post, path = "/v1/uploads", tag = "images", operation_id = "create_upload",
    request_body = CreateUploadRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "A presigned PUT (content type and length bound in)", body = UploadTicket),
        (status = 400, description = "Unsupported content type or size", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn create_upload() {}

#[utoipa::path(post, path = "/v1/uploads/{id}/complete", tag = "images", operation_id = "complete_upload",
    params(("id" = String, Path, description = "Upload id")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered as an asset of kind upload", body = ImageInfo),
        (status = 200, description = "Already completed: the same asset", body = ImageInfo),
        (status = 400, description = "Nothing uploaded, or not a supported image (the object is deleted)", body = ErrorResponse),
        (status = 413, description = "Larger than announced (the object is deleted)", body = ErrorResponse),
        (status = 404, description = "Unknown upload id", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn complete_upload() {}

#[utoipa::path(get, path = "/v1/models", tag = "models", operation_id = "list_models",
    responses((status = 200, description = "The models this deployment can serve", body = ModelList)))]
#[allow(dead_code)]
pub(super) fn list_models() {}

#[utoipa::path(get, path = "/v1/models/{id}", tag = "models", operation_id = "get_model",
    params(("id" = String, Path, description = "Model id")),
    responses(
        (status = 200, description = "Sizes, qualities, styles, cost and tips", body = ModelInfo),
        (status = 404, description = "Unknown or unavailable model", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn get_model() {}

#[utoipa::path(get, path = "/v1/credit", tag = "credits", operation_id = "credit",
    security(("bearer" = [])),
    responses((status = 200, description = "Available, earned and spent credits, recent ledger", body = CreditResponse)))]
#[allow(dead_code)]
pub(super) fn credit() {}

#[utoipa::path(get, path = "/v1/referral-link", tag = "credits", operation_id = "referral_link",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's referral code, the link to share and what it earns", body = ReferralLink),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
        (status = 429, description = "Rate limit reached", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn referral_link() {}

#[utoipa::path(post, path = "/v1/signin", tag = "signin", operation_id = "signin",
    request_body = SigninRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "`signin`: the provider's authorization URL and the state (`SigninStarted`); `code` and `id_token`: our tokens (`TokenResponse`)", body = SigninAnswer),
        (status = 400, description = "A field missing, invalid or not used by this sign_type (named in `param`); `sign_to` not a provider configured here (the message names those that are); an unknown `referral_code`", body = ErrorResponse),
        (status = 401, description = "Unknown, expired or replayed state (`invalid_state`); the provider refused the code (`invalid_grant`); an ID token that does not verify: signature, algorithm, key, issuer, tenant, audience, expiry or nonce (`invalid_id_token`)", body = ErrorResponse),
        (status = 403, description = "The account is disabled", body = ErrorResponse),
        (status = 409, description = "With Bearer: the identity is already linked to another account", body = ErrorResponse),
        (status = 502, description = "The provider did not answer as expected", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn signin() {}

#[utoipa::path(get, path = "/v1/signin/{provider}", tag = "signin", operation_id = "signin_start",
    params(
        ("provider" = String, Path, pattern = "^(google|microsoft|apple)$", description = "A provider configured here"),
        ("return_to" = Option<String>, Query, max_length = 2000, pattern = "^/([A-Za-z0-9._~!$&'()*+,;=:@%?-][A-Za-z0-9._~!$&'()*+,;=:@%?/-]*)?$", description = "A path on this site to go to once signed in (default /)"),
        ("referral_code" = Option<String>, Query, max_length = 64, description = "Used if this sign-in creates the account"),
    ),
    responses(
        (status = 302, description = "To the provider; the sign-in is bound to this browser by a cookie"),
        (status = 400, description = "return_to is not a path on this site, or an unknown referral_code", body = ErrorResponse),
        (status = 404, description = "No such provider configured here", body = ErrorResponse),
        (status = 502, description = "The provider's metadata could not be read", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn signin_start() {}

#[utoipa::path(get, path = "/v1/signin/{provider}/callback", tag = "signin", operation_id = "signin_callback",
    params(
        ("provider" = String, Path, pattern = "^(google|microsoft|apple)$", description = "The provider coming back"),
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("state" = Option<String>, Query, description = "The sign-in's state"),
        ("error" = Option<String>, Query, description = "Why the provider did not sign the person in"),
    ),
    responses(
        (status = 302, description = "Signed in: the refresh token is set as an HttpOnly cookie for /v1/auth, and the browser goes to the sign-in's return_to"),
        (status = 401, description = "Unknown, expired, replayed or another browser's sign-in; refused at the provider; an ID token that does not verify", body = ErrorResponse),
        (status = 403, description = "The account is disabled", body = ErrorResponse),
        (status = 404, description = "No such provider configured here", body = ErrorResponse),
        (status = 502, description = "The provider did not answer as expected", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn signin_callback() {}

#[utoipa::path(post, path = "/v1/signin/{provider}/callback", tag = "signin", operation_id = "signin_callback_post",
    params(("provider" = String, Path, pattern = "^(google|microsoft|apple)$", description = "The provider coming back")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "`code`, `state`, and on Apple's first sign-in `user` (`response_mode=form_post`)"),
    responses(
        (status = 302, description = "As the GET"),
        (status = 401, description = "As the GET", body = ErrorResponse),
        (status = 403, description = "The account is disabled", body = ErrorResponse),
        (status = 404, description = "No such provider configured here", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn signin_callback_post() {}

#[utoipa::path(get, path = "/v1/admin/users", tag = "admin", operation_id = "admin_list_users",
    params(
        ("q" = Option<String>, Query, max_length = 254, description = "Users whose username or email starts with this (case-insensitive), in name order; every user newest first when absent"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size, 1 to 100 (default 20)"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,400}$", description = "`next_cursor` of the previous page, with the same `q`"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of users", body = AdminUserList),
        (status = 400, description = "Invalid q, limit or cursor", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn admin_list_users() {}

#[utoipa::path(get, path = "/v1/admin/users/{id}", tag = "admin", operation_id = "admin_get_user",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user and the admin actions on it, newest first", body = AdminUserDetail),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No user with this id", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn admin_get_user() {}

#[utoipa::path(post, path = "/v1/admin/users/{id}/credits", tag = "admin", operation_id = "admin_grant_credits",
    params(("id" = String, Path, description = "User id")),
    request_body = GrantCreditsRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Done: the balance moved, with a ledger line naming the admin and an audit entry", body = CreditGrant),
        (status = 400, description = "amount missing, zero or out of range; reason missing or too long", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No user with this id", body = ErrorResponse),
        (status = 409, description = "A deduction larger than the balance (`param`: amount)", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn admin_grant_credits() {}

#[utoipa::path(post, path = "/v1/admin/users/{id}/disable", tag = "admin", operation_id = "admin_disable_user",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Disabled: every token and API key of the account now fails with 403 `account_disabled`", body = AdminUser),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No user with this id", body = ErrorResponse),
        (status = 409, description = "An admin cannot disable their own account", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn admin_disable_user() {}

#[utoipa::path(post, path = "/v1/admin/users/{id}/enable", tag = "admin", operation_id = "admin_enable_user",
    params(("id" = String, Path, description = "User id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Enabled: the account's credentials work again", body = AdminUser),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No user with this id", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn admin_enable_user() {}

#[utoipa::path(post, path = "/v1/admin/users/{id}/role", tag = "admin", operation_id = "admin_set_role",
    params(("id" = String, Path, description = "User id")),
    request_body = SetRoleRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The role is the user's now, for every credential at once", body = AdminUser),
        (status = 400, description = "role missing, or not admin or user", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No user with this id", body = ErrorResponse),
        (status = 409, description = "An admin cannot remove their own admin role", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn admin_set_role() {}

#[utoipa::path(get, path = "/v1/admin/usage", tag = "admin", operation_id = "admin_usage",
    params(("days" = Option<u32>, Query, minimum = 1, maximum = 366, description = "The last N UTC days, today included (default 30)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Paid generations, images and credits per day, oldest first", body = UsageReport),
        (status = 400, description = "days out of range", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn admin_usage() {}

#[utoipa::path(get, path = "/v1/prompts/random", tag = "prompts", operation_id = "random_prompts",
    params(
        ("n" = Option<u32>, Query, minimum = 1, maximum = 10, description = "How many, 1 to 10 (default 1)"),
        ("theme" = Option<String>, Query, pattern = "^(fantasy|science-fiction|nature|city|portrait|animals|food|architecture|abstract)$", description = "fantasy, science-fiction, nature, city, portrait, animals, food, architecture or abstract; all when absent"),
        ("seed" = Option<i64>, Query, minimum = 0, description = "The grammar's seed: the same seed gives the same prompts (a seed always uses the offline grammar)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Different prompt ideas; `source` says whether the offline grammar or a text model wrote them. Counts against the rate limit, not credits", body = RandomPrompts),
        (status = 400, description = "Invalid n, theme or seed, or another query parameter", body = ErrorResponse),
        (status = 401, description = "Missing or invalid credentials", body = ErrorResponse),
        (status = 429, description = "Rate limit reached", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn random_prompts() {}

#[utoipa::path(get, path = "/v1/doc", tag = "meta", operation_id = "doc",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json")))]
#[allow(dead_code)]
pub(super) fn doc() {}

#[utoipa::path(post, path = "/v1/videos", tag = "videos", operation_id = "create_video",
    request_body(content(
        (CreateVideoForm = "multipart/form-data"),
        (crate::domain::videos::CreateVideoRequest = "application/json"),
    )),
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Replays the first answer for 24 h"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The queued video (a job); `Location: /v1/videos/{id}`. With `dry_run: true`, the quote (nothing charged or queued)", body = VideoOrQuote),
        (status = 400, description = "Bad field or picture (named in `param`); a retired model names its replacement", body = ErrorResponse),
        (status = 404, description = "`input_reference.file_id` does not exist", body = ErrorResponse),
        (status = 409, description = "The Idempotency-Key is in use by another request", body = ErrorResponse),
        (status = 413, description = "Inline picture too large: use /v1/uploads", body = ErrorResponse),
        (status = 429, description = "`insufficient_quota`, daily or hourly limit", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn create_video() {}

#[utoipa::path(get, path = "/v1/videos/{id}", tag = "videos", operation_id = "get_video",
    params(("id" = String, Path, description = "Video id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The video; while it runs, `openai-poll-after-ms` says when to ask again", body = VideoObject),
        (status = 404, description = "Unknown id, another user's, or not a video", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn get_video() {}

#[utoipa::path(get, path = "/v1/videos", tag = "videos", operation_id = "list_videos",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
        ("after" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]{1,64}$", description = "`last_id` of the previous page"),
        ("order" = Option<String>, Query, pattern = "^(asc|desc)$", description = "desc (newest first, the default) or asc"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the caller's videos", body = VideoList),
        (status = 400, description = "Invalid limit, after or order", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn list_videos() {}

#[utoipa::path(delete, path = "/v1/videos/{id}", tag = "videos", operation_id = "delete_video",
    params(("id" = String, Path, description = "Video id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted: the video's files, its library asset and its job", body = VideoDeleted),
        (status = 404, description = "Unknown id, another user's, or already deleted", body = ErrorResponse),
        (status = 409, description = "Still queued or in progress: cancel it first (POST /v1/jobs/{id}/cancel)", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn delete_video() {}

#[utoipa::path(get, path = "/v1/videos/{id}/content", tag = "videos", operation_id = "video_content",
    params(
        ("id" = String, Path, description = "Video id"),
        ("variant" = Option<String>, Query, pattern = "^(video|thumbnail|spritesheet)$", description = "video (MP4, the default), thumbnail (JPEG poster) or spritesheet (JPEG)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 302, description = "Redirect to a presigned URL of the file"),
        (status = 404, description = "Unknown id, another user's, or its asset was deleted", body = ErrorResponse),
        (status = 409, description = "The video is not completed", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn video_content() {}

#[utoipa::path(post, path = "/v1/oauth/authorize", tag = "mcp", operation_id = "oauth_authorize",
    security(("bearer" = [])),
    request_body = crate::usecases::oauth::AuthorizeRequest,
    responses(
        (status = 200, description = "What the client asks for; with `decision` allow or deny, `redirect_to`: the client's redirect URI with the code (or the error), `state` and `iss`. A mistake the client made (PKCE, scope, resource) also comes back as `redirect_to`, for the client to read", body = crate::usecases::oauth::AuthorizeAnswer),
        (status = 400, description = "Unknown client, or a redirect URI it did not register: nothing is sent to it", body = ErrorResponse),
        (status = 403, description = "An API key: only a signed-in session may authorize a client", body = ErrorResponse),
    ))]
#[allow(dead_code)]
pub(super) fn oauth_authorize() {}
