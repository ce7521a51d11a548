//! The on-disk catalog: `<root>/<table>/<instrument>/part-NNNNN.parquet`.
//!
//! [`Catalog::write`] streams records into one open part file per (table,
//! instrument), flushing Arrow batches of `batch_rows` rows into row groups of
//! at most `row_group_rows` rows, so memory is bounded by the number of open
//! tables, not by the data. Files are written under a hidden temporary name and
//! renamed when complete; a failed write leaves no part behind. Every part is
//! sorted by `ts_local`: when a record's local time goes backwards the writer
//! starts a new part.
//!
//! [`Catalog::read_records`] reads the footers of the selected parts, drops
//! the row groups outside the query's time window (by their `ts_local`
//! statistics), chains parts of one table and instrument that do not overlap in
//! time into lanes (daily files make one lane), and merges the lanes (k-way, on
//! `ts_local`, then table order, then `seq`), decoding one batch of one row
//! group at a time of the one open part of each lane. [`Catalog::read`] turns records into market events
//! and joins funding rows with the latest mark price.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use veloz_core::events::MarketEvent;
use veloz_core::{InstrumentId, Price, UnixNanos};

use crate::record::{funding_event, Record, Table};
use crate::schema::{self, RowView, Rows};
use crate::source::LocalClock;
use crate::CatalogError;

/// Metadata key: the table name.
pub(crate) const META_TABLE: &str = "veloz.table";
/// Metadata key: what `ts_local` means (`received` or `exchange`).
pub(crate) const META_LOCAL_CLOCK: &str = "veloz.ts_local";
/// Metadata key: schema version.
pub(crate) const META_VERSION: &str = "veloz.schema_version";

/// A catalog rooted at a folder.
#[derive(Debug, Clone)]
pub struct Catalog {
    root: PathBuf,
}

/// How [`Catalog::write`] writes.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    /// Largest row group, in rows (default 65,536).
    pub row_group_rows: usize,
    /// Rows collected before they are handed to the Parquet writer (default 8,192).
    pub batch_rows: usize,
    /// What `ts_local` of the records means (stored as file metadata).
    pub local_clock: LocalClock,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            row_group_rows: 65_536,
            batch_rows: 8_192,
            local_clock: LocalClock::Exchange,
        }
    }
}

/// What one write stored in one table for one instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// Table.
    pub table: Table,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Records written.
    pub records: u64,
    /// Rows written (a book event has one row per level).
    pub rows: u64,
    /// Smallest `ts_local` written.
    pub first: Option<UnixNanos>,
    /// Largest `ts_local` written.
    pub last: Option<UnixNanos>,
    /// The part files written.
    pub files: Vec<PathBuf>,
}

/// What [`Catalog::write`] stored, by table and instrument.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// One entry per (table, instrument), sorted.
    pub tables: Vec<TableSummary>,
}

impl WriteSummary {
    /// Total records written.
    pub fn records(&self) -> u64 {
        self.tables.iter().map(|t| t.records).sum()
    }
}

/// Which data [`Catalog::read`] returns. Empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Instruments to read (empty: all).
    pub instruments: Vec<InstrumentId>,
    /// Tables to read (empty: all).
    pub tables: Vec<Table>,
    /// Only records with `ts_local >= start`.
    pub start: Option<UnixNanos>,
    /// Only records with `ts_local < end`.
    pub end: Option<UnixNanos>,
}

