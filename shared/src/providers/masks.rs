//! Masks between OpenAI's meaning and the vendors'. Our API keeps OpenAI's: a PNG whose fully
//! transparent pixels are edited. Stability, fal and Replicate (FLUX Fill) take a grayscale
//! image where white is edited and black kept; partly transparent pixels become gray.

use super::ProviderError;
use imaging::RgbaImage;
use imaging::image::{GrayImage, ImageEncoder, Luma};

/// White where `mask` (or the image itself, without a mask) is transparent.
pub fn to_vendor(mask: &RgbaImage) -> GrayImage {
    GrayImage::from_fn(mask.width(), mask.height(), |x, y| {
        Luma([255 - mask.get_pixel(x, y).0[3]])
    })
}

/// [`to_vendor`] as a grayscale PNG.
pub fn to_vendor_png(mask: &RgbaImage) -> Result<Vec<u8>, ProviderError> {
    let gray = to_vendor(mask);
    let mut out = Vec::new();
    imaging::image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            gray.as_raw(),
            gray.width(),
            gray.height(),
            imaging::image::ExtendedColorType::L8,
        )
        .map_err(|e| ProviderError::BadOutput(format!("mask not encoded: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use imaging::Rgba;

    #[test]
    fn transparent_is_white_opaque_is_black_and_the_png_keeps_the_pixels() {
        // A mask whose left half is transparent (edit here), with one half-transparent pixel.
        let mut mask = RgbaImage::from_pixel(4, 2, Rgba([10, 20, 30, 255]));
        for y in 0..2 {
            for x in 0..2 {
                mask.put_pixel(x, y, Rgba([0, 0, 0, 0]));
            }
        }
        mask.put_pixel(3, 1, Rgba([255, 255, 255, 128]));
        let png = to_vendor_png(&mask).unwrap();
        let back = imaging::image::load_from_memory(&png).unwrap();
        assert_eq!(back.color(), imaging::image::ColorType::L8, "grayscale");
        let back = back.to_luma8();
        assert_eq!(back.dimensions(), (4, 2));
        assert_eq!(back.get_pixel(0, 0).0, [255], "transparent: edited");
        assert_eq!(back.get_pixel(1, 1).0, [255]);
        assert_eq!(
            back.get_pixel(2, 0).0,
            [0],
            "opaque: kept, whatever its colour"
        );
        assert_eq!(back.get_pixel(3, 1).0, [127], "half transparent: gray");
    }
}
