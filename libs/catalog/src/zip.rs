//! A minimal streaming reader for the first entry of a zip archive.
//!
//! data.binance.vision serves every file as a zip holding one CSV. Rather than
//! pull in a zip crate, this reads the first local file header and streams the
//! entry through `flate2`'s raw-deflate decoder (or copies a stored entry),
//! checking its CRC-32 and size at the end. Memory stays constant. Zip64,
//! encryption and compression methods other than deflate and stored are refused
//! with a clear error (unzip the file and import the CSV instead).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use flate2::read::DeflateDecoder;
use flate2::Crc;

use crate::CatalogError;

const LOCAL_HEADER: u32 = 0x0403_4b50;

/// The first entry of an archive, as a stream of its uncompressed bytes.
pub(crate) struct ZipEntry {
    /// The entry's file name inside the archive.
    pub name: String,
    /// The uncompressed bytes (CRC-checked at the end).
    pub reader: Box<dyn Read + Send>,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Opens the first entry of the zip archive at `path`.
pub(crate) fn open_first_entry(path: &Path) -> Result<ZipEntry, CatalogError> {
    let zerr = |reason: String| CatalogError::Zip {
        path: path.to_path_buf(),
        reason,
    };
    let file = File::open(path).map_err(|e| CatalogError::io(path, e))?;
    let mut r = BufReader::with_capacity(1 << 16, file);
    let mut h = [0u8; 30];
    r.read_exact(&mut h)
        .map_err(|e| zerr(format!("cannot read the local file header ({e})")))?;
    if u32_at(&h, 0) != LOCAL_HEADER {
        return Err(zerr(
            "not a zip archive (no local file header at the start)".into(),
        ));
    }
    let flags = u16_at(&h, 6);
    let method = u16_at(&h, 8);
    let crc = u32_at(&h, 14);
    let csize = u32_at(&h, 18);
    let usize_ = u32_at(&h, 22);
    let name_len = usize::from(u16_at(&h, 26));
    let extra_len = usize::from(u16_at(&h, 28));
    if flags & 1 != 0 {
        return Err(zerr("the entry is encrypted".into()));
    }
    if csize == u32::MAX || usize_ == u32::MAX {
        return Err(zerr("zip64 entries are not supported".into()));
    }
    let mut name = vec![0u8; name_len];
    r.read_exact(&mut name)
        .map_err(|e| zerr(format!("cannot read the entry name ({e})")))?;
    let name = String::from_utf8_lossy(&name).into_owned();
    io::copy(&mut (&mut r).take(extra_len as u64), &mut io::sink())
        .map_err(|e| zerr(format!("cannot read the extra field ({e})")))?;
    // Bit 3: sizes and CRC follow the data in a descriptor; the deflate stream
    // ends by itself, so only the check is lost.
    let check = if flags & 8 == 0 {
        Some((crc, u64::from(usize_)))
    } else {
        None
    };
    let body: Box<dyn Read + Send> = match method {
        8 if flags & 8 == 0 => Box::new(DeflateDecoder::new(r.take(u64::from(csize)))),
        8 => Box::new(DeflateDecoder::new(r)),
        0 if flags & 8 == 0 => Box::new(r.take(u64::from(csize))),
        0 => {
            return Err(zerr(
                "a stored entry with a trailing data descriptor cannot be streamed".into(),
            ))
        }
        m => {
            return Err(zerr(format!(
                "compression method {m} is not supported (only deflate and stored)"
            )))
        }
    };
    Ok(ZipEntry {
        name,
        reader: Box::new(Checked {
            inner: body,
            crc: Crc::new(),
            check,
        }),
    })
}

/// Computes the CRC-32 of what passes through and checks it at the end.
struct Checked {
    inner: Box<dyn Read + Send>,
    crc: Crc,
    check: Option<(u32, u64)>,
}

impl Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.crc.update(&buf[..n]);
        } else if let Some((crc, size)) = self.check.take() {
            if self.crc.sum() != crc || u64::from(self.crc.amount()) != size & 0xffff_ffff {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "zip entry is corrupt: CRC-32 {:08x} over {} bytes, the header says {crc:08x} over {size}; re-download the file",
                        self.crc.sum(),
                        self.crc.amount()
                    ),
                ));
            }
        }
        Ok(n)
    }
}
