//! File helpers of `telemetry.json` and its archives: positioned reads and writes, a
//! file's identity, directory syncs, setting a broken file aside.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A file's identity: device and inode (a rename over it changes it).
pub(super) type FileId = (u64, u64);

/// Renames a file that is not a JSON array to `NAME.invalid-TIME`, keeping it.
pub(super) fn set_aside(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("telemetry.json");
    let aside = path.with_file_name(format!(
        "{name}.invalid-{}",
        super::lines::unix_ms(SystemTime::now())
    ));
    fs::rename(path, &aside)?;
    Ok(aside)
}

pub(super) fn open_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

/// Syncs the directory holding `path`, so that a rename into it survives a power loss.
pub(super) fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(unix)]
pub(super) fn id_of(meta: &fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
pub(super) fn id_of(meta: &fs::Metadata) -> FileId {
    // Without inodes: the creation time stands for the file's identity.
    let created = meta.created().map_or(0, super::lines::unix_ms);
    (0, created)
}

#[cfg(unix)]
pub(super) fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(unix)]
pub(super) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut read = 0;
    while read < buf.len() {
        match std::os::unix::fs::FileExt::read_at(file, &mut buf[read..], offset + read as u64) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(read)
}

#[cfg(windows)]
pub(super) fn write_at(file: &File, mut bytes: &[u8], mut offset: u64) -> io::Result<()> {
    while !bytes.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, bytes, offset)?;
        bytes = &bytes[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
pub(super) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut read = 0;
    while read < buf.len() {
        match std::os::windows::fs::FileExt::seek_read(
            file,
            &mut buf[read..],
            offset + read as u64,
        )? {
            0 => break,
            n => read += n,
        }
    }
    Ok(read)
}
