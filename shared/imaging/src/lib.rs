//! Pixels, and nothing else: what only the image functions link (the account functions stay
//! free of codecs, which keeps their packages small and their cold starts short).

#[cfg(feature = "avif")]
pub mod avif;
mod blur;
mod codec;
pub mod inpaint;
pub mod procedural;
pub mod transform;
#[cfg(feature = "avif")]
pub mod variants;
#[cfg(feature = "video")]
pub mod video;

pub use blur::*;
pub use codec::*;
pub use image::{self, DynamicImage, Rgba, RgbaImage, imageops};

/// The encoded formats the API reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
    Webp,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "png" => Some(Self::Png),
            "jpeg" | "jpg" => Some(Self::Jpeg),
            "webp" => Some(Self::Webp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::Webp => "webp",
        }
    }
}

/// A refused request value: the parameter it names and why (the API answers 400 with both).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub param: String,
    pub message: String,
    /// OpenAI's error code: `invalid_value` or `missing_required_parameter`.
    pub code: &'static str,
}

impl Invalid {
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            param: param.into(),
            message: message.into(),
            code: "invalid_value",
        }
    }

    pub fn missing(param: &str) -> Self {
        Self {
            code: "missing_required_parameter",
            ..Self::new(param, format!("missing required parameter: '{param}'"))
        }
    }
}
