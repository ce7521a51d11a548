//! Reading a run folder's inputs for the report: a small CSV reader (header
//! row, comma-separated, optional double quotes), RFC 3339 timestamps to
//! seconds, and decimal text to drawing coordinates.
//!
//! Values read here are used for drawing only (`f64` pixel coordinates); the
//! tables of the report show the exact text of the files.

use std::path::Path;

use crate::ReportError;

/// A CSV file: its header and rows of fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each with as many fields as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Index of column `name`, or an error naming the file and the column.
    pub fn col(&self, file: &Path, name: &str) -> Result<usize, ReportError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ReportError::Bad {
                path: file.to_path_buf(),
                reason: format!(
                    "no column {name:?} (columns: {}); regenerate the run with `veloz backtest`",
                    self.header.join(",")
                ),
            })
    }
}

/// Splits one CSV line into fields (double quotes may enclose a field; `""`
/// inside quotes is a quote).
pub fn split_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Parses CSV text; `file` names the source in errors.
pub fn parse_csv(file: &Path, text: &str) -> Result<Table, ReportError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = match lines.next() {
        Some(h) => split_line(h.trim_end_matches('\r')),
        None => {
            return Err(ReportError::Bad {
                path: file.to_path_buf(),
                reason: "empty file (expected a header row)".into(),
            })
        }
    };
    let mut rows = Vec::new();
    for (i, l) in lines.enumerate() {
        let row = split_line(l.trim_end_matches('\r'));
        if row.len() != header.len() {
            return Err(ReportError::Bad {
                path: file.to_path_buf(),
                reason: format!(
                    "line {} has {} fields, the header has {}",
                    i + 2,
                    row.len(),
                    header.len()
                ),
            });
        }
        rows.push(row);
    }
    Ok(Table { header, rows })
}

/// Reads and parses a CSV file.
pub fn read_csv(path: &Path) -> Result<Table, ReportError> {
    let text = read_text(path)?;
    parse_csv(path, &text)
}

/// Reads a text file; a missing file is [`ReportError::Missing`].
pub fn read_text(path: &Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReportError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            ReportError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac]Z` (or with a space instead of `T`, and
/// without the `Z`) into seconds since the Unix epoch. `None` if malformed.
pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim().trim_end_matches('Z');
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if b[10] != b'T' && b[10] != b' ' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut frac = 0.0;
    if b.len() > 19 {
        let f = s.get(19..)?;
        let digits = f.strip_prefix('.')?;
        if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n: u64 = digits.parse().ok()?;
        frac = n as f64 / 10f64.powi(digits.len() as i32);
    }
    let days = veloz_core::days_from_civil(y, u32::try_from(mo).ok()?, u32::try_from(d).ok()?);
    Some((days * 86_400 + h * 3600 + mi * 60 + se) as f64 + frac)
}

/// Formats epoch seconds for an axis label: the date, with the time of day
/// when `with_time`, and seconds when `with_secs`.
pub fn format_time(secs: f64, with_time: bool, with_secs: bool) -> String {
    let t = secs.floor() as i64;
    let (y, m, d) = veloz_core::civil_from_days(t.div_euclid(86_400));
    let sod = t.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
    match (with_time, with_secs) {
        (false, _) => format!("{y:04}-{m:02}-{d:02}"),
        (true, false) => format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}"),
        (true, true) => format!("{h:02}:{mi:02}:{s:02}"),
    }
}

/// Parses decimal text (`-12.5`, `0.00000001`, `1e-3`) for drawing. `None`
/// for empty or non-numeric text.
pub fn parse_num(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_format() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            parse_time("2024-08-08T23:54:16.299000000Z"),
            Some(1_723_161_256.299)
        );
        assert_eq!(parse_time("2024-08-09 00:00:01"), Some(1_723_161_601.0));
        assert_eq!(parse_time("2024-02-30"), None);
        assert_eq!(parse_time("2024-08-08T23:54:16.Z"), None);
        assert_eq!(parse_time("garbage-in-here-xxxx"), None);
        assert_eq!(
            format_time(1_723_161_256.9, true, false),
            "2024-08-08 23:54"
        );
        assert_eq!(format_time(1_723_161_256.9, true, true), "23:54:16");
        assert_eq!(format_time(951_782_400.0, false, false), "2000-02-29");
    }

    #[test]
    fn csv_fields_and_errors() {
        assert_eq!(
            split_line("a,\"b,c\",\"d\"\"e\","),
            ["a", "b,c", "d\"e", ""]
        );
        let p = Path::new("x.csv");
        let t = parse_csv(p, "time,price\n1,2\r\n\n3,4\n").unwrap();
        assert_eq!(t.rows, [["1", "2"], ["3", "4"]]);
        assert_eq!(t.col(p, "price").unwrap(), 1);
        let e = t.col(p, "qty").unwrap_err().to_string();
        assert!(e.contains("x.csv") && e.contains("\"qty\""), "{e}");
        let e = parse_csv(p, "a,b\n1\n").unwrap_err().to_string();
        assert!(e.contains("line 2 has 1 fields"), "{e}");
        assert!(parse_csv(p, "").is_err());
    }
}
