//! Partial images handed on as a vendor makes them, for an answer that streams them at once
//! rather than with the final images.

use crate::domain::generation::{Background, GenerationPlan};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// One partial image of the `image`-th result, base64 in the plan's output format, with the
/// fields OpenAI's `*.partial_image` event carries beside it.
pub struct PartialImage {
    pub image: usize,
    pub b64: String,
    pub size: String,
    pub quality: String,
    pub background: &'static str,
    pub output_format: &'static str,
}

/// Where a provider puts partial images while it works.
#[derive(Clone)]
pub struct Partials {
    tx: UnboundedSender<PartialImage>,
}

impl Partials {
    pub fn channel() -> (Self, UnboundedReceiver<PartialImage>) {
        let (tx, rx) = unbounded_channel();
        (Self { tx }, rx)
    }

    /// Hands one on; a client that has gone away is not the vendor's failure, so a closed
    /// receiver is ignored.
    pub fn send(&self, plan: &GenerationPlan, image: usize, b64: String) {
        let _ = self.tx.send(PartialImage {
            image,
            b64,
            size: plan.size.to_string(),
            quality: plan.quality.to_string(),
            background: match plan.background {
                Background::Transparent => "transparent",
                Background::Opaque => "opaque",
            },
            output_format: plan.output_format.as_str(),
        });
    }
}
