//! The byte format of segments and records (described in the crate docs):
//! constants, encoding and decoding of the segment header and record
//! frames, segment file names. No I/O beyond `std::io::Read` of one frame.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::error::Damage;

/// Segment header magic.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"VELOZJNL";
/// The segment format version this crate writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Size of the segment header.
pub(crate) const SEGMENT_HEADER_LEN: usize = 24;
/// Record marker byte.
pub(crate) const RECORD_MARKER: u8 = b'R';
/// Payload encoding: JSON of `Stamped`.
pub(crate) const ENCODING_JSON: u8 = 1;
/// Size of a record frame header.
pub(crate) const FRAME_HEADER_LEN: usize = 20;
/// Largest payload accepted (16 MiB); a larger length is treated as damage.
pub const MAX_PAYLOAD: u32 = 16 * 1024 * 1024;

/// The file name of the segment whose first record has `first_seq`.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("journal-{first_seq:020}.log")
}

/// The first seq encoded in a segment file name, or `None` if the name is not
/// a segment's.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("journal-")?.strip_suffix(".log")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments of `dir`, sorted by first seq.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq) = parse_segment_name(name) {
            if entry.file_type()?.is_file() {
                out.push((seq, entry.path()));
            }
        }
    }
    out.sort_by_key(|(s, _)| *s);
    Ok(out)
}

/// The header of a segment starting at `first_seq`.
pub(crate) fn encode_segment_header(first_seq: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[0..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32fast::hash(&h[0..20]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Why a segment header is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderProblem {
    /// Not the magic.
    Magic,
    /// Checksum mismatch.
    Checksum,
    /// A version this crate does not read.
    Version(u16),
    /// Reserved bytes not zero.
    Reserved,
}

impl std::fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Magic => write!(f, "it does not start with the VELOZJNL magic"),
            Self::Checksum => write!(f, "its header checksum does not match"),
            Self::Version(v) => write!(
                f,
                "it has format version {v}, this build reads version {FORMAT_VERSION}; use a VeloZ version that reads it"
            ),
            Self::Reserved => write!(f, "its reserved header bytes are not zero"),
        }
    }
}

/// Decodes a segment header; returns the first seq.
pub(crate) fn decode_segment_header(h: &[u8; SEGMENT_HEADER_LEN]) -> Result<u64, HeaderProblem> {
    if &h[0..8] != SEGMENT_MAGIC {
        return Err(HeaderProblem::Magic);
    }
    let crc = u32::from_le_bytes([h[20], h[21], h[22], h[23]]);
    if crc32fast::hash(&h[0..20]) != crc {
        return Err(HeaderProblem::Checksum);
    }
    let version = u16::from_le_bytes([h[8], h[9]]);
    if version != FORMAT_VERSION {
        return Err(HeaderProblem::Version(version));
    }
    if h[10] != 0 || h[11] != 0 {
        return Err(HeaderProblem::Reserved);
    }
    let mut s = [0u8; 8];
    s.copy_from_slice(&h[12..20]);
    Ok(u64::from_le_bytes(s))
}

/// Fills in the frame header at the front of `buf` (which holds
/// `FRAME_HEADER_LEN` placeholder bytes followed by the payload).
pub(crate) fn seal_frame(buf: &mut [u8], seq: u64) -> Result<(), u64> {
    let payload_len = buf.len() - FRAME_HEADER_LEN;
    let len = u32::try_from(payload_len)
        .ok()
        .filter(|l| *l <= MAX_PAYLOAD)
        .ok_or(payload_len as u64)?;
    buf[0] = RECORD_MARKER;
    buf[1] = ENCODING_JSON;
    buf[2] = 0;
    buf[3] = 0;
    buf[4..8].copy_from_slice(&len.to_le_bytes());
    buf[8..16].copy_from_slice(&seq.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&buf[0..16]);
    h.update(&buf[FRAME_HEADER_LEN..]);
    let crc = h.finalize();
    buf[16..20].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// A parsed, not yet checksummed frame header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameHeader {
    pub len: u32,
    pub seq: u64,
    pub crc: u32,
    pub raw: [u8; FRAME_HEADER_LEN],
}

/// Parses a frame header (marker, encoding, reserved, length bound).
pub(crate) fn parse_frame_header(raw: &[u8; FRAME_HEADER_LEN]) -> Result<FrameHeader, Damage> {
    if raw[0] != RECORD_MARKER {
        return Err(Damage::BadMarker(raw[0]));
    }
    if raw[1] != ENCODING_JSON {
        return Err(Damage::UnknownEncoding(raw[1]));
    }
    if raw[2] != 0 || raw[3] != 0 {
        return Err(Damage::Reserved);
    }
    let len = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]);
    if len > MAX_PAYLOAD {
        return Err(Damage::TooLong(len));
    }
    let mut s = [0u8; 8];
    s.copy_from_slice(&raw[8..16]);
    Ok(FrameHeader {
        len,
        seq: u64::from_le_bytes(s),
        crc: u32::from_le_bytes([raw[16], raw[17], raw[18], raw[19]]),
        raw: *raw,
    })
}

/// Whether the checksum of a frame with `payload` matches.
pub(crate) fn frame_checksum_ok(h: &FrameHeader, payload: &[u8]) -> bool {
    let mut c = crc32fast::Hasher::new();
    c.update(&h.raw[0..16]);
    c.update(payload);
    c.finalize() == h.crc
}