struct PartWriter {
    table: Table,
    dir: PathBuf,
    schema: arrow_schema::SchemaRef,
    rows: Rows,
    writer: Option<(ArrowWriter<File>, PathBuf, PathBuf)>,
    last_local: Option<UnixNanos>,
    summary: TableSummary,
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, CatalogError> {
        let root = root.as_ref().to_path_buf();
        std::fs::create_dir_all(&root).map_err(|e| CatalogError::io(&root, e))?;
        Ok(Self { root })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one table and instrument.
    pub fn dir(&self, table: Table, instrument: InstrumentId) -> PathBuf {
        self.root.join(table.name()).join(instrument.to_string())
    }

    /// Writes records (in time order per table and instrument, as importers
    /// yield them) to new part files. Stops at the first error, removing the
    /// parts of this write.
    pub fn write<I>(&self, records: I, opts: &WriteOptions) -> Result<WriteSummary, CatalogError>
    where
        I: IntoIterator<Item = Result<Record, CatalogError>>,
    {
        let mut parts: HashMap<(Table, InstrumentId), PartWriter> = HashMap::new();
        let result = self.write_inner(records, opts, &mut parts);
        match result {
            Ok(()) => {
                let mut tables = Vec::new();
                let mut first_err = None;
                for (_, mut p) in parts.drain() {
                    if let Err(e) = p.close(opts) {
                        first_err.get_or_insert(e);
                    }
                    tables.push(p.summary);
                }
                if let Some(e) = first_err {
                    for t in &tables {
                        for f in &t.files {
                            let _ = std::fs::remove_file(f);
                        }
                    }
                    return Err(e);
                }
                tables.sort_by_key(|t| (t.table, t.instrument));
                Ok(WriteSummary { tables })
            }
            Err(e) => {
                for (_, p) in parts.drain() {
                    p.abandon();
                }
                Err(e)
            }
        }
    }

    fn write_inner<I>(
        &self,
        records: I,
        opts: &WriteOptions,
        parts: &mut HashMap<(Table, InstrumentId), PartWriter>,
    ) -> Result<(), CatalogError>
    where
        I: IntoIterator<Item = Result<Record, CatalogError>>,
    {
        for (seq, rec) in (0u64..).zip(records) {
            let rec = rec?;
            let key = (rec.table(), rec.instrument());
            let part = match parts.entry(key) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let dir = self.dir(key.0, key.1);
                    std::fs::create_dir_all(&dir).map_err(|e| CatalogError::io(&dir, e))?;
                    let schema = schema::schema(key.0);
                    v.insert(PartWriter {
                        table: key.0,
                        dir,
                        rows: Rows::new(schema.clone()),
                        schema,
                        writer: None,
                        last_local: None,
                        summary: TableSummary {
                            table: key.0,
                            instrument: key.1,
                            records: 0,
                            rows: 0,
                            first: None,
                            last: None,
                            files: Vec::new(),
                        },
                    })
                }
            };
            part.push(&rec, seq, opts)?;
        }
        Ok(())
    }

    /// Imports one file: [`crate::open_source`] then [`Self::write`], with
    /// `ts_local`'s meaning taken from the source (`opts.local_clock` is
    /// ignored). Returns what the file was and what was written.
    pub fn import(
        &self,
        path: &Path,
        source: &crate::SourceOptions,
        opts: &WriteOptions,
    ) -> Result<(crate::SourceInfo, WriteSummary), CatalogError> {
        let src = crate::open_source(path, source)?;
        let info = src.info().clone();
        let opts = WriteOptions {
            local_clock: info.local_clock,
            ..*opts
        };
        let summary = self.write(src, &opts)?;
        Ok((info, summary))
    }

    /// Every part file of a table and instrument, in name order.
    pub fn parts(
        &self,
        table: Table,
        instrument: InstrumentId,
    ) -> Result<Vec<PathBuf>, CatalogError> {
        let dir = self.dir(table, instrument);
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(CatalogError::io(&dir, e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| CatalogError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("part-") && name.ends_with(".parquet") {
                out.push(entry.path());
            }
        }
        out.sort();
        Ok(out)
    }

    /// The instruments stored in a table.
    pub fn instruments(&self, table: Table) -> Result<Vec<InstrumentId>, CatalogError> {
        let dir = self.root.join(table.name());
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(CatalogError::io(&dir, e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| CatalogError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let id = name
                .parse::<InstrumentId>()
                .map_err(|e| CatalogError::BadCatalog {
                    path: entry.path(),
                    row: 0,
                    reason: format!("folder name is not an instrument id ({e})"),
                })?;
            out.push(id);
        }
        out.sort();
        Ok(out)
    }

    /// Streams the selected records merged in `ts_local` order (ties: table
    /// order, then write order).
    pub fn read_records(&self, query: &Query) -> Result<CatalogReader, CatalogError> {
        let mut tables: Vec<Table> = if query.tables.is_empty() {
            Table::ALL.to_vec()
        } else {
            query.tables.clone()
        };
        tables.sort();
        tables.dedup();
        let mut wanted = query.instruments.clone();
        wanted.sort();
        wanted.dedup();
        let mut lanes = Vec::new();
        for table in tables {
            let instruments = if wanted.is_empty() {
                self.instruments(table)?
            } else {
                wanted.clone()
            };
            for instrument in instruments {
                let mut metas = Vec::new();
                for path in self.parts(table, instrument)? {
                    let meta = PartMeta::read(path, table, query.start, query.end)?;
                    if !meta.row_groups.is_empty() {
                        metas.push(meta);
                    }
                }
                lanes.extend(Lane::plan(metas));
            }
        }
        let mut r = CatalogReader {
            lanes,
            heap: BinaryHeap::new(),
            start: query.start,
            end: query.end,
        };
        r.prime()?;
        Ok(r)
    }

    /// Streams the selected data as market events (see [`MarketEvents`]).
    pub fn read(&self, query: &Query) -> Result<MarketEvents, CatalogError> {
        Ok(MarketEvents {
            inner: self.read_records(query)?,
            marks: HashMap::new(),
            funding_without_mark: 0,
        })
    }
}

impl PartWriter {
    fn push(&mut self, rec: &Record, seq: u64, opts: &WriteOptions) -> Result<(), CatalogError> {
        let local = rec.times().local;
        if self.last_local.is_some_and(|l| local < l) {
            // Keep every part sorted by ts_local: start a new one.
            self.close(opts)?;
        }
        self.last_local = Some(local);
        schema::append(&mut self.rows, rec, seq)?;
        let s = &mut self.summary;
        s.records += 1;
        s.first = Some(s.first.map_or(local, |f| f.min(local)));
        s.last = Some(s.last.map_or(local, |l| l.max(local)));
        if self.rows.len() >= opts.batch_rows.max(1) {
            self.flush(opts)?;
        }
        Ok(())
    }

    fn next_part_number(&self) -> Result<u32, CatalogError> {
        let mut max = None;
        let rd = std::fs::read_dir(&self.dir).map_err(|e| CatalogError::io(&self.dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| CatalogError::io(&self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let digits = name
                .trim_start_matches('.')
                .strip_prefix("part-")
                .and_then(|n| n.split('.').next())
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(n) = digits {
                max = Some(max.map_or(n, |m: u32| m.max(n)));
            }
        }
        Ok(max.map_or(0, |m| m + 1))
    }

    fn flush(&mut self, opts: &WriteOptions) -> Result<(), CatalogError> {
        if self.rows.len() == 0 {
            return Ok(());
        }
        if self.writer.is_none() {
            let n = self.next_part_number()?;
            let final_path = self.dir.join(format!("part-{n:05}.parquet"));
            let tmp_path = self.dir.join(format!(".part-{n:05}.parquet.tmp"));
            let file = File::create(&tmp_path).map_err(|e| CatalogError::io(&tmp_path, e))?;
            let props = schema::writer_properties(&self.schema)
                .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
                .set_key_value_metadata(Some(vec![
                    KeyValue::new(META_TABLE.into(), self.table.name().to_string()),
                    KeyValue::new(
                        META_LOCAL_CLOCK.into(),
                        opts.local_clock.as_str().to_string(),
                    ),
                    KeyValue::new(META_VERSION.into(), "1".to_string()),
                ]))
                .build();
            let w = ArrowWriter::try_new(file, self.schema.clone(), Some(props)).map_err(|e| {
                CatalogError::Parquet {
                    path: tmp_path.clone(),
                    source: e,
                }
            })?;
            self.writer = Some((w, tmp_path, final_path));
        }
        let rows = self.rows.len() as u64;
        let batch = self.rows.take().map_err(|e| CatalogError::Arrow {
            path: self.dir.clone(),
            source: e,
        })?;
        if let Some((w, tmp, _)) = self.writer.as_mut() {
            w.write(&batch).map_err(|e| CatalogError::Parquet {
                path: tmp.clone(),
                source: e,
            })?;
        }
        self.summary.rows += rows;
        Ok(())
    }

    /// Finishes the current part file (if any) and renames it into place.
    fn close(&mut self, opts: &WriteOptions) -> Result<(), CatalogError> {
        self.flush(opts)?;
        self.last_local = None;
        if let Some((w, tmp, fin)) = self.writer.take() {
            w.close().map_err(|e| CatalogError::Parquet {
                path: tmp.clone(),
                source: e,
            })?;
            std::fs::rename(&tmp, &fin).map_err(|e| CatalogError::io(&fin, e))?;
            self.summary.files.push(fin);
        }
        Ok(())
    }

    /// Drops the unfinished part and removes the parts finished by this write.
    fn abandon(mut self) {
        if let Some((w, tmp, _)) = self.writer.take() {
            drop(w);
            let _ = std::fs::remove_file(tmp);
        }
        for f in &self.summary.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

// ---------------------------------------------------------------- reading

/// Reads one part file, one batch (of one row group) at a time.
struct PartReader {
    path: PathBuf,
    table: Table,
    reader: ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    row: usize,
    file_row: u64,
    instrument_cache: Option<(String, InstrumentId)>,
}

const READ_BATCH_ROWS: usize = 4096;

impl PartReader {
    fn open(meta: PartMeta) -> Result<Self, CatalogError> {
        let PartMeta {
            path,
            table,
            row_groups,
            ..
        } = meta;
        let file = File::open(&path).map_err(|e| CatalogError::io(&path, e))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| CatalogError::Parquet {
                path: path.clone(),
                source: e,
            })?;
        check_schema(&path, table, builder.schema())?;
        let reader = builder
            .with_row_groups(row_groups)
            .with_batch_size(READ_BATCH_ROWS)
            .build()
            .map_err(|e| CatalogError::Parquet {
                path: path.clone(),
                source: e,
            })?;
        Ok(Self {
            path,
            table,
            reader,
            batch: None,
            row: 0,
            file_row: 0,
            instrument_cache: None,
        })
    }

    fn bad(&self, reason: String) -> CatalogError {
        CatalogError::BadCatalog {
            path: self.path.clone(),
            row: self.file_row,
            reason,
        }
    }

    /// Makes sure a row is available; `false` at the end of the file.
    fn ensure_row(&mut self) -> Result<bool, CatalogError> {
        loop {
            if let Some(b) = &self.batch {
                if self.row < b.num_rows() {
                    return Ok(true);
                }
            }
            self.batch = None;
            self.row = 0;
            match self.reader.next() {
                None => return Ok(false),
                Some(Err(e)) => {
                    return Err(CatalogError::Arrow {
                        path: self.path.clone(),
                        source: e,
                    })
                }
                Some(Ok(b)) => self.batch = Some(b),
            }
        }
    }

    fn advance(&mut self) {
        self.row += 1;
        self.file_row += 1;
    }

    fn instrument(&mut self) -> Result<InstrumentId, CatalogError> {
        let Some(batch) = &self.batch else {
            return Err(self.bad("no batch".into()));
        };
        let v = RowView {
            batch,
            row: self.row,
        };
        let s = v.str(0).map_err(|e| self.bad(e))?;
        let Some(s) = s else {
            return Err(self.bad("instrument is null".into()));
        };
        if let Some((text, id)) = &self.instrument_cache {
            if text == s {
                return Ok(*id);
            }
        }
        let id = s
            .parse::<InstrumentId>()
            .map_err(|e| self.bad(format!("bad instrument {s:?} ({e})")))?;
        self.instrument_cache = Some((s.to_string(), id));
        Ok(id)
    }

    /// The next record of the file.
    fn next_record(&mut self) -> Result<Option<(Record, u64)>, CatalogError> {
        if !self.ensure_row()? {
            return Ok(None);
        }
        let instrument = self.instrument()?;
        let Some(batch) = &self.batch else {
            return Ok(None);
        };
        let v = RowView {
            batch,
            row: self.row,
        };
        let seq = v.seq().map_err(|e| self.bad(e))?;
        if self.table != Table::Book {
            let rec = v.record(self.table, instrument).map_err(|e| self.bad(e))?;
            self.advance();
            return Ok(Some((rec, seq)));
        }
        let mut ev = v.book_event(instrument).map_err(|e| self.bad(e))?;
        while let Some(batch) = &self.batch {
            let v = RowView {
                batch,
                row: self.row,
            };
            v.add_level(&mut ev).map_err(|e| self.bad(e))?;
            self.advance();
            if !self.ensure_row()? {
                break;
            }
            let Some(batch) = &self.batch else { break };
            let next_seq = RowView {
                batch,
                row: self.row,
            }
            .seq()
            .map_err(|e| self.bad(e))?;
            if next_seq != seq {
                break;
            }
        }
        Ok(Some((Record::Event(ev), seq)))
    }
}

fn check_schema(
    path: &Path,
    table: Table,
    found: &arrow_schema::Schema,
) -> Result<(), CatalogError> {
    let expected = schema::schema(table);
    let same = expected.fields().len() == found.fields().len()
        && expected
            .fields()
            .iter()
            .zip(found.fields().iter())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if same {
        Ok(())
    } else {
        Err(CatalogError::BadCatalog {
            path: path.to_path_buf(),
            row: 0,
            reason: format!("its columns are not those of the {table} table"),
        })
    }
}

/// A part file's `ts_local` range and the row groups that can hold rows of
/// the query's time window (from the row groups' min/max statistics).
struct PartMeta {
    path: PathBuf,
    table: Table,
    min: u64,
    max: u64,
    row_groups: Vec<usize>,
}

impl PartMeta {
    fn read(
        path: PathBuf,
        table: Table,
        start: Option<UnixNanos>,
        end: Option<UnixNanos>,
    ) -> Result<Self, CatalogError> {
        use parquet::file::statistics::Statistics;
        let file = File::open(&path).map_err(|e| CatalogError::io(&path, e))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| CatalogError::Parquet {
                path: path.clone(),
                source: e,
            })?;
        check_schema(&path, table, builder.schema())?;
        let (mut min, mut max) = (u64::MAX, 0u64);
        let mut row_groups = Vec::new();
        for (i, rg) in builder.metadata().row_groups().iter().enumerate() {
            // Column 2 is ts_local. Without statistics, assume any time.
            let (lo, hi) = match rg.column(2).statistics() {
                Some(Statistics::Int64(v)) => match (v.min_opt(), v.max_opt()) {
                    (Some(&lo), Some(&hi)) => (
                        u64::try_from(lo).unwrap_or(0),
                        u64::try_from(hi).unwrap_or(0),
                    ),
                    _ => (0, u64::MAX),
                },
                _ => (0, u64::MAX),
            };
            if start.is_some_and(|s| hi < s.as_nanos()) || end.is_some_and(|e| lo >= e.as_nanos()) {
                continue;
            }
            min = min.min(lo);
            max = max.max(hi);
            row_groups.push(i);
        }
        Ok(Self {
            path,
            table,
            min,
            max,
            row_groups,
        })
    }
}

/// Parts of one table and instrument that do not overlap in time, read one
/// after the other: only the current part is open.
struct Lane {
    pending: std::collections::VecDeque<PartMeta>,
    current: Option<PartReader>,
    head: Option<Record>,
}

impl Lane {
    /// Splits parts into as few lanes of non-overlapping parts as possible
    /// (daily files imported one by one make one lane).
    fn plan(mut metas: Vec<PartMeta>) -> Vec<Lane> {
        metas.sort_by(|a, b| (a.min, a.max, &a.path).cmp(&(b.min, b.max, &b.path)));
        let mut lanes: Vec<(u64, Lane)> = Vec::new();
        for m in metas {
            let (min, max) = (m.min, m.max);
            match lanes.iter_mut().find(|(end, _)| *end <= min) {
                Some((end, lane)) => {
                    *end = max;
                    lane.pending.push_back(m);
                }
                None => lanes.push((
                    max,
                    Lane {
                        pending: std::collections::VecDeque::from([m]),
                        current: None,
                        head: None,
                    },
                )),
            }
        }
        lanes.into_iter().map(|(_, l)| l).collect()
    }

    fn table(&self) -> Table {
        self.current
            .as_ref()
            .map(|p| p.table)
            .or_else(|| self.pending.front().map(|m| m.table))
            .unwrap_or(Table::BookDepth)
    }

    fn next_record(&mut self) -> Result<Option<(Record, u64)>, CatalogError> {
        loop {
            if self.current.is_none() {
                let Some(meta) = self.pending.pop_front() else {
                    return Ok(None);
                };
                self.current = Some(PartReader::open(meta)?);
            }
            let Some(part) = self.current.as_mut() else {
                continue;
            };
            match part.next_record()? {
                Some(r) => return Ok(Some(r)),
                None => self.current = None,
            }
        }
    }
}

type HeapKey = Reverse<(UnixNanos, Table, u64, usize)>;

/// A time-ordered stream of records from a catalog (see [`Catalog::read_records`]).
/// Parts of one table and instrument that do not overlap in time are read one
/// after the other; overlapping ones are merged. Each open part holds one
/// decoded batch. After an error it yields nothing more.
pub struct CatalogReader {
    lanes: Vec<Lane>,
    heap: BinaryHeap<HeapKey>,
    start: Option<UnixNanos>,
    end: Option<UnixNanos>,
}

impl std::fmt::Debug for CatalogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogReader")
            .field("lanes", &self.lanes.len())
            .finish()
    }
}

impl CatalogReader {
    /// How many streams are being merged (at most one part file of each is open).
    pub fn lane_count(&self) -> usize {
        self.lanes.len()
    }

    /// Loads the next in-range record of lane `i` and queues it.
    fn refill(&mut self, i: usize) -> Result<(), CatalogError> {
        let start = self.start;
        let end = self.end;
        let lane = &mut self.lanes[i];
        loop {
            let table = lane.table();
            let Some((rec, seq)) = lane.next_record()? else {
                lane.head = None;
                return Ok(());
            };
            let t = rec.times().local;
            if start.is_some_and(|s| t < s) {
                continue;
            }
            if end.is_some_and(|e| t >= e) {
                // Later parts of the lane are later still.
                lane.pending.clear();
                lane.current = None;
                lane.head = None;
                return Ok(());
            }
            self.heap.push(Reverse((t, table, seq, i)));
            lane.head = Some(rec);
            return Ok(());
        }
    }

    fn prime(&mut self) -> Result<(), CatalogError> {
        for i in 0..self.lanes.len() {
            self.refill(i)?;
        }
        Ok(())
    }
}

impl Iterator for CatalogReader {
    type Item = Result<Record, CatalogError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Reverse((_, _, _, i)) = self.heap.pop()?;
        let rec = self.lanes[i].head.take()?;
        if let Err(e) = self.refill(i) {
            self.heap.clear();
            return Some(Err(e));
        }
        Some(Ok(rec))
    }
}

