//! Archive files: gzip-compressed and synced to disk before anyone relies on them (a partition
//! or a run is deleted right after its archive is written).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::error::{Error, Result};

/// Creates `path`, lets `fill` write the uncompressed content through a gzip encoder, finishes
/// the stream and fsyncs the file. Blocking: call it off the async runtime's worker threads.
///
/// # Errors
/// [`Error::Io`] naming `path` when creating, writing (including `fill`'s own errors),
/// finishing or syncing fails.
pub(crate) fn write_synced(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    write_synced_to(file, path, fill)
}

/// As [`write_synced`], into `file` that the caller opened (e.g. exclusively); `path` only names
/// it in errors.
///
/// # Errors
/// [`Error::Io`] naming `path` when writing (including `fill`'s own errors), finishing or
/// syncing fails.
pub(crate) fn write_synced_to(
    file: File,
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let io = |e| Error::io(path, e);
    let mut gz = GzEncoder::new(BufWriter::new(file), Compression::default());
    fill(&mut gz).map_err(io)?;
    let file = gz
        .finish()
        .map_err(io)?
        .into_inner()
        .map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)
}
