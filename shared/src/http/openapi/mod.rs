//! The OpenAPI 3.1 document served at `/v1/doc`, generated from the wire types in [`crate::api`].
//! A test checks that its operations and template.yaml's routes are the same set.

use crate::domain::accounts::Role;
use crate::domain::assets::AssetKind;
use crate::domain::generation::CreateImageRequest;
use crate::wire::*;
use std::sync::LazyLock;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

mod paths;

use paths::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Image API",
        description = "Self-hostable, OpenAI-compatible AI image API. Every error has the OpenAI shape \
            `{\"error\": {\"message\", \"type\", \"param\", \"code\"}}` and every response carries `x-request-id`. \
            Authenticated routes accept `Authorization: Bearer <access token or sk- API key>` and are limited per \
            user per hour (429 with `Retry-After`; `x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset` \
            on success)."
    ),
    paths(
        register, login, refresh, signout, logout, me, create_api_key, list_api_keys, revoke_api_key,
        update_api_key, get_usage,
        webhook_secret, rotate_webhook_secret,
        generate_image, generate_image_alias, list_images, get_image, list_versions, get_provenance, download_image, delete_image,
        edit_images, edit_images_alias, image_variations, update_image, transform_image, create_upload,
        complete_upload, list_models, get_model, credit, referral_link, random_prompts, get_job, list_jobs, cancel_job,
        create_video, get_video, list_videos, delete_video, video_content,
        admin_list_users, admin_get_user, admin_grant_credits, admin_disable_user, admin_enable_user,
        admin_set_role, admin_usage, signin, signin_start, signin_callback, signin_callback_post, oauth_authorize, doc
    ),
    components(schemas(
        RegisterRequest, LoginRequest, RefreshRequest, SignoutRequest, TokenResponse, UserResponse,
        Credits, Storage, Role, SignoutResponse, CreateApiKeyRequest, ApiKeyCreated, ApiKeyInfo, ApiKeyList,
        UpdateApiKeyRequest, ApiKeyLimits, ApiKeySpend, crate::domain::key_policy::Budget,
        crate::domain::key_policy::Period, crate::domain::key_policy::Scope,
        Deleted, ErrorResponse, ErrorDetail, CreateImageRequest, ImagesResponse, ImageData, ImageInfo, Variants, Formats, TransformedImage, SkippedOperation, DeletedImage, VersionList,
        ImageProvenance, ProvenanceSigner, ProvenanceStep,
        crate::domain::generation::ProvenanceItem,
        ImageList, AssetKind, ModelInfo, ModelList, ModelCost, ModelInfoText, VendorRoute, CreditResponse, LedgerItem, RandomPrompts, ReferralLink,
        EditImageForm, EditImageJson, VariationForm, UpdateImageRequest, TransformRequest,
        CreateUploadRequest, UploadTicket, WebhookSecretResponse, JobObject, JobList, ImageStreamEvent, ImagesOrQuote, VideoOrQuote, Quote, QuoteRefusal, FileRef, TransformOperation,
        crate::domain::jobs::JobStatus, crate::domain::jobs::JobOperation,
        VideoObject, VideoError, VideoList, VideoDeleted, CreateVideoForm,
        crate::domain::videos::CreateVideoRequest, crate::domain::videos::InputReference,
        AdminUser, AdminUserList, AdminUserDetail, GrantCreditsRequest, CreditGrant, SetRoleRequest,
        UsageDay, UsageReport, UsageTotal, ServedDay, AccountUsage, AccountUsageDay, UsageShare, crate::domain::admin::AuditEntry,
        crate::domain::admin::AuditAction, SigninRequest, SigninStarted, SigninAnswer,
        crate::usecases::oauth::AuthorizeRequest, crate::usecases::oauth::AuthorizeAnswer,
        crate::usecases::oauth::ConsentScope, crate::usecases::oauth::Decision
    )),
    modifiers(&BearerAuth, &CommonErrors, &LoginNames),
    tags(
        (name = "auth", description = "Accounts, sessions and tokens"),
        (name = "api-keys", description = "Long-lived `sk-` keys, accepted wherever an access token is, within their optional limits: scopes, a model allowlist, a budget per UTC day or month (held in the charge's own write), an hourly limit and an expiry"),
        (name = "webhooks", description = "Standard Webhooks signing secrets"),
        (name = "images", description = "OpenAI-compatible generation and the asset library"),
        (name = "jobs", description = "Paid work run by the queue worker: send `Prefer: respond-async` (or `wait=N`) to a generation, edit or variation"),
        (name = "videos", description = "OpenAI's Videos API over this API's jobs: a video is a job whose result is a library asset of kind `video`"),
        (name = "models", description = "The catalog of models this deployment serves"),
        (name = "credits", description = "Balance, ledger and spend reports; every paid answer carries `x-credits-charged` and `x-credits-remaining`"),
        (name = "prompts", description = "Random prompt ideas"),
        (name = "signin", description = "Sign-in with Google, Microsoft and Apple (OpenID Connect): for apps (`POST /v1/signin`) and for the web pages (`GET /v1/signin/{provider}`). An identity is its provider's `sub`, never an email: a first sign-in creates an account, and linking to an existing account needs that account signed in"),
        (name = "mcp", description = "The API as a remote MCP server for agents: `POST /mcp` (Streamable HTTP, stateless; protocol 2026-07-28 and earlier revisions) with tools for models, credits, generation, edits, variations, transforms, the library, videos and jobs, the library as `library://` resources, and prompt ideas. A bearer is an API key (its scopes choose the tools) or an OAuth token: `/.well-known/oauth-protected-resource/mcp` (RFC 9728), `/.well-known/oauth-authorization-server` (RFC 8414), `POST /oauth/register` (RFC 7591), the consent page `/app/authorize` (authorization code with PKCE S256, `resource` per RFC 8707) and `POST /oauth/token`. A token is an API key bound to `/mcp`, named after the client; revoke it with the other keys"),
        (name = "admin", description = "Accounts, credits and usage, for users with the `admin` role only (403 for everyone else); every change leaves an audit entry"),
        (name = "meta", description = "This document")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT access token or sk- API key")
                        .description(Some("An access token from /v1/auth/login or an API key"))
                        .build(),
                ),
            );
    }
}