/// The outcome of reading one frame.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A verified frame; the payload is in the caller's buffer.
    Record { seq: u64, len: usize },
    /// Clean end of file (no byte of a next frame).
    End,
    /// The frame is damaged ([`Damage::is_cut_off`]: the file ended inside it).
    Damaged { damage: Damage },
}

/// Reads as many bytes as available into `buf`; returns the count (short only
/// at end of file).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads and verifies the next frame; the payload is left in `payload`.
pub(crate) fn read_frame(r: &mut impl Read, payload: &mut Vec<u8>) -> io::Result<Frame> {
    let mut raw = [0u8; FRAME_HEADER_LEN];
    let n = read_full(r, &mut raw)?;
    if n == 0 {
        return Ok(Frame::End);
    }
    if n < FRAME_HEADER_LEN {
        return Ok(Frame::Damaged {
            damage: Damage::TruncatedHeader { have: n },
        });
    }
    let h = match parse_frame_header(&raw) {
        Ok(h) => h,
        Err(damage) => return Ok(Frame::Damaged { damage }),
    };
    payload.clear();
    payload.resize(h.len as usize, 0);
    let got = read_full(r, payload)?;
    if got < payload.len() {
        return Ok(Frame::Damaged {
            damage: Damage::TruncatedPayload {
                want: h.len,
                have: got,
            },
        });
    }
    if !frame_checksum_ok(&h, payload) {
        return Ok(Frame::Damaged {
            damage: Damage::Checksum,
        });
    }
    Ok(Frame::Record {
        seq: h.seq,
        len: FRAME_HEADER_LEN + h.len as usize,
    })
}

/// Whether a valid frame with a seq above `after_seq` starts anywhere in
/// `bytes` (the remainder of a file after a damaged frame).
pub(crate) fn valid_frame_follows(bytes: &[u8], after_seq: u64) -> Option<usize> {
    let mut i = 0;
    while i + FRAME_HEADER_LEN <= bytes.len() {
        if bytes[i] == RECORD_MARKER {
            let mut raw = [0u8; FRAME_HEADER_LEN];
            raw.copy_from_slice(&bytes[i..i + FRAME_HEADER_LEN]);
            if let Ok(h) = parse_frame_header(&raw) {
                let end = i + FRAME_HEADER_LEN + h.len as usize;
                if h.seq > after_seq
                    && end <= bytes.len()
                    && frame_checksum_ok(&h, &bytes[i + FRAME_HEADER_LEN..end])
                {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip_and_sort() {
        assert_eq!(segment_name(1), "journal-00000000000000000001.log");
        assert_eq!(parse_segment_name(&segment_name(123_456)), Some(123_456));
        assert_eq!(parse_segment_name("journal-.log"), None);
        assert_eq!(parse_segment_name("journal-12a.log"), None);
        assert_eq!(parse_segment_name("journal-1.log.tmp"), None);
        assert!(segment_name(9) < segment_name(10));
    }

    #[test]
    fn header_round_trip_and_damage() {
        let h = encode_segment_header(42);
        assert_eq!(decode_segment_header(&h), Ok(42));
        let mut bad = h;
        bad[13] ^= 1;
        assert_eq!(decode_segment_header(&bad), Err(HeaderProblem::Checksum));
        let mut bad = h;
        bad[0] = b'X';
        assert_eq!(decode_segment_header(&bad), Err(HeaderProblem::Magic));
    }

    #[test]
    fn frame_round_trip_and_every_bit_flip_detected() {
        let mut buf = vec![0u8; FRAME_HEADER_LEN];
        buf.extend_from_slice(br#"{"seq":7}"#);
        seal_frame(&mut buf, 7).unwrap();
        let mut payload = Vec::new();
        match read_frame(&mut &buf[..], &mut payload).unwrap() {
            Frame::Record { seq, len } => {
                assert_eq!(seq, 7);
                assert_eq!(len, buf.len());
                assert_eq!(payload, br#"{"seq":7}"#);
            }
            other => panic!("{other:?}"),
        }
        for bit in 0..buf.len() * 8 {
            let mut b = buf.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let r = read_frame(&mut &b[..], &mut payload).unwrap();
            assert!(
                matches!(r, Frame::Damaged { .. }),
                "bit {bit} flip not detected: {r:?}"
            );
        }
        // Every cut is detected as a partial frame.
        for cut in 1..buf.len() {
            let r = read_frame(&mut &buf[..cut], &mut payload).unwrap();
            assert!(
                matches!(&r, Frame::Damaged { damage } if damage.is_cut_off()),
                "{cut}: {r:?}"
            );
        }
        assert!(matches!(
            read_frame(&mut &buf[..0], &mut payload).unwrap(),
            Frame::End
        ));
    }

    #[test]
    fn finds_a_valid_frame_after_garbage() {
        let mut buf = vec![0u8; FRAME_HEADER_LEN];
        buf.extend_from_slice(b"{}");
        seal_frame(&mut buf, 5).unwrap();
        let mut bytes = vec![b'R'; 7];
        bytes.extend_from_slice(&buf);
        assert_eq!(valid_frame_follows(&bytes, 4), Some(7));
        assert_eq!(valid_frame_follows(&bytes, 5), None);
        assert_eq!(valid_frame_follows(&bytes[..bytes.len() - 1], 4), None);
    }
}
