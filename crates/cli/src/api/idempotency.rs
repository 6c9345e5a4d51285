//! Records created under a client's id: a retry of the same body gets the first answer, a
//! different body under the same id a 409, and a retry racing the first request waits for
//! it instead of writing twice.
//!
//! A create claims its id here (with its body's digest) before writing; the claim says
//! whether the write was acknowledged once it is. Ids not claimed since the daemon
//! started are looked up in the store, whose records keep their digest.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

/// Claims kept at most; beyond, the oldest settled ones are forgotten (the store still
/// knows them).
const MAX_CLAIMS: usize = 100_000;

/// The digest of a body's canonical text (its keys in order).
pub(crate) fn digest(canonical: &str) -> String {
    let hash = Sha256::digest(canonical.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// What became of an earlier request with the same id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Earlier {
    /// None: this request claimed the id and must settle it.
    None,
    /// The same body was acknowledged.
    Same,
    /// A different body was.
    Different,
}

/// The claims of this daemon's creates.
#[derive(Debug, Default)]
pub(crate) struct Claims {
    claims: parking_lot::Mutex<HashMap<String, Claim>>,
}

#[derive(Debug)]
struct Claim {
    digest: String,
    /// `None` while the write is in flight, then whether it was acknowledged.
    settled: watch::Receiver<Option<bool>>,
}

/// The right to write a claimed id: settle it, or dropping it gives the id back.
#[derive(Debug)]
pub(crate) struct Ticket {
    claims: Arc<Claims>,
    id: String,
    settle: Option<watch::Sender<Option<bool>>>,
}

impl Ticket {
    /// Says how the write went; a failed one gives the id back for a retry.
    pub(crate) fn settle(mut self, acknowledged: bool) {
        if !acknowledged {
            self.claims.claims.lock().remove(&self.id);
        }
        if let Some(settle) = self.settle.take() {
            let _ = settle.send(Some(acknowledged));
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(settle) = self.settle.take() {
            self.claims.claims.lock().remove(&self.id);
            let _ = settle.send(Some(false));
        }
    }
}

impl Claims {
    /// Claims `id` for a body of `digest`, or says what an earlier request under it came
    /// to, waiting for it if it is still being written. `stored` is the digest the store
    /// keeps under `id`, if any (a create acknowledged before this daemon started).
    pub(crate) async fn claim(
        self: &Arc<Self>,
        id: &str,
        digest: &str,
        stored: Option<&str>,
    ) -> (Earlier, Option<Ticket>) {
        if let Some(stored) = stored {
            let earlier = match stored == digest {
                true => Earlier::Same,
                false => Earlier::Different,
            };
            return (earlier, None);
        }
        loop {
            let mut settled = {
                let mut claims = self.claims.lock();
                match claims.get(id) {
                    Some(claim) if claim.digest != digest => return (Earlier::Different, None),
                    Some(claim) => claim.settled.clone(),
                    None => {
                        if claims.len() >= MAX_CLAIMS {
                            claims.retain(|_, c| c.settled.borrow().is_none());
                        }
                        let (settle, settled) = watch::channel(None);
                        let claim = Claim {
                            digest: digest.to_owned(),
                            settled,
                        };
                        claims.insert(id.to_owned(), claim);
                        let ticket = Ticket {
                            claims: Arc::clone(self),
                            id: id.to_owned(),
                            settle: Some(settle),
                        };
                        return (Earlier::None, Some(ticket));
                    }
                }
            };
            // Another request's write: wait for it; if it failed, the id is free again.
            let acknowledged =
                matches!(settled.wait_for(Option::is_some).await, Ok(s) if *s == Some(true));
            if acknowledged {
                return (Earlier::Same, None);
            }
        }
    }
}
