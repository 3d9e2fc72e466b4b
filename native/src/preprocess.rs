//! Image preprocessing for classifiers, the standard ImageNet evaluation recipe: decode, RGB,
//! resize the short side to `round(max(H, W) / 0.875)` (256 for 224) with a triangle
//! (bilinear) filter keeping the aspect ratio, centre-crop `H × W`, scale to [0, 1],
//! normalise per channel with mean and std, lay out as NCHW `[1, 3, H, W]`.

use image::imageops::{self, FilterType};
use image::{ImageReader, RgbImage};
use std::path::Path;

/// ImageNet channel means (RGB).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations (RGB).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Crop fraction: the short side is resized to the crop size divided by this.
pub const CROP_FRACTION: f64 = 0.875;

/// Decodes an image file (PNG or JPEG, told by content) to 8-bit RGB.
pub fn load_rgb(path: &Path) -> Result<RgbImage, String> {
    let reader = ImageReader::open(path)
        .map_err(|e| format!("cannot read image `{}`: {e}", path.display()))?
        .with_guessed_format()
        .map_err(|e| format!("cannot read image `{}`: {e}", path.display()))?;
    let image = reader
        .decode()
        .map_err(|e| format!("cannot decode image `{}`: {e}", path.display()))?;
    Ok(image.to_rgb8())
}

/// The side the short side is resized to before cropping `height × width`.
pub fn resize_short_side(height: usize, width: usize) -> u32 {
    (height.max(width) as f64 / CROP_FRACTION).round() as u32
}

/// The recipe of the module docs: `image` to `[1, 3, height, width]` NCHW values.
pub fn preprocess(
    image: &RgbImage,
    height: usize,
    width: usize,
    mean: [f32; 3],
    std: [f32; 3],
) -> Result<Vec<f32>, String> {
    let (w0, h0) = image.dimensions();
    if w0 == 0 || h0 == 0 {
        return Err("the image is empty".into());
    }
    if height == 0 || width == 0 || height > 1 << 16 || width > 1 << 16 {
        return Err(format!("cannot make a {height} x {width} image input"));
    }
    let short = resize_short_side(height, width);
    // Scale so that the short side becomes `short`; the long side keeps the aspect ratio
    // (rounded, never below `short`).
    let scaled = |long: u32, short_now: u32| {
        ((f64::from(long) * f64::from(short) / f64::from(short_now)).round() as u32).max(short)
    };
    let (w1, h1) = if w0 <= h0 {
        (short, scaled(h0, w0))
    } else {
        (scaled(w0, h0), short)
    };
    let resized;
    let source = if (w1, h1) == (w0, h0) {
        image
    } else {
        resized = imageops::resize(image, w1, h1, FilterType::Triangle);
        &resized
    };
    let (height32, width32) = (height as u32, width as u32);
    let left = (w1 - width32) / 2;
    let top = (h1 - height32) / 2;
    let plane = height * width;
    let mut out = vec![0f32; 3 * plane];
    for y in 0..height32 {
        for x in 0..width32 {
            let pixel = source.get_pixel(left + x, top + y).0;
            let at = y as usize * width + x as usize;
            for c in 0..3 {
                out[c * plane + at] = normalise(pixel[c], mean[c], std[c]);
            }
        }
    }
    Ok(out)
}

/// `(v / 255 − mean) / std`, in f32.
pub fn normalise(value: u8, mean: f32, std: f32) -> f32 {
    (f32::from(value) / 255.0 - mean) / std
}
