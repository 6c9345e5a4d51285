//! Which process telemetry came from: OpenTelemetry resource attributes.

use crate::{AttributeValue, KeyValue};
use std::borrow::Cow;

/// The attributes naming a process (`service.name`, `service.instance.id`,
/// `process.pid`, `host.name`, ...), shared by every span and metric it records, so that
/// a store merging many sub-agent processes can tell them apart.
///
/// ```
/// use lookout_export::Resource;
///
/// let mut resource = Resource::new([("service.name", "coordinator")]);
/// resource.set("process.pid", 42);
/// resource.set("service.name", "planner");
/// assert_eq!(resource.service_name(), Some("planner"));
/// assert_eq!(resource.get("process.pid").map(|v| v.to_string()).as_deref(), Some("42"));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Resource {
    /// The attributes, each key once.
    pub attributes: Vec<KeyValue>,
}

/// The resource attribute naming the service (`OTEL_SERVICE_NAME`).
pub const SERVICE_NAME: &str = "service.name";

impl Resource {
    /// A resource of `attributes`; a later value of a key replaces an earlier one.
    pub fn new<K, V>(attributes: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<Cow<'static, str>>,
        V: Into<AttributeValue>,
    {
        let mut resource = Resource::default();
        for (key, value) in attributes {
            resource.set(key, value);
        }
        resource
    }

    /// Sets attribute `key`, replacing an earlier value.
    pub fn set(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<AttributeValue>) {
        let attribute = KeyValue::new(key, value);
        match self
            .attributes
            .iter_mut()
            .find(|kv| kv.key == attribute.key)
        {
            Some(existing) => existing.value = attribute.value,
            None => self.attributes.push(attribute),
        }
    }

    /// The value of attribute `key`, if set.
    pub fn get(&self, key: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| &kv.value)
    }

    /// `service.name`, if it is a string.
    pub fn service_name(&self) -> Option<&str> {
        match self.get(SERVICE_NAME) {
            Some(AttributeValue::String(name)) => Some(name),
            _ => None,
        }
    }
}

/// This machine's name: the kernel's hostname, else `$HOSTNAME`.
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
}
