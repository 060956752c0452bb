//! Image providers: the local renderer and five vendors behind one `Vendor` trait, and the
//! routing that sends a plan to the first of its vendors that is up. Which vendors serve a model
//! is in the catalog.

pub mod circuits;
mod errors;
pub mod fal;
pub mod fetch;
pub mod local;
pub mod masks;
pub mod openai;
mod partials;
pub use partials::{PartialImage, Partials};
mod polling;
pub use polling::mp4_dimensions;
pub mod replicate;
mod retry;
mod routing;
pub mod stability;

pub use errors::*;
pub use routing::*;

use crate::config::Vendors;
use crate::domain::catalog::{ProviderKind, Route};
use crate::domain::generation::GenerationPlan;
use crate::error::ApiError;
use crate::ports::Circuits;
use crate::ports::Staging;
use futures::future::BoxFuture;
use http::StatusCode;
use imaging::RgbaImage;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One image as a provider delivers it.
pub struct ProviderImage {
    pub image: ProviderOutput,
    pub revised_prompt: Option<String>,
    /// The image as drawn so far, at a few stages (streaming's partial images).
    pub partials: Vec<RgbaImage>,
    /// The vendor's token usage for this image (the whole call's on the first image when the
    /// vendor reports it per call).
    pub usage: Option<serde_json::Value>,
}

pub enum ProviderOutput {
    /// Pixels rendered in-process (no encode/decode round trip).
    Raw(RgbaImage),
    /// Encoded bytes (PNG/JPEG/WebP) from a vendor.
    Encoded(Vec<u8>),
    /// A vector image, and its pixels (for the thumbnail).
    Svg { svg: String, raster: RgbaImage },
    /// The frames of an animation, each shown `delay_ms`.
    Frames {
        frames: Vec<RgbaImage>,
        delay_ms: u32,
    },
}

/// An input image: the bytes as received (sent on to vendors) and its decoded pixels.
pub struct InputImage {
    pub bytes: Vec<u8>,
    /// Shared, not copied, with the provider's blocking task (inputs reach 160 MB decoded).
    pub rgba: std::sync::Arc<RgbaImage>,
    /// The library asset it came from, if any (recorded as the result's parent).
    pub asset_id: Option<String>,
    /// Whether the encoded image has an alpha channel (a mask must).
    pub has_alpha: bool,
}

pub struct EditInputs {
    pub images: Vec<InputImage>,
    /// Transparent pixels mark where to edit; same size as the first image.
    pub mask: Option<InputImage>,
}

/// The answer of one vendor call.
pub type Answer<'a, T> = BoxFuture<'a, Result<T, ProviderError>>;

/// What every vendor provides, the local renderer included. Adding a vendor is one file that
/// implements this, its `ProviderKind` with the catalog's routes to it, and its key in
/// `Providers::from_config`.
pub trait Vendor: Send + Sync {
    /// Which vendor this is: the catalog's routes name it.
    fn kind(&self) -> ProviderKind;

    /// Exactly `plan.n` images for `op` through `route` within `call`, or an error; never a
    /// partial result. An operation the vendor does not offer is [`not_offered`] (plans refuse
    /// it before any call).
    fn images<'a, 'c: 'a>(
        &'a self,
        plan: &'a GenerationPlan,
        route: &'a Route,
        op: Op<'a>,
        call: Call<'c>,
    ) -> Answer<'a, Vec<ProviderImage>>;

    /// A clip made from `picture` (a data URI or URL of an image already at the plan's frame):
    /// the MP4's bytes. Only vendors with video models make one.
    fn video<'a, 'c: 'a>(
        &'a self,
        _plan: &'a crate::domain::videos::VideoPlan,
        route: &'a Route,
        _picture: String,
        _call: Call<'c>,
    ) -> Answer<'a, Vec<u8>> {
        Box::pin(std::future::ready(Err(not_offered(route))))
    }
}

/// What a call made, and which vendor made it.
pub struct Served {
    pub images: Vec<ProviderImage>,
    pub vendor: ProviderKind,
}

/// Asked between a vendor's polls: `false` stops the call (the job was canceled or lost), and
/// the vendor's prediction is canceled too.
pub type Watch<'a> = dyn Fn() -> BoxFuture<'a, bool> + Send + Sync + 'a;

/// One call to one vendor: until when, how many retries, and whom to ask between polls.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub deadline: Instant,
    pub max_retries: u32,
    pub watch: Option<&'a Watch<'a>>,
    /// Where inputs too large to go inline are put for the vendor to fetch.
    pub staging: Option<&'a dyn Staging>,
    /// Where partial images go as they come, when the answer streams them; without it they
    /// come with the images.
    pub partials: Option<&'a Partials>,
}

impl Call<'_> {
    /// Whether to go on (always, without a watch).
    pub async fn go_on(&self) -> bool {
        match self.watch {
            Some(w) => w().await,
            None => true,
        }
    }
}

/// What is asked of a vendor.
#[derive(Clone, Copy)]
pub enum Op<'a> {
    Generate,
    Edit(&'a EditInputs),
    Variation(&'a InputImage),
}
