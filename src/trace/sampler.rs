//! Which traces are recorded.

use lookout_export::TraceId;

/// Decides, when a span starts, whether it is recorded and sampled.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampler {
    /// Record everything.
    AlwaysOn,
    /// Record nothing (contexts still propagate, unsampled).
    AlwaysOff,
    /// Record this fraction (0 to 1) of traces, chosen by trace id so every process
    /// with the same ratio decides alike.
    TraceIdRatio(f64),
    /// Follow the parent's sampled flag; root spans ask the inner sampler.
    ParentBased(Box<Sampler>),
}

impl Default for Sampler {
    /// Parent-based, always on for roots: OpenTelemetry's default.
    fn default() -> Self {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    }
}

impl Sampler {
    /// Whether a span of `trace_id` with this parent (its sampled flag, if any) is sampled.
    pub fn should_sample(&self, trace_id: TraceId, parent_sampled: Option<bool>) -> bool {
        match self {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            Sampler::TraceIdRatio(ratio) => {
                // The low 63 bits of the id's last 8 bytes, as OpenTelemetry SDKs compare.
                let threshold = (ratio.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64;
                ((trace_id.0 as u64) >> 1) < threshold
            }
            Sampler::ParentBased(root) => match parent_sampled {
                Some(sampled) => sampled,
                None => root.should_sample(trace_id, None),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_samples_about_that_fraction_and_agrees_on_an_id() {
        let sampler = Sampler::TraceIdRatio(0.25);
        let sampled = (0..20_000u128)
            .filter(|i| {
                sampler.should_sample(
                    TraceId(i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)),
                    None,
                )
            })
            .count();
        assert!((4_500..5_500).contains(&sampled), "{sampled}");
        let id = TraceId(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
        assert_eq!(
            sampler.should_sample(id, None),
            sampler.should_sample(id, Some(false))
        );
        assert!(!Sampler::TraceIdRatio(0.0).should_sample(id, None));
        assert!(Sampler::TraceIdRatio(1.0).should_sample(TraceId(u128::MAX), None));
    }

    #[test]
    fn parent_based_follows_the_parent() {
        let sampler = Sampler::default();
        let id = TraceId(7);
        assert!(sampler.should_sample(id, None));
        assert!(sampler.should_sample(id, Some(true)));
        assert!(!sampler.should_sample(id, Some(false)));
        let off_roots = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        assert!(!off_roots.should_sample(id, None));
        assert!(off_roots.should_sample(id, Some(true)));
    }
}
