//! When to send a failed batch again: exponential backoff with jitter, bounded in time.

use std::time::Duration;

/// Backoff between attempts to send one batch.
///
/// Attempt `n` (from 1) waits a random time in `[d/2, d]`, `d = initial * 2^(n-1)` capped
/// at `max_backoff`, unless the peer named a delay (`Retry-After`), which is waited as
/// given. A batch is given up once the next wait would end past `max_elapsed` after the
/// first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff (default 100 ms).
    pub initial_backoff: Duration,
    /// The longest backoff (default 5 s).
    pub max_backoff: Duration,
    /// How long one batch may be retried in all (default 60 s).
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries: every failure is final.
    pub fn never() -> Self {
        RetryPolicy {
            max_elapsed: Duration::ZERO,
            ..RetryPolicy::default()
        }
    }

    /// The wait before attempt `attempt + 1` after `attempt` failures; `random` is any
    /// 64 random bits (the jitter).
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>, random: u64) -> Duration {
        if let Some(delay) = retry_after {
            return delay;
        }
        let exp = self
            .initial_backoff
            .saturating_mul(
                1u32.checked_shl(attempt.saturating_sub(1))
                    .unwrap_or(u32::MAX),
            )
            .min(self.max_backoff);
        let half = exp / 2;
        let span = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
        half + Duration::from_nanos(random % span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let policy = RetryPolicy::default();
        for (attempt, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (6, 3200),
            (7, 5000),
            (40, 5000),
        ] {
            for random in [0, 1 << 20, u64::MAX / 3, u64::MAX] {
                let wait = policy.backoff(attempt, None, random);
                let full = Duration::from_millis(full);
                assert!(
                    wait >= full / 2 && wait <= full,
                    "attempt {attempt}: {wait:?}"
                );
            }
        }
    }

    #[test]
    fn retry_after_wins() {
        let wait = RetryPolicy::default().backoff(1, Some(Duration::from_secs(7)), 3);
        assert_eq!(wait, Duration::from_secs(7));
    }
}
