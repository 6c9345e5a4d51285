//! The file system under the store: how much it holds and how much is free.

use std::path::Path;

/// The size of a file system and what is free on it, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Its size.
    pub total: u64,
    /// Free for unprivileged users.
    pub available: u64,
}

impl Space {
    /// The share in use, 0 to 100 (what unprivileged users cannot use counts as used).
    pub fn used_percent(&self) -> f64 {
        match self.total {
            0 => 0.0,
            total => 100.0 * (total.saturating_sub(self.available)) as f64 / total as f64,
        }
    }
}

/// The file system holding `path`; `None` if the system cannot say.
pub fn space(path: &Path) -> Option<Space> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a zeroed statvfs the call fills.
    let ok = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } == 0;
    ok.then(|| Space {
        total: stat.f_blocks as u64 * stat.f_frsize as u64,
        available: stat.f_bavail as u64 * stat.f_frsize as u64,
    })
}

/// Bytes in the files under `dir`, subdirectories included (0 if it cannot be read).
pub fn directory_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => directory_bytes(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}
