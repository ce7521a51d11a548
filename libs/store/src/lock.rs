//! The writer's lock on a journal directory: a `LOCK` file created
//! exclusively, holding the writer's process id, removed when the writer is
//! dropped. A lock left by a process that no longer runs (killed) is taken
//! over. Liveness is checked through `/proc/<pid>` (Linux); where `/proc`
//! does not exist a leftover lock is always taken over, so the lock only
//! guards against a second writer on Linux. Best effort: two processes
//! taking over the same stale lock at the same instant are not excluded.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// Holds the lock; removes the file on drop.
#[derive(Debug)]
pub(crate) struct DirLock {
    path: PathBuf,
}

fn pid_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc_dir = Path::new("/proc");
    if !proc_dir.is_dir() {
        return false;
    }
    match fs::read_to_string(proc_dir.join(pid.to_string()).join("stat")) {
        // The state follows the parenthesised command name; `Z` = zombie, `X` = dead.
        Ok(stat) => match stat.rfind(')') {
            Some(i) => !matches!(stat[i + 1..].trim_start().chars().next(), Some('Z' | 'X')),
            None => true,
        },
        Err(_) => false,
    }
}

impl DirLock {
    /// Takes the lock of `dir`.
    pub(crate) fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("LOCK");
        let io_err = |op, source| StoreError::Io {
            path: path.clone(),
            op,
            source,
        };
        for _ in 0..3 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id())
                        .map_err(|e| io_err("write the lock file", e))?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let holder = match fs::read_to_string(&path) {
                        Ok(s) => s.trim().parse::<u32>().ok(),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(io_err("read the lock file", e)),
                    };
                    if let Some(pid) = holder.filter(|p| pid_alive(*p)) {
                        return Err(StoreError::Locked { path, pid });
                    }
                    match fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_err("remove a stale lock file", e)),
                    }
                }
                Err(e) => return Err(io_err("create the lock file", e)),
            }
        }
        Err(io_err(
            "take the lock (another process keeps taking it)",
            io::Error::from(io::ErrorKind::WouldBlock),
        ))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Nothing useful can be done if this fails; the next writer takes
        // over a lock whose process is gone.
        let _ = fs::remove_file(&self.path);
    }
}
