//! The outbox: announcements no other item records, kept a day for the table's stream to carry
//! out (its records last 24 hours) and then removed by the TTL.

use super::*;
use crate::messages::Announcement;

/// An outbox item outlives its stream record.
const OUTBOX_KEPT: i64 = DAY + 3600;

pub(super) fn announcement_from(it: &Item) -> Result<Announcement, ApiError> {
    Ok(Announcement {
        id: get_s(it, "id")?,
        detail_type: get_s(it, "detail_type")?,
        detail: serde_json::from_str(&get_s(it, "detail")?).map_err(|_| corrupt("detail"))?,
    })
}

impl Outbox for DynamoStore {
    async fn put_announcement(&self, a: &Announcement) -> Result<(), ApiError> {
        let it = item(
            keys::outbox(&a.id),
            [
                ("entity", s("outbox")),
                ("id", s(&a.id)),
                ("detail_type", s(&a.detail_type)),
                ("detail", s(a.detail.to_string())),
                ("expires_at", n(crate::domain::now_epoch() + OUTBOX_KEPT)),
            ],
        );
        // Written once: a second put of the same id makes no second stream record to announce.
        self.put_if_absent(it).await.map(|_| ())
    }
}
