//! `GET /v1/admin/users`: every user newest first, or those whose username or email starts
//! with `q`, a page at a time.

use base64::Engine;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::admin::search_prefix;
use shared::http::{Ctx, json, page_limit, query_param, reject_unknown_query};
use shared::ports::Store;
use shared::wire::{AdminUser, AdminUserList};
use shared::{ApiError, Deps};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "admin-list-users");
    ctx.run(list(deps, &ctx, &req)).await
}

async fn list<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    ctx.authenticate_admin(deps, req).await?;
    reject_unknown_query(req, &["q", "limit", "cursor"])?;
    let limit = page_limit(req, DEFAULT_LIMIT, MAX_LIMIT)?;
    let prefix = search_prefix(query_param(req, "q"))?;
    let after = query_param(req, "cursor")
        .map(|c| decode(c, prefix.as_deref()))
        .transpose()?;
    let (users, next) = deps
        .store
        .find_users(prefix.as_deref(), limit, after.as_deref())
        .await?;
    json(
        StatusCode::OK,
        &AdminUserList {
            object: "list".into(),
            data: users.iter().map(AdminUser::from).collect(),
            has_more: next.is_some(),
            next_cursor: next.as_deref().map(encode),
        },
    )
}

/// Cursors name the last entry of a page (a name, or a creation time and id): opaque to
/// clients, and checked to belong to the same search before they reach the store.
fn encode(place: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(place)
}

fn decode(cursor: &str, prefix: Option<&str>) -> Result<String, ApiError> {
    let refused = || {
        ApiError::invalid(
            "cursor",
            "cursor is not one this search returned (pass next_cursor as it came, with the same q)",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| refused())?;
    let place = String::from_utf8(bytes).map_err(|_| refused())?;
    let fits = match prefix {
        Some(p) => place.starts_with(p) && place.chars().count() <= 254,
        None => place.split_once('#').is_some_and(|(at, id)| {
            at.len() == 12
                && at.bytes().all(|b| b.is_ascii_digit())
                && shared::domain::plausible_id(id)
        }),
    };
    if fits { Ok(place) } else { Err(refused()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_belong_to_their_search() {
        let c = encode("ada@example.com");
        assert_eq!(decode(&c, Some("ada")).unwrap(), "ada@example.com");
        assert!(decode(&c, Some("bob")).is_err());
        assert!(decode(&c, None).is_err());
        let c = encode("001764000000#user_0123");
        assert_eq!(decode(&c, None).unwrap(), "001764000000#user_0123");
        for bad in ["", "!!!", &encode("12#user_1"), &encode("001764000000#a b")] {
            assert!(decode(bad, None).is_err(), "{bad}");
        }
    }
}
