//! The catalog's error type: every failure names the file (and the line or row
//! where there is one) and says what to do about it.

use std::path::PathBuf;

/// The file layouts [`crate::open_source`] understands, for error messages.
pub const SUPPORTED_LAYOUTS: &str = "\
Binance WebSocket captures (`<receive ns> <json frame>` lines, optionally gzip'd); \
bar CSVs `open_time,open,high,low,close,volume` and \
`open,high,low,close,volume,quote_volume,trades,close_datetime`; \
mark-price kline CSVs `open_time,open,high,low,close`; \
funding CSVs `fundingTime,fundingRate[,markPrice]`; \
data.binance.vision klines, aggTrades, trades, fundingRate and bookDepth files \
(.zip, .csv or .csv.gz, with or without a header row)";

/// Why importing, writing or reading catalog data failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A file or folder could not be opened, read or written.
    #[error("cannot access {path:?}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of an input file could not be parsed.
    #[error("{path:?} line {line}: {reason}; {hint}")]
    BadRow {
        /// The input file.
        path: PathBuf,
        /// 1-based line number in the (decompressed) file.
        line: u64,
        /// What is wrong.
        reason: String,
        /// What the user can do.
        hint: &'static str,
    },
    /// The file's layout is none of the supported ones.
    #[error("{path:?}: unknown file layout ({reason}); supported layouts: {SUPPORTED_LAYOUTS}")]
    UnknownLayout {
        /// The input file.
        path: PathBuf,
        /// What was seen.
        reason: String,
    },
    /// The instrument of an input file could not be told.
    #[error("{path:?}: cannot tell the instrument ({reason}); pass it explicitly (`--instrument BINANCE.USDM.BTCUSDT`, or `SourceOptions::instrument`)")]
    NoInstrument {
        /// The input file.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// A zip archive could not be read.
    #[error("zip archive {path:?}: {reason}; re-download the file (check it against its .CHECKSUM) or unzip it and import the CSV")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The Parquet library failed on a catalog file.
    #[error("parquet file {path:?}: {source}")]
    Parquet {
        /// The catalog file.
        path: PathBuf,
        /// The Parquet error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Arrow failed to build or read a batch of a catalog file.
    #[error("parquet file {path:?}: {source}")]
    Arrow {
        /// The catalog file.
        path: PathBuf,
        /// The Arrow error.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// A catalog file does not hold what its table should.
    #[error("catalog file {path:?} row {row}: {reason}; the file was not written by this version of veloz-catalog or is damaged: re-import the data")]
    BadCatalog {
        /// The catalog file.
        path: PathBuf,
        /// 0-based row in the file (counting from the start of the file).
        row: u64,
        /// What is wrong.
        reason: String,
    },
    /// A value cannot be stored (e.g. a time beyond the year 2262).
    #[error("{what}: {reason}")]
    Unstorable {
        /// Which value.
        what: String,
        /// Why.
        reason: String,
    },
    /// A caller error in the table writer (wrong number or type of values).
    #[error("table {table:?}: {reason}")]
    Table {
        /// Table name.
        table: String,
        /// What is wrong.
        reason: String,
    },
}

impl CatalogError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
