//! The server notices (`NOTICE` and the like) the test's own connections receive. sqlx reports
//! each as a `tracing` event with target `sqlx::postgres::notice`; [`capture`] collects those
//! events on the calling thread. A `#[tokio::test]` runs on one thread, its connections' I/O
//! included, so that is every notice of the test, and none of the tests running beside it.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Metadata, Subscriber};

const TARGET: &str = "sqlx::postgres::notice";

/// Collects notices until dropped.
#[must_use = "notices are collected only while the capture lives"]
pub struct Capture {
    _guard: DefaultGuard,
}

/// The notices collected so far (a handle that may move between tasks).
#[derive(Clone, Default)]
pub struct Notices(Arc<Mutex<Vec<String>>>);

impl Notices {
    /// The notices received since the last call, oldest first.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Starts collecting the notices received on this thread.
pub fn capture() -> (Capture, Notices) {
    let notices = Notices::default();
    let collector = Collector(notices.clone());
    let guard = tracing::subscriber::set_default(collector);
    (Capture { _guard: guard }, notices)
}

struct Collector(Notices);

impl Subscriber for Collector {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == TARGET
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Never called for a disabled span; every span is disabled here.
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        struct Message(Option<String>);
        impl Visit for Message {
            fn record_str(&mut self, field: &Field, value: &str) {
                if field.name() == "message" {
                    self.0 = Some(value.to_owned());
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = Some(format!("{value:?}"));
                }
            }
        }
        let mut message = Message(None);
        event.record(&mut message);
        if let Some(text) = message.0 {
            (self.0).0.lock().unwrap().push(text);
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
