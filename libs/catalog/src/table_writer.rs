//! [`TableWriter`]: an exact, streaming writer of run-output tables (fills,
//! orders, equity curves, …) to `name.parquet` and `name.csv` side by side.
//!
//! Column types are few and exact: 64-bit integers, UTC nanosecond timestamps,
//! decimals (raw `i128` in units of 1e-8, stored as `Decimal128(38, 8)` and
//! printed exactly in the CSV), UTF-8 text and booleans; every column may hold
//! nulls (an empty CSV field). Rows are buffered in small batches, so memory
//! does not grow with the table.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_schema::{Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use veloz_core::UnixNanos;

use crate::record::ts_i64;
use crate::schema::{Kind, Rows};
use crate::util::{format_datetime, format_decimal};
use crate::CatalogError;

/// The type of a [`TableWriter`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Signed 64-bit integer.
    I64,
    /// UTC timestamp with nanoseconds (CSV: RFC 3339, `2024-08-08T23:54:13.000000001Z`).
    Timestamp,
    /// Exact decimal, raw units of 1e-8 (`Decimal128(38, 8)`; CSV: plain decimal text).
    Decimal,
    /// UTF-8 text (CSV: quoted when it holds `,`, `"` or a line break).
    Utf8,
    /// Boolean (CSV: `true` / `false`).
    Bool,
}

impl ColumnType {
    fn kind(self) -> Kind {
        match self {
            Self::I64 => Kind::I64,
            Self::Timestamp => Kind::Ts,
            Self::Decimal => Kind::Dec,
            Self::Utf8 => Kind::Utf8,
            Self::Bool => Kind::Bool,
        }
    }
}

/// One value of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// For [`ColumnType::I64`].
    I64(i64),
    /// For [`ColumnType::Timestamp`].
    Timestamp(UnixNanos),
    /// For [`ColumnType::Decimal`]: raw units of 1e-8 (`Price::raw()`, `Money::raw()`, …).
    Decimal(i128),
    /// For [`ColumnType::Utf8`].
    Utf8(&'a str),
    /// For [`ColumnType::Bool`].
    Bool(bool),
    /// No value (any column).
    Null,
}

const BATCH_ROWS: usize = 4096;
const DEC_LIMIT: i128 = 10i128.pow(38);

/// Writes one table to `<dir>/<name>.parquet` and `<dir>/<name>.csv`.
pub struct TableWriter {
    name: String,
    types: Vec<ColumnType>,
    rows: Rows,
    parquet: ArrowWriter<File>,
    csv: BufWriter<File>,
    parquet_path: PathBuf,
    csv_path: PathBuf,
    line: String,
}

impl std::fmt::Debug for TableWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableWriter")
            .field("name", &self.name)
            .field("types", &self.types)
            .finish()
    }
}

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

