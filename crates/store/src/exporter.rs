//! The store as an exporter of the pipeline: every finished span, with its events,
//! links, status and resource, lands in the store.

use crate::{Store, StoreConfig};
use lookout_export::{Encoded, ExportError, Exporter, FinishedSpan};
use std::sync::Arc;
use std::time::Duration;

/// How long a pipeline flush waits for the store.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Hands finished spans to a [`Store`]; a pipeline flush makes them durable.
#[derive(Debug, Clone)]
pub struct StoreExporter {
    store: Store,
}

impl StoreExporter {
    /// An exporter into `store`.
    pub fn new(store: Store) -> Self {
        StoreExporter { store }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn config(&self) -> &StoreConfig {
        self.store.config()
    }
}

impl Exporter for StoreExporter {
    type Payload = Arc<[FinishedSpan]>;

    fn name(&self) -> &str {
        "store"
    }

    fn destination(&self) -> String {
        self.config().base_dir.display().to_string()
    }

    fn encode_spans(&self, spans: &[FinishedSpan]) -> Option<Encoded<Self::Payload>> {
        Some(Encoded {
            payload: spans.into(),
            items: spans.len(),
        })
    }

    /// Enqueues the batch: it never waits on the disk. A retry of the same batch stores
    /// each span once.
    async fn send(&self, spans: &Self::Payload) -> Result<(), ExportError> {
        self.store.record_spans(spans.iter().cloned());
        Ok(())
    }

    /// Waits, off the async threads, until every span sent is durable.
    async fn flush(&self) -> Result<(), ExportError> {
        let store = self.store.clone();
        let flush = move || store.flush(FLUSH_TIMEOUT);
        let flushed = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(flush)
                .await
                .unwrap_or(Err(crate::FlushError::Closed)),
            Err(_) => flush(),
        };
        flushed.map_err(|e| ExportError::permanent("store", e.to_string()))
    }
}
