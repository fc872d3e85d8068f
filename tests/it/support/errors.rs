//! Assertions on the library's typed errors.

use foresto::Error;

/// Asserts that `err` is an [`Error::InvalidInput`] about `field` and returns its message.
pub fn invalid_input(err: &Error, field: &str) -> String {
    assert!(
        matches!(err, Error::InvalidInput { field: f, .. } if *f == field),
        "expected invalid {field}, got {err:?}"
    );
    err.to_string()
}

/// Asserts that `err` is a drop refused because its archive file already exists.
pub fn archive_exists(err: &Error) {
    assert!(
        matches!(
            err,
            Error::Partition(foresto::PartitionError::DropRefused {
                reason: foresto::partitions::DropRefusal::ArchiveExists { .. },
                ..
            })
        ),
        "expected a refusal because the archive exists, got {err}"
    );
}
