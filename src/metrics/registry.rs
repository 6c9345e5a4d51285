//! The registry: every family, and the self-metrics that describe them.

use super::family::FamilyCore;
use super::histogram::HistogramOptions;
use super::name::{check_label_names, check_metric_name, check_unit};
use super::series::Metric;
use super::{Counter, Descriptor, Family, Gauge, Histogram, MetricError};
use lookout_export::{FamilyInfo, MetricKind, MetricSource, MetricVisitor, Value};
use parking_lot::RwLock;
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Default per-family series limit, as in OpenTelemetry.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// Series per family, exported at collection.
pub const SERIES_METRIC: &str = "lookout_registry_series";
/// Measurements routed to a family's overflow series.
pub const OVERFLOW_METRIC: &str = "lookout_series_overflow";
/// Measurements dropped (wrong label count, NaN observation).
pub const DROPPED_METRIC: &str = "lookout_dropped_observations";

/// A set of metric families; cloning shares it.
///
/// ```
/// use lookout::metrics::{Descriptor, Registry};
/// let registry = Registry::new();
/// let calls = registry
///     .counter(Descriptor::new("tool_calls_total", "Tool calls").labels(["tool", "status"]))
///     .unwrap();
/// calls.inc(&["Read", "success"]);
/// assert_eq!(calls.get(&["Read", "success"]).unwrap().get(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct Registry {
    inner: Arc<RegistryInner>,
}

type CollectHook = Box<dyn Fn() + Send + Sync>;

struct RegistryInner {
    /// Sorted by name.
    families: RwLock<Vec<Arc<dyn ErasedFamily>>>,
    hooks: RwLock<Vec<CollectHook>>,
    cardinality_limit: usize,
}

impl std::fmt::Debug for RegistryInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let families = self.families.read();
        f.debug_struct("Registry")
            .field(
                "families",
                &families.iter().map(|f| f.info().name).collect::<Vec<_>>(),
            )
            .field("cardinality_limit", &self.cardinality_limit)
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry with the default cardinality limit.
    pub fn new() -> Self {
        Self::with_cardinality_limit(DEFAULT_CARDINALITY_LIMIT)
    }

    /// An empty registry whose families hold at most `limit` series each, unless a
    /// [`Descriptor`] says otherwise.
    pub fn with_cardinality_limit(limit: usize) -> Self {
        Registry {
            inner: Arc::new(RegistryInner {
                families: RwLock::new(Vec::new()),
                hooks: RwLock::new(Vec::new()),
                cardinality_limit: limit,
            }),
        }
    }

    /// Registers a counter family. `name` may end in `_total`; the exported family name
    /// drops it and every sample carries it.
    pub fn counter(&self, descriptor: Descriptor) -> Result<Family<Counter>, MetricError> {
        self.register(descriptor, ())
    }

    /// Registers a gauge family.
    pub fn gauge(&self, descriptor: Descriptor) -> Result<Family<Gauge>, MetricError> {
        self.register(descriptor, ())
    }

    /// Registers a histogram family with the preset for its unit
    /// ([`HistogramOptions::for_unit`]).
    pub fn histogram(&self, descriptor: Descriptor) -> Result<Family<Histogram>, MetricError> {
        let options = HistogramOptions::for_unit(&descriptor.unit);
        self.histogram_with(descriptor, &options)
    }

    /// Registers a histogram family with explicit buckets and HDR range.
    pub fn histogram_with(
        &self,
        descriptor: Descriptor,
        options: &HistogramOptions,
    ) -> Result<Family<Histogram>, MetricError> {
        let layout = options.layout(&descriptor.name, &descriptor.unit)?;
        self.register(descriptor, Arc::new(layout))
    }

    /// Runs `hook` at the start of every collection, to refresh values computed from
    /// others (a rate from a window, say). The hook must not collect this registry.
    pub fn on_collect(&self, hook: impl Fn() + Send + Sync + 'static) {
        self.inner.hooks.write().push(Box::new(hook));
    }

    /// Total series across families, not counting overflow series.
    pub fn series_count(&self) -> usize {
        self.inner.families.read().iter().map(|f| f.len()).sum()
    }

    /// Registering the same descriptor twice returns the same family; a different family
    /// under a colliding name is a [`MetricError::Conflict`].
    fn register<M: Metric>(
        &self,
        d: Descriptor,
        layout: M::Layout,
    ) -> Result<Family<M>, MetricError> {
        check_metric_name(&d.name)?;
        let base = match M::KIND {
            MetricKind::Counter => d.name.strip_suffix("_total").unwrap_or(&d.name),
            _ => &d.name,
        };
        check_metric_name(base)?;
        if !d.unit.is_empty() {
            check_unit(&d.name, base, &d.unit)?;
        }
        let label_names: Box<[Box<str>]> = d.labels.iter().map(|l| l.as_str().into()).collect();
        check_label_names(&label_names, M::KIND == MetricKind::Histogram)?;

        let mut families = self.inner.families.write();
        let conflict = || MetricError::Conflict(d.name.clone());
        if [SERIES_METRIC, OVERFLOW_METRIC, DROPPED_METRIC]
            .iter()
            .any(|reserved| collides(M::KIND, base, MetricKind::Counter, reserved))
        {
            return Err(conflict());
        }
        for existing in families.iter() {
            let info = existing.info();
            if info.name == base && info.kind == M::KIND {
                let same = info.help == d.help
                    && info.unit == d.unit
                    && existing
                        .label_names()
                        .iter()
                        .map(|n| &**n)
                        .eq(d.labels.iter().map(|l| l.as_str()));
                let family = existing.clone().as_any().downcast::<FamilyCore<M>>();
                return match family {
                    Ok(core) if same => Ok(core.into_family()),
                    _ => Err(conflict()),
                };
            }
            if collides(M::KIND, base, info.kind, info.name) {
                return Err(conflict());
            }
        }
        let limit = d.cardinality_limit.unwrap_or(self.inner.cardinality_limit);
        let core = Arc::new(FamilyCore::<M>::new(
            base.into(),
            d.help.into(),
            d.unit.into(),
            label_names,
            layout,
            limit,
        ));
        let at = families.partition_point(|f| f.info().name < base);
        families.insert(at, core.clone());
        Ok(core.into_family())
    }
}

