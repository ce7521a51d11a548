//! veloz-catalog: the Parquet data catalog (being built).