/// The routes of paid image work (a PATCH with `prompt` is one too).
const PAID: &[&str] = &[
    "/v1/images/generations",
    "/v1/generate-image",
    "/v1/images/edits",
    "/v1/edit-image",
    "/v1/images/variations",
    "/v1/images/{id}",
];

/// The answers every operation of a kind can give, added where an operation does not say them
/// itself: what authentication, the hourly limit, input parsing and routing answer everywhere.
struct CommonErrors;

impl utoipa::Modify for CommonErrors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
        let error = |description: &str| -> RefOr<utoipa::openapi::Response> {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name(
                                "ErrorResponse",
                            )))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let ops = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for op in ops.into_iter().flatten() {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let mut add = |code: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| error(description));
                };
                if secured {
                    add("401", "Missing, malformed, expired or revoked credentials");
                    add(
                        "403",
                        "The account is disabled (`account_disabled`), or the API key lacks the scope this route needs (`insufficient_scope`) or may not use the model (`model_not_allowed`)",
                    );
                }
                // Anonymous routes are limited per address, authenticated ones per user.
                add("429", "The hourly request limit is reached (Retry-After)");
                if has_body || has_params {
                    add("400", "A field or parameter is invalid (named in `param`)");
                }
                if has_body {
                    add("413", "The body is larger than this route takes");
                    add("415", "The body is not of a media type this route takes");
                }
                if path.contains('{') {
                    add("404", "Unknown id, or another user's");
                }
                // Paid image work: a named asset may be missing, a key reused, a vendor down.
                if PAID.contains(&path.as_str()) && has_body {
                    add("404", "A named asset does not exist (named in `param`)");
                    add(
                        "409",
                        "Idempotency-Key reused with another body, or still in progress",
                    );
                    add("502", "The provider failed (nothing charged)");
                    add(
                        "503",
                        "The provider is overloaded (Retry-After; nothing charged)",
                    );
                    add("504", "The provider timed out (nothing charged)");
                    // A paid answer carries its charge.
                    if let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") {
                        let header = |description: &str| {
                            utoipa::openapi::HeaderBuilder::new()
                                .schema(
                                    utoipa::openapi::ObjectBuilder::new()
                                        .schema_type(utoipa::openapi::schema::Type::Integer)
                                        .minimum(Some(0)),
                                )
                                .description(Some(description))
                                .build()
                        };
                        ok.headers.insert(
                            "x-credits-charged".into(),
                            header("Credits this answer was charged (its ledger line is minus this); absent on a quote and on a replayed Idempotency-Key answer"),
                        );
                        ok.headers.insert(
                            "x-credits-remaining".into(),
                            header("The account's credits once the charge was final"),
                        );
                    }
                }
            }
        }
    }
}

