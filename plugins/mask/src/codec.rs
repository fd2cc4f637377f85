//! Content codings: a compressed response is decoded before masking and
//! encoded again after, with the same coding. Decoding stops at a size cap,
//! so a small compressed bomb cannot fill the plugin's memory.

use std::io::{Read, Write};

/// A Content-Encoding the plugin can undo and redo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// A coding the plugin does not know (e.g. `zstd`), or several.
    Unsupported(String),
    /// Decoded, the body is larger than the cap.
    TooLarge,
    /// The bytes are not valid for the coding.
    Corrupt,
}

impl Coding {
    /// From a Content-Encoding header.
    pub fn from_header(value: Option<&str>) -> Result<Self, CodecError> {
        let value = value.unwrap_or("").trim().to_ascii_lowercase();
        match value.as_str() {
            "" | "identity" => Ok(Self::Identity),
            "gzip" | "x-gzip" => Ok(Self::Gzip),
            "deflate" => Ok(Self::Deflate),
            "br" => Ok(Self::Brotli),
            _ => Err(CodecError::Unsupported(value)),
        }
    }

    /// Decode `body`, refusing to produce more than `cap` bytes.
    pub fn decode(self, body: &[u8], cap: usize) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Identity => Ok(body.to_vec()),
            // Every member of a multi-member file, not just the first.
            Self::Gzip => read_capped(flate2::read::MultiGzDecoder::new(body), cap),
            Self::Deflate => read_capped(flate2::read::ZlibDecoder::new(body), cap),
            Self::Brotli => read_capped(brotli::Decompressor::new(body, 4096), cap),
        }
    }

    /// Encode `body` again.
    pub fn encode(self, body: &[u8]) -> Vec<u8> {
        let written = match self {
            Self::Identity => return body.to_vec(),
            Self::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder.write_all(body).and_then(|()| encoder.finish())
            }
            Self::Deflate => {
                let mut encoder =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder.write_all(body).and_then(|()| encoder.finish())
            }
            Self::Brotli => {
                let mut out = Vec::new();
                // Quality 4: most of brotli's ratio at a fraction of its CPU.
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 4,
                    ..Default::default()
                };
                brotli::BrotliCompress(&mut &body[..], &mut out, &params).map(|_| out)
            }
        };
        // Writing into a Vec cannot fail.
        written.unwrap_or_default()
    }
}

fn read_capped(reader: impl Read, cap: usize) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let read = reader
        .take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| CodecError::Corrupt)?;
    if read > cap {
        return Err(CodecError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{CodecError, Coding};

    #[test]
    fn every_coding_round_trips_and_the_cap_holds() {
        let body = b"hello hello hello hello".repeat(100);
        for coding in [
            Coding::Identity,
            Coding::Gzip,
            Coding::Deflate,
            Coding::Brotli,
        ] {
            let encoded = coding.encode(&body);
            assert_eq!(
                coding.decode(&encoded, body.len()).as_deref(),
                Ok(&body[..]),
                "{coding:?}"
            );
            if coding != Coding::Identity {
                assert_eq!(
                    coding.decode(&encoded, 100),
                    Err(CodecError::TooLarge),
                    "{coding:?}"
                );
                assert_eq!(
                    coding.decode(b"not compressed", 100),
                    Err(CodecError::Corrupt),
                    "{coding:?}"
                );
            }
        }
        assert!(matches!(
            Coding::from_header(Some("zstd")),
            Err(CodecError::Unsupported(_))
        ));
        assert_eq!(Coding::from_header(Some("BR")), Ok(Coding::Brotli));
    }
}
