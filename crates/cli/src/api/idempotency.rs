//! Records created under a client's id: a retry of the same body gets the first answer, a
//! different body under the same id a 409, and a retry racing the first request waits for
//! it instead of writing twice.
//!
//! A create claims its id here (with its body's digest) before writing; the claim says
//! whether the write was acknowledged once it is, and is kept at least until the index
//! has the record. Ids not claimed since the daemon started are looked up in the index,
//! whose records keep their digest: that lookup need not wait for the index.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

/// Claims kept at most; beyond, the settled ones the index has are forgotten (it knows
/// them).
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
    /// Once acknowledged, the store's count of logged records then: the index has the
    /// record once it has taken that many.
    logged: u64,
}

/// The right to write a claimed id: settle it, or dropping it gives the id back.
#[derive(Debug)]
pub(crate) struct Ticket {
    claims: Arc<Claims>,
    id: String,
    settle: Option<watch::Sender<Option<bool>>>,
}

impl Ticket {
    /// Says how the write went (`logged`: the store's count of logged records after
    /// it); a failed one gives the id back for a retry.
    pub(crate) fn settle(mut self, acknowledged: bool, logged: u64) {
        {
            let mut claims = self.claims.claims.lock();
            match acknowledged {
                true => {
                    if let Some(claim) = claims.get_mut(&self.id) {
                        claim.logged = logged;
                    }
                }
                false => {
                    claims.remove(&self.id);
                }
            }
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
    /// keeps under `id`, if any (a create acknowledged before this daemon started);
    /// `indexed`, how many logged records the index has taken.
    pub(crate) async fn claim(
        self: &Arc<Self>,
        id: &str,
        digest: &str,
        stored: Option<&str>,
        indexed: u64,
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
                            claims
                                .retain(|_, c| c.settled.borrow().is_none() || c.logged > indexed);
                        }
                        let (settle, settled) = watch::channel(None);
                        let claim = Claim {
                            digest: digest.to_owned(),
                            settled,
                            logged: u64::MAX,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acknowledged_claim_outlives_eviction_until_the_index_has_it() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let claims = Arc::new(Claims::default());
            // Acknowledged as the store's record 1; the index has none yet.
            for i in 0..=MAX_CLAIMS {
                let (earlier, ticket) = claims.claim(&format!("r{i}"), "d", None, 0).await;
                assert_eq!(earlier, Earlier::None);
                ticket.unwrap().settle(true, 1);
            }
            assert_eq!(claims.claim("r0", "d", None, 0).await.0, Earlier::Same);
            assert_eq!(
                claims.claim("r0", "other", None, 0).await.0,
                Earlier::Different
            );
            // Once the index has them the next claim forgets them: the store answers.
            let (_, ticket) = claims.claim("new", "d", None, 1).await;
            ticket.unwrap().settle(true, 2);
            assert_eq!(claims.claims.lock().len(), 1);
        });
    }
}