/// Whether two families would expose a sample name in common.
fn collides(a: MetricKind, a_name: &str, b: MetricKind, b_name: &str) -> bool {
    let b_samples = sample_names(b, b_name);
    sample_names(a, a_name)
        .iter()
        .any(|s| b_samples.contains(s))
}

fn sample_names(kind: MetricKind, base: &str) -> Vec<String> {
    let suffixes: &[&str] = match kind {
        MetricKind::Counter => &["", "_total", "_created"],
        MetricKind::Histogram => &["", "_bucket", "_sum", "_count", "_created"],
        _ => &[""],
    };
    suffixes.iter().map(|s| format!("{base}{s}")).collect()
}

/// What the registry needs of a family without knowing its metric type.
trait ErasedFamily: Send + Sync {
    fn info(&self) -> FamilyInfo<'_>;
    fn label_names(&self) -> &[Box<str>];
    fn len(&self) -> usize;
    fn overflowed(&self) -> u64;
    fn dropped(&self) -> [(&'static str, u64); 2];
    fn has_overflow_series(&self) -> bool;
    fn visit_series(&self, visitor: &mut dyn MetricVisitor, scratch: &mut Vec<u64>);
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<M: Metric> ErasedFamily for FamilyCore<M> {
    fn info(&self) -> FamilyInfo<'_> {
        FamilyInfo::new(&self.name, &self.help, &self.unit, M::KIND)
    }

    fn label_names(&self) -> &[Box<str>] {
        &self.label_names
    }

    fn len(&self) -> usize {
        FamilyCore::len(self)
    }

    fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    fn dropped(&self) -> [(&'static str, u64); 2] {
        let nan = (&self.layout as &dyn Any)
            .downcast_ref::<Arc<super::histogram::HistogramLayout>>()
            .map_or(0, |l| l.nan_dropped.load(Ordering::Relaxed));
        [
            ("label_count", self.label_mismatches.load(Ordering::Relaxed)),
            ("nan", nan),
        ]
    }

    fn has_overflow_series(&self) -> bool {
        self.overflowed() > 0
    }

    fn visit_series(&self, visitor: &mut dyn MetricVisitor, scratch: &mut Vec<u64>) {
        FamilyCore::visit_series(self, visitor, scratch)
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

impl MetricSource for Registry {
    fn collect(&self, visitor: &mut dyn MetricVisitor) {
        for hook in self.inner.hooks.read().iter() {
            hook();
        }
        let families = self.inner.families.read().clone();
        let mut scratch = Vec::new();
        for family in &families {
            if family.len() > 0 || family.has_overflow_series() {
                visitor.visit_family(&family.info());
                family.visit_series(visitor, &mut scratch);
            }
        }
        collect_self_metrics(&families, visitor);
    }
}

/// Emits the registry's own health: series per family, overflow and drops.
fn collect_self_metrics(families: &[Arc<dyn ErasedFamily>], visitor: &mut dyn MetricVisitor) {
    visitor.visit_family(&FamilyInfo::new(
        SERIES_METRIC,
        "Series held by each metric family, not counting its overflow series.",
        "",
        MetricKind::Gauge,
    ));
    for family in families {
        let value = Value::Gauge(family.len() as f64);
        visitor.visit_series(&[("family", family.info().name)], value);
    }
    visitor.visit_family(&FamilyInfo::new(OVERFLOW_METRIC, "Measurements routed to a family's overflow series because it reached its cardinality limit.", "", MetricKind::Counter));
    for family in families {
        let value = Value::Counter(family.overflowed());
        visitor.visit_series(&[("family", family.info().name)], value);
    }
    visitor.visit_family(&FamilyInfo::new(
        DROPPED_METRIC,
        "Measurements dropped by the recording path, by family and reason.",
        "",
        MetricKind::Counter,
    ));
    for family in families {
        let name = family.info().name;
        for (reason, count) in family.dropped() {
            visitor.visit_series(
                &[("family", name), ("reason", reason)],
                Value::Counter(count),
            );
        }
    }
}

#[cfg(test)]
mod tests;
