//! QR codes of enrolment URIs, as PNG (base64) and SVG.
//!
//! The `qrcode` crate builds the matrix and the SVG; the PNG is encoded
//! here from that matrix with the small `png` crate rather than through the
//! `image` crate stack.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use qrcode::{Color, QrCode};

use crate::error::{AuthError, AuthResult};

/// Pixels per module in the PNG.
const SCALE: usize = 6;
/// Light modules around the code, as the QR specification asks.
const QUIET_ZONE: usize = 4;

/// The QR code of `data` as a base64 PNG (black on white, 1 bit per
/// pixel).
///
/// # Errors
/// `Internal` when `data` is too long for a QR code.
pub fn qr_png_base64(data: &str) -> AuthResult<String> {
    let code = QrCode::new(data.as_bytes()).map_err(AuthError::internal)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * SCALE;
    let row_bytes = side.div_ceil(8);
    // 1-bit grayscale: 1 = white. Start all white, then clear dark pixels.
    let mut pixels = vec![0xFFu8; row_bytes * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (index % modules, index / modules);
        for dy in 0..SCALE {
            let y = (my + QUIET_ZONE) * SCALE + dy;
            for dx in 0..SCALE {
                let x = (mx + QUIET_ZONE) * SCALE + dx;
                if let Some(byte) = pixels.get_mut(y * row_bytes + x / 8) {
                    *byte &= !(0x80u8 >> (x % 8));
                }
            }
        }
    }
    let side = u32::try_from(side).map_err(AuthError::internal)?;
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder.write_header().map_err(AuthError::internal)?;
        writer
            .write_image_data(&pixels)
            .map_err(AuthError::internal)?;
        writer.finish().map_err(AuthError::internal)?;
    }
    Ok(STANDARD.encode(png))
}

/// The QR code of `data` as a standalone SVG document.
///
/// # Errors
/// `Internal` when `data` is too long for a QR code.
pub fn qr_svg(data: &str) -> AuthResult<String> {
    let code = QrCode::new(data.as_bytes()).map_err(AuthError::internal)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_is_a_decodable_square_with_dark_and_light_pixels() {
        let encoded = qr_png_base64("otpauth://totp/Acme:ann%40example.com?secret=ABC").unwrap();
        let bytes = STANDARD.decode(encoded).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.width, info.height);
        assert_eq!(info.width as usize % SCALE, 0);
        let data = &buf[..info.buffer_size()];
        assert!(data.iter().any(|b| *b != 0xFF), "has dark pixels");
        assert_eq!(data[0], 0xFF, "quiet zone is white");
    }

    #[test]
    fn svg_is_an_svg_document() {
        let svg = qr_svg("otpauth://totp/x").unwrap();
        assert!(svg.contains("<svg"));
        assert!(svg.contains("</svg>"));
    }

    #[test]
    fn oversized_data_is_an_error_not_a_panic() {
        let huge = "x".repeat(10_000);
        assert!(qr_png_base64(&huge).is_err());
        assert!(qr_svg(&huge).is_err());
    }
}