/// A time-ordered stream of market events from a catalog (see [`Catalog::read`]).
///
/// Funding rows become [`MarketEvent::MarkPrice`] with `funding_rate` set. Their
/// mark is the row's own (`markPrice` column of the source) or else the latest
/// mark price of the same instrument read before it, if that is at most one
/// funding interval (8 h unless the row says otherwise) old. A funding row with
/// no such mark is skipped and counted ([`Self::funding_without_mark`]): import
/// the instrument's mark-price file as well. bookDepth rows are not market
/// events and are skipped (read them with [`Catalog::read_records`]).
pub struct MarketEvents {
    inner: CatalogReader,
    marks: HashMap<InstrumentId, (Price, UnixNanos)>,
    funding_without_mark: u64,
}

impl std::fmt::Debug for MarketEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketEvents")
            .field("inner", &self.inner)
            .field("funding_without_mark", &self.funding_without_mark)
            .finish()
    }
}

impl MarketEvents {
    /// Funding rows skipped so far because no mark price was known.
    pub fn funding_without_mark(&self) -> u64 {
        self.funding_without_mark
    }
}

impl Iterator for MarketEvents {
    type Item = Result<MarketEvent, CatalogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rec = match self.inner.next()? {
                Ok(r) => r,
                Err(e) => return Some(Err(e)),
            };
            match rec {
                Record::Event(MarketEvent::MarkPrice(m)) => {
                    self.marks.insert(m.instrument, (m.mark, m.times.exchange));
                    return Some(Ok(MarketEvent::MarkPrice(m)));
                }
                Record::Funding(f) => {
                    let max_age = u64::from(f.interval_hours.unwrap_or(8)) * 3_600_000_000_000;
                    let mark = f.mark.or_else(|| {
                        self.marks.get(&f.instrument).and_then(|&(mark, at)| {
                            f.times
                                .exchange
                                .checked_duration_since(at)
                                .filter(|&age| age <= max_age)
                                .map(|_| mark)
                        })
                    });
                    match mark {
                        Some(mark) => return Some(Ok(funding_event(&f, mark))),
                        None => self.funding_without_mark += 1,
                    }
                }
                other => {
                    if let Some(e) = other.into_market_event() {
                        return Some(Ok(e));
                    }
                }
            }
        }
    }
}
