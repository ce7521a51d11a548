//! Locating the shared third-party fixtures (`../shared/fixtures`).
//!
//! Tests, benchmarks and the demo read real Binance captures and vectors from the
//! `shared/fixtures` folder that sits beside the checkout. Set `VELOZ_FIXTURES`
//! to use another folder. A missing fixture is an error that says where it was
//! looked for; callers in tests fail on it, never skip.

use std::path::{Path, PathBuf};

/// A fixture that could not be found.
#[derive(Debug, thiserror::Error)]
#[error("fixture {rel:?} not found at {path:?}: put the shared fixtures beside the checkout (../shared/fixtures) or set VELOZ_FIXTURES to their folder")]
pub struct MissingFixture {
    /// The relative path asked for.
    pub rel: String,
    /// Where it was looked for.
    pub path: PathBuf,
}

/// The fixtures folder: `$VELOZ_FIXTURES`, else the first `shared/fixtures`
/// found beside the current directory or one of its ancestors, else
/// `../shared/fixtures` relative to this crate's workspace.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VELOZ_FIXTURES") {
        return PathBuf::from(dir);
    }
    let mut starts: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for start in &starts {
        for dir in start.ancestors() {
            let candidate = dir.join("shared").join("fixtures");
            if candidate.is_dir() {
                return candidate;
            }
        }
    }
    // Workspace root is two levels above libs/core.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

/// The path of a fixture, checked to exist.
pub fn fixture(rel: &str) -> Result<PathBuf, MissingFixture> {
    let path = fixtures_dir().join(rel);
    if path.exists() {
        Ok(path)
    } else {
        Err(MissingFixture {
            rel: rel.into(),
            path,
        })
    }
}