/// A sign-in names the account by `username` or by `email`: the schema requires exactly one.
struct LoginNames;

impl utoipa::Modify for LoginNames {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{OneOfBuilder, Schema};
        let Some(schemas) = doc.components.as_mut().map(|c| &mut c.schemas) else {
            return;
        };
        let Some(RefOr::T(Schema::Object(login))) = schemas.get("LoginRequest").cloned() else {
            return;
        };
        // The named field is required and not null in its branch; the other may be null.
        let requiring = |field: &str| {
            let mut o = login.clone();
            o.required.push(field.to_string());
            if let Some(RefOr::T(Schema::Object(p))) = o.properties.get_mut(field) {
                p.schema_type =
                    utoipa::openapi::schema::SchemaType::new(utoipa::openapi::schema::Type::String);
            }
            Schema::Object(o)
        };
        let either = OneOfBuilder::new()
            .item(requiring("username"))
            .item(requiring("email"))
            .build();
        schemas.insert("LoginRequest".into(), RefOr::T(Schema::OneOf(either)));
    }
}

/// The document as JSON, rendered once per cold start.
pub static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
});

/// Every documented operation as (METHOD, path template).
pub fn operations() -> Vec<(String, String)> {
    let doc = ApiDoc::openapi();
    let mut ops = Vec::new();
    for (path, item) in &doc.paths.paths {
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        for (m, present) in methods {
            if present {
                ops.push((m.to_string(), path.clone()));
            }
        }
    }
    ops
}

/// The methods documented for the most specific templates matching `path` (what API Gateway
/// would route it by); empty when the path is unknown. A trailing slash is another path.
pub fn allowed_methods(path: &str) -> Vec<String> {
    static OPS: LazyLock<Vec<(String, String)>> = LazyLock::new(operations);
    super::routes::methods_for(OPS.iter().map(|(m, t)| (m.as_str(), t.as_str())), path)
}

/// The 405 for `method` on a known `path`, listing exactly its methods.
pub fn method_not_allowed(method: &str, path: &str, allowed: &[String]) -> crate::ApiError {
    crate::ApiError::MethodNotAllowed {
        message: format!(
            "{method} is not supported on {path}; it supports {}",
            allowed.join(", ")
        ),
        allow: allowed.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_openapi_3_1_with_bearer_auth() {
        let v: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        assert!(v["openapi"].as_str().unwrap().starts_with("3.1"));
        assert_eq!(
            v["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert!(v["paths"]["/v1/api-keys/{id}"]["delete"].is_object());
    }

    #[test]
    fn method_lookup() {
        assert_eq!(allowed_methods("/v1/api-keys"), vec!["GET", "POST"]);
        assert_eq!(
            allowed_methods("/v1/api-keys/key_1"),
            vec!["DELETE", "PATCH"]
        );
        assert!(allowed_methods("/v1/nope").is_empty());
        assert!(allowed_methods("/v1/api-keys/").is_empty());
        assert_eq!(allowed_methods("/v1/images/generations"), vec!["POST"]);
        assert_eq!(
            allowed_methods("/v1/images/img_1"),
            vec!["DELETE", "GET", "PATCH"]
        );
    }
}
