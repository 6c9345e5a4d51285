//! `error_rate`: errors per second over a sliding window, refreshed at each collection.

use crate::metrics::{Family, Gauge};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Instant;

/// Width of the window, in one-second slots.
pub const ERROR_RATE_WINDOW_SECONDS: usize = 60;

/// Per (component, error type): errors in each of the last 60 seconds.
#[derive(Debug)]
pub(crate) struct ErrorRates {
    epoch: Instant,
    limit: usize,
    /// component -> error type -> window.
    windows: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    by_component: HashMap<Box<str>, HashMap<Box<str>, Window>>,
    len: usize,
}

#[derive(Debug)]
struct Window {
    slots: [u32; ERROR_RATE_WINDOW_SECONDS],
    /// The second `slots` was last advanced to.
    second: u64,
}

impl Window {
    fn advance(&mut self, now: u64) {
        let elapsed = now.saturating_sub(self.second);
        if elapsed as usize >= ERROR_RATE_WINDOW_SECONDS {
            self.slots = [0; ERROR_RATE_WINDOW_SECONDS];
        } else {
            for second in self.second + 1..=now {
                self.slots[second as usize % ERROR_RATE_WINDOW_SECONDS] = 0;
            }
        }
        self.second = self.second.max(now);
    }

    fn rate(&self) -> f64 {
        let total: u64 = self.slots.iter().map(|&n| u64::from(n)).sum();
        total as f64 / ERROR_RATE_WINDOW_SECONDS as f64
    }
}

impl ErrorRates {
    /// Tracks at most `limit` (component, error type) pairs, like the gauge family.
    pub(crate) fn new(limit: usize) -> Self {
        ErrorRates {
            epoch: Instant::now(),
            limit,
            windows: Mutex::new(Windows::default()),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_secs()
    }

    pub(crate) fn record(&self, component: &str, error_type: &str) {
        let now = self.now();
        let mut windows = self.windows.lock();
        let Windows { by_component, len } = &mut *windows;
        let known = by_component
            .get(component)
            .is_some_and(|types| types.contains_key(error_type));
        if !known {
            if *len >= self.limit {
                return;
            }
            *len += 1;
        }
        let types = match by_component.get_mut(component) {
            Some(types) => types,
            None => by_component.entry(component.into()).or_default(),
        };
        let window = match types.get_mut(error_type) {
            Some(window) => window,
            None => types.entry(error_type.into()).or_insert(Window {
                slots: [0; ERROR_RATE_WINDOW_SECONDS],
                second: now,
            }),
        };
        window.advance(now);
        let slot = &mut window.slots[now as usize % ERROR_RATE_WINDOW_SECONDS];
        *slot = slot.saturating_add(1);
    }

    /// Writes every window's current rate into the gauge family.
    pub(crate) fn refresh(&self, gauges: &Family<Gauge>) {
        let now = self.now();
        for (component, types) in self.windows.lock().by_component.iter_mut() {
            for (error_type, window) in types.iter_mut() {
                window.advance(now);
                gauges.set(&[component, error_type], window.rate());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_forgets_seconds_as_they_leave_it() {
        let mut w = Window {
            slots: [0; ERROR_RATE_WINDOW_SECONDS],
            second: 0,
        };
        w.slots[0] = 30;
        w.advance(10);
        w.slots[10] = 30;
        assert_eq!(w.rate(), 1.0);
        w.advance(60);
        assert_eq!(w.rate(), 0.5);
        w.advance(200);
        assert_eq!(w.rate(), 0.0);
    }
}
