//! What a stored image is delivered as besides itself: a 256-px thumbnail and a 1024-px preview,
//! each in WebP and AVIF, so a client downloads the smallest format it can show. The original
//! stays as it was made.

use crate::Format;
use crate::avif::encode_avif;
use crate::codec::{ImagingError, THUMBNAIL_EDGE, encode, fit_within, resize};
use image::RgbaImage;

/// The longest side of a preview (never larger than the original).
pub const PREVIEW_EDGE: u32 = 1024;
/// AVIF's quality (1–100): about WebP 80's look at roughly half its bytes.
pub const AVIF_QUALITY: u8 = 60;
/// libaom's speed (0–9, avifenc's `-s`): 8 encodes a 1024-px preview in tens of milliseconds.
pub const AVIF_SPEED: u8 = 7;
const WEBP_QUALITY: u8 = 80;

/// Which picture a variant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Thumbnail,
    Preview,
}

/// A delivery variant's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Webp,
    Avif,
}

impl Kind {
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Webp => "webp",
            Kind::Avif => "avif",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Webp => "image/webp",
            Kind::Avif => "image/avif",
        }
    }
}

impl Size {
    pub fn as_str(self) -> &'static str {
        match self {
            Size::Thumbnail => "thumbnail",
            Size::Preview => "preview",
        }
    }

    pub fn edge(self) -> u32 {
        match self {
            Size::Thumbnail => THUMBNAIL_EDGE,
            Size::Preview => PREVIEW_EDGE,
        }
    }
}

pub struct Variant {
    pub size: Size,
    pub kind: Kind,
    pub bytes: Vec<u8>,
}

/// The variants an image has beyond the WebP thumbnail made when it was stored: the AVIF
/// thumbnail and the preview in both formats. Each size is resized once and encoded twice.
pub fn variants(img: &RgbaImage) -> Result<Vec<Variant>, ImagingError> {
    let mut out = Vec::with_capacity(3);
    for size in [Size::Thumbnail, Size::Preview] {
        let (w, h) = fit_within(img.width(), img.height(), size.edge());
        let small = resize(img, w, h);
        if size == Size::Preview {
            out.push(Variant {
                size,
                kind: Kind::Webp,
                bytes: encode(&small, Format::Webp, Some(WEBP_QUALITY))?,
            });
        }
        out.push(Variant {
            size,
            kind: Kind::Avif,
            bytes: encode_avif(&small, AVIF_QUALITY, AVIF_SPEED)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_the_right_sizes_and_avif_is_smaller_than_webp() {
        let img = crate::procedural::render("a harbour at dusk", 7, 0, 1024, 768);
        let vs = variants(&img).unwrap();
        assert_eq!(vs.len(), 3);
        let preview_webp = vs
            .iter()
            .find(|v| v.size == Size::Preview && v.kind == Kind::Webp)
            .unwrap();
        let preview_avif = vs
            .iter()
            .find(|v| v.size == Size::Preview && v.kind == Kind::Avif)
            .unwrap();
        // AVIF files start with an ftyp box naming the avif brand.
        assert_eq!(&preview_avif.bytes[4..12], b"ftypavif");
        assert!(preview_avif.bytes.len() < preview_webp.bytes.len());
        let webp = image::load_from_memory(&preview_webp.bytes).unwrap();
        assert_eq!((webp.width(), webp.height()), (1024, 768));
        let thumb = vs.iter().find(|v| v.size == Size::Thumbnail).unwrap();
        assert_eq!(thumb.kind, Kind::Avif);
    }
}
