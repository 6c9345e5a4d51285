//! This process's identity, as OpenTelemetry's resource attributes.

use lookout_export::Resource;

/// The resource of this process: `service.name` (`unknown_service:{executable}` until
/// `OTEL_SERVICE_NAME` or the config names it), a random `service.instance.id` (two runs
/// of one program are two instances), `process.pid`, `host.name` and the
/// `telemetry.sdk.*` attributes.
///
/// ```
/// let resource = lookout::trace::process_resource();
/// assert!(resource.service_name().unwrap().starts_with("unknown_service:"));
/// assert_eq!(
///     resource.get("process.pid").map(|v| v.to_string()),
///     Some(std::process::id().to_string())
/// );
/// ```
pub fn process_resource() -> Resource {
    let executable = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut resource = Resource::default();
    resource.set(
        lookout_export::SERVICE_NAME,
        format!("unknown_service:{executable}"),
    );
    resource.set("service.instance.id", random_uuid());
    resource.set("process.pid", i64::from(std::process::id()));
    if let Some(host) = lookout_export::host_name() {
        resource.set("host.name", host);
    }
    resource.set("telemetry.sdk.name", "lookout");
    resource.set("telemetry.sdk.language", "rust");
    resource.set("telemetry.sdk.version", crate::VERSION);
    resource
}

/// A random UUID (version 4 layout): a process's instance id, a session's id.
pub(crate) fn random_uuid() -> String {
    let high = super::random_u64();
    let low = super::random_u64();
    let bits = (u128::from(high) << 64 | u128::from(low)) & !(0xf << 76) & !(0x3 << 62)
        | (0x4 << 76)
        | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_service_name_names_the_executable() {
        let resource = super::process_resource();
        let exe = std::env::current_exe().unwrap();
        let exe = exe.file_name().unwrap().to_string_lossy();
        assert_eq!(
            resource.service_name(),
            Some(format!("unknown_service:{exe}").as_str())
        );
        let get = |key| resource.get(key).map(ToString::to_string);
        assert_eq!(get("telemetry.sdk.name").as_deref(), Some("lookout"));
        assert_eq!(get("telemetry.sdk.language").as_deref(), Some("rust"));
        assert_eq!(
            get("telemetry.sdk.version").as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn instance_ids_are_version_4_uuids_and_differ() {
        let a = super::random_uuid();
        let b = super::random_uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4", "{a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }
}