impl TableWriter {
    /// Creates (truncating) `<dir>/<name>.parquet` and `<dir>/<name>.csv` with
    /// the given columns. `dir` is created if needed.
    pub fn create(
        dir: &Path,
        name: &str,
        columns: &[(&str, ColumnType)],
    ) -> Result<Self, CatalogError> {
        let table_err = |reason: String| CatalogError::Table {
            table: name.to_string(),
            reason,
        };
        if columns.is_empty() {
            return Err(table_err("a table needs at least one column".into()));
        }
        if name.is_empty() || name.contains(['/', '\\']) {
            return Err(table_err("the name must be a plain file name".into()));
        }
        std::fs::create_dir_all(dir).map_err(|e| CatalogError::io(dir, e))?;
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, t)| Field::new(*n, t.kind().data_type(), true))
            .collect();
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        let parquet_path = dir.join(format!("{name}.parquet"));
        let csv_path = dir.join(format!("{name}.csv"));
        let pf = File::create(&parquet_path).map_err(|e| CatalogError::io(&parquet_path, e))?;
        let props = crate::schema::writer_properties(&schema).build();
        let parquet = ArrowWriter::try_new(pf, schema.clone(), Some(props)).map_err(|e| {
            CatalogError::Parquet {
                path: parquet_path.clone(),
                source: e,
            }
        })?;
        let cf = File::create(&csv_path).map_err(|e| CatalogError::io(&csv_path, e))?;
        let mut csv = BufWriter::new(cf);
        let mut header = String::new();
        for (i, (n, _)) in columns.iter().enumerate() {
            if i > 0 {
                header.push(',');
            }
            csv_field(&mut header, n);
        }
        header.push('\n');
        csv.write_all(header.as_bytes())
            .map_err(|e| CatalogError::io(&csv_path, e))?;
        Ok(Self {
            name: name.to_string(),
            types: columns.iter().map(|c| c.1).collect(),
            rows: Rows::new(schema),
            parquet,
            csv,
            parquet_path,
            csv_path,
            line: String::new(),
        })
    }

    /// Appends one row; `values` must match the columns in number and type.
    pub fn write_row(&mut self, values: &[Value<'_>]) -> Result<(), CatalogError> {
        let table_err = |reason: String| CatalogError::Table {
            table: self.name.clone(),
            reason,
        };
        if values.len() != self.types.len() {
            return Err(table_err(format!(
                "a row has {} values for {} columns",
                values.len(),
                self.types.len()
            )));
        }
        // Check everything first so a bad row leaves no partial state.
        for (i, (v, t)) in values.iter().zip(&self.types).enumerate() {
            let ok = matches!(
                (v, t),
                (Value::Null, _)
                    | (Value::I64(_), ColumnType::I64)
                    | (Value::Timestamp(_), ColumnType::Timestamp)
                    | (Value::Decimal(_), ColumnType::Decimal)
                    | (Value::Utf8(_), ColumnType::Utf8)
                    | (Value::Bool(_), ColumnType::Bool)
            );
            if !ok {
                return Err(table_err(format!("column {i} is {t:?} but got {v:?}")));
            }
            if let Value::Decimal(d) = v {
                if d.unsigned_abs() >= DEC_LIMIT.unsigned_abs() {
                    return Err(table_err(format!(
                        "column {i}: decimal {d} exceeds 38 digits"
                    )));
                }
            }
            if let Value::Timestamp(t) = v {
                ts_i64(*t)?;
            }
        }
        self.line.clear();
        for (i, (v, t)) in values.iter().zip(&self.types).enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            match *v {
                Value::Null => match t {
                    ColumnType::I64 => self.rows.i64(i, None),
                    ColumnType::Timestamp => self.rows.ts(i, None),
                    ColumnType::Decimal => self.rows.dec(i, None),
                    ColumnType::Utf8 => self.rows.utf8(i, None),
                    ColumnType::Bool => self.rows.bool(i, None),
                },
                Value::I64(x) => {
                    self.rows.i64(i, Some(x));
                    self.line.push_str(&x.to_string());
                }
                Value::Timestamp(x) => {
                    self.rows.ts(i, Some(ts_i64(x)?));
                    self.line.push_str(&format_datetime(x));
                }
                Value::Decimal(x) => {
                    self.rows.dec(i, Some(x));
                    self.line.push_str(&format_decimal(x));
                }
                Value::Utf8(x) => {
                    self.rows.utf8(i, Some(x));
                    csv_field(&mut self.line, x);
                }
                Value::Bool(x) => {
                    self.rows.bool(i, Some(x));
                    self.line.push_str(if x { "true" } else { "false" });
                }
            }
        }
        self.rows.end_row();
        self.line.push('\n');
        self.csv
            .write_all(self.line.as_bytes())
            .map_err(|e| CatalogError::io(&self.csv_path, e))?;
        if self.rows.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), CatalogError> {
        if self.rows.len() == 0 {
            return Ok(());
        }
        let batch = self.rows.take().map_err(|e| CatalogError::Arrow {
            path: self.parquet_path.clone(),
            source: e,
        })?;
        self.parquet
            .write(&batch)
            .map_err(|e| CatalogError::Parquet {
                path: self.parquet_path.clone(),
                source: e,
            })
    }

    /// Flushes and closes both files; returns their paths (Parquet, CSV).
    pub fn finish(mut self) -> Result<(PathBuf, PathBuf), CatalogError> {
        self.flush()?;
        self.csv
            .flush()
            .map_err(|e| CatalogError::io(&self.csv_path, e))?;
        self.parquet.close().map_err(|e| CatalogError::Parquet {
            path: self.parquet_path.clone(),
            source: e,
        })?;
        Ok((self.parquet_path, self.csv_path))
    }
}
