//! A read-only file mapped through a private, unlinked copy of it.
//!
//! Mapping a file keeps only the pages that are read resident, and those
//! stay reclaimable page cache. But a mapped file that someone truncates
//! (`cp` over it rewrites the same inode) turns reads past its new end into
//! SIGBUS, a crash. Mapping a copy that has no name avoids that: nothing
//! else can open it.
//!
//! This module is allowed `unsafe` for the one `Mmap::map` call, whose
//! contract (the file does not change while mapped) the above upholds.
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

/// The contents of the file at `path`, mapped from an unlinked copy made
/// beside it when its directory is writable (so on the same disk), else in
/// the system's temporary directory. The error names the file.
pub fn map_private_copy(path: &Path) -> Result<Mmap, String> {
    let copy =
        private_copy(path).map_err(|e| format!("{}: cannot be read: {e}", path.display()))?;
    // SAFETY: `copy` is unlinked and its descriptor never leaves this
    // function, so no process can open, write or truncate it while the
    // mapping lives (only one with the gateway's own /proc access could).
    unsafe { Mmap::map(&copy) }.map_err(|e| format!("{}: cannot be mapped: {e}", path.display()))
}

fn private_copy(path: &Path) -> std::io::Result<File> {
    let mut source = File::open(path)?;
    let beside = path.parent().filter(|dir| !dir.as_os_str().is_empty());
    let mut copy = match beside.map(tempfile::tempfile_in) {
        Some(Ok(file)) => file,
        _ => tempfile::tempfile()?,
    };
    std::io::copy(&mut source, &mut copy)?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_outlives_changes_to_the_original() {
        let dir = tempfile::tempdir().expect("temp dir");
        let original = dir.path().join("data");
        std::fs::write(&original, vec![7u8; 100_000]).expect("write");
        let mapped = map_private_copy(&original).expect("mapped");
        std::fs::write(&original, b"short").expect("truncate in place");
        assert_eq!(mapped.len(), 100_000);
        assert!(mapped.iter().all(|&b| b == 7));
        let names: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(names.len(), 1, "the copy has no name");
    }

    #[test]
    fn a_missing_file_is_named_in_the_error() {
        let error = map_private_copy(Path::new("/nonexistent/db.mmdb")).expect_err("missing");
        assert!(
            error.starts_with("/nonexistent/db.mmdb: cannot be read"),
            "{error}"
        );
    }
}
