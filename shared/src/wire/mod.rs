//! Wire types: what handlers parse and answer, and what `/v1/doc` describes, one file per area.
//! Request types holding secrets deliberately do not derive `Debug`.

mod accounts;
mod admin;
mod images;
mod jobs;
mod models;
mod signin;
mod videos;

pub use accounts::*;
pub use admin::*;
pub use images::*;
pub use jobs::*;
pub use models::*;
pub use signin::*;
pub use videos::*;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct Deleted {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

/// The body of every error response.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

/// Distinguishes an absent field (`None`, with `#[serde(default)]`) from an explicit `null`
/// (`Some(None)`).
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A JSON integer, also written as a number with no fraction (`49.0`, as JSON Schema counts it).
pub(crate) fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..9.0e15).contains(f))
                .map(|f| f as u64)
        })
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole number of bytes")))
}

/// A whole number of credits (JSON may write it `5.0`).
pub(crate) fn whole_number_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    crate::domain::key_policy::Whole::deserialize(d).map(|w| w.0)
}

/// Up to 20 tags, each 1 to 40 printable characters, not all blank.
pub(crate) fn tags_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(40))
                .pattern(Some(r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$")),
        )
        .max_items(Some(20))
        .build()
}
