//! Files the tests write for the code under test, and archives it writes for the tests.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Writes `text` to `name` in `dir` and returns the file's path.
pub fn write_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The text of a gzip'd file.
pub fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}
