//! Item codec: attribute values in and out, and the shapes every write shares.

use super::*;

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

/// A key (see `keys`) with attributes.
pub(super) fn item(
    key: Item,
    attrs: impl IntoIterator<Item = (&'static str, AttributeValue)>,
) -> Item {
    let mut it = key;
    it.extend(attrs.into_iter().map(|(k, v)| (k.to_string(), v)));
    it
}

pub(super) fn put_new(table: &str, it: Item) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(it))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("table, item set"),
        )
        .build()
}

pub(super) fn corrupt(field: &str) -> ApiError {
    ApiError::internal(format!("stored item lacks a valid '{field}'"))
}

pub(super) fn get_s(it: &Item, field: &str) -> Result<String, ApiError> {
    it.get(field)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| corrupt(field))
}

pub(super) fn opt_s(it: &Item, field: &str) -> Option<String> {
    it.get(field).and_then(|v| v.as_s().ok()).cloned()
}

pub(super) fn get_n(it: &Item, field: &str) -> Result<i64, ApiError> {
    it.get(field)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| corrupt(field))
}

pub(super) fn opt_n(it: &Item, field: &str) -> Option<i64> {
    it.get(field)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

pub(super) fn get_bool(it: &Item, field: &str) -> bool {
    it.get(field)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

pub(super) fn get_role(it: &Item) -> Result<Role, ApiError> {
    Role::parse(&get_s(it, "role")?).ok_or_else(|| corrupt("role"))
}

pub(super) fn tags_of(it: &Item) -> Vec<String> {
    list_of(it, "tags")
}

/// A list of strings (empty when absent).
pub(super) fn list_of(it: &Item, name: &str) -> Vec<String> {
    it.get(name)
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default()
}

pub(super) fn string_set(v: &str) -> AttributeValue {
    AttributeValue::Ss(vec![v.to_string()])
}
