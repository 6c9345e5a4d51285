//! Where and how to send: endpoints, protocol, headers, compression, timeout,
//! temporality; from code, or from the standard `OTEL_EXPORTER_OTLP_*` variables. Which
//! process sent (the resource) comes with every span and metrics batch.

use std::time::Duration;

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Protobuf bodies over HTTP/1.1 POSTs to `/v1/traces` and `/v1/metrics` (port 4318).
    #[default]
    HttpProtobuf,
    /// gRPC (port 4317).
    Grpc,
}

impl Protocol {
    /// Reads `http/protobuf` (also `http`) or `grpc`.
    pub fn parse(value: &str) -> Option<Protocol> {
        match value.trim() {
            "http/protobuf" | "http" => Some(Protocol::HttpProtobuf),
            "grpc" => Some(Protocol::Grpc),
            _ => None,
        }
    }

    /// The name the `OTEL_EXPORTER_OTLP_PROTOCOL` variable uses: `http/protobuf` or `grpc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::Grpc => "grpc",
        }
    }
}

/// Compression of request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// None.
    #[default]
    None,
    /// gzip.
    Gzip,
}

impl Compression {
    /// Reads `gzip` or `none`.
    pub fn parse(value: &str) -> Option<Compression> {
        match value.trim() {
            "gzip" => Some(Compression::Gzip),
            "none" => Some(Compression::None),
            _ => None,
        }
    }
}

/// How counters and histograms are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Temporality {
    /// Totals since the process started (what Prometheus expects).
    #[default]
    Cumulative,
    /// Changes since the previous export.
    Delta,
}

impl Temporality {
    /// Reads `cumulative`, `delta` or `lowmemory` (delta for counters and histograms, as
    /// the specification defines it for them), in any case.
    pub fn parse(value: &str) -> Option<Temporality> {
        match value.trim().to_ascii_lowercase().as_str() {
            "cumulative" => Some(Temporality::Cumulative),
            "delta" | "lowmemory" => Some(Temporality::Delta),
            _ => None,
        }
    }
}

/// Everything the OTLP exporter needs.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    /// Full URL spans go to (HTTP: ending in `/v1/traces`); `None`: spans are not sent.
    pub traces_endpoint: Option<String>,
    /// Full URL metrics go to (HTTP: ending in `/v1/metrics`); `None`: metrics are not sent.
    pub metrics_endpoint: Option<String>,
    /// The transport.
    pub protocol: Protocol,
    /// Extra request headers (gRPC metadata) of both signals, such as `Authorization`.
    pub headers: Vec<(String, String)>,
    /// Headers for spans only; a name here replaces the same name in `headers`.
    pub traces_headers: Vec<(String, String)>,
    /// Headers for metrics only; a name here replaces the same name in `headers`.
    pub metrics_headers: Vec<(String, String)>,
    /// Body compression.
    pub compression: Compression,
    /// How long one request may take (default 10 s).
    pub timeout: Duration,
    /// Counter and histogram temporality (default cumulative).
    pub temporality: Temporality,
}

/// A variable or setting the exporter cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}; {fix}")]
pub struct ConfigError {
    /// The variable or setting.
    pub variable: String,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

pub(crate) fn invalid(variable: &str, problem: impl Into<String>, fix: &str) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        problem: problem.into(),
        fix: fix.to_owned(),
    }
}

impl OtlpConfig {
    /// Both signals to `endpoint` with `protocol`. For HTTP, `endpoint` is the base
    /// (`http://collector:4318`) and `/v1/traces`, `/v1/metrics` are appended; a URL that
    /// already ends in one of them (seed 003's `http://localhost:4318/v1/metrics`) is
    /// taken as naming the base. For gRPC it is used as given.
    pub fn new(endpoint: &str, protocol: Protocol) -> Self {
        let (traces, metrics) = match protocol {
            Protocol::HttpProtobuf => {
                let base = endpoint.trim_end_matches('/');
                let base = base
                    .strip_suffix("/v1/traces")
                    .or_else(|| base.strip_suffix("/v1/metrics"))
                    .unwrap_or(base);
                (format!("{base}/v1/traces"), format!("{base}/v1/metrics"))
            }
            Protocol::Grpc => (endpoint.to_owned(), endpoint.to_owned()),
        };
        OtlpConfig {
            traces_endpoint: Some(traces),
            metrics_endpoint: Some(metrics),
            protocol,
            headers: Vec::new(),
            traces_headers: Vec::new(),
            metrics_headers: Vec::new(),
            compression: Compression::None,
            timeout: Duration::from_secs(10),
            temporality: Temporality::Cumulative,
        }
    }

    /// The configuration the process environment describes; `None` when no
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is set.
    ///
    /// Read: those endpoints (the base one gets `/v1/traces` and `/v1/metrics` appended
    /// for HTTP; a signal's own is used as given, and only that signal is sent when only
    /// one is set), `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf` or `grpc`; a signal's
    /// `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL` wins, and the two signals must
    /// agree), `OTEL_EXPORTER_OTLP_HEADERS` and its per-signal variants (`k=v,k2=v2`,
    /// percent-encoded), `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds),
    /// `OTEL_EXPORTER_OTLP_COMPRESSION` (`gzip`, `none`),
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`cumulative`, `delta`,
    /// `lowmemory`).
    pub fn from_env() -> Result<Option<OtlpConfig>, ConfigError> {
        OtlpConfig::from_lookup(&|name| std::env::var(name).ok())
    }

    /// As [`OtlpConfig::from_env`], reading variables through `lookup` (a test's map);
    /// empty values count as unset.
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<OtlpConfig>, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let base = get("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
        let traces = base || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some();
        let metrics = base || get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").is_some();
        if !traces && !metrics {
            return Ok(None);
        }
        let protocol = protocol_from(&get, traces, metrics)?.unwrap_or_default();
        let mut config = OtlpConfig::new(
            &get("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_else(|| default_endpoint(protocol)),
            protocol,
        );
        if get("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() {
            config.traces_endpoint = None;
            config.metrics_endpoint = None;
        }
        config.apply_lookup(lookup).map(Some)
    }

    /// Applies the `OTEL_*` variables `lookup` finds over this configuration (a config
    /// file's block): they win, as the OpenTelemetry specification asks.
    pub fn apply_lookup(
        mut self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<OtlpConfig, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let base = get("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
        let traces = base
            || self.traces_endpoint.is_some()
            || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some();
        let metrics = base
            || self.metrics_endpoint.is_some()
            || get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").is_some();
        if let Some(protocol) = protocol_from(&get, traces, metrics)?
            && protocol != self.protocol
        {
            let base =
                get("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_else(|| default_endpoint(protocol));
            let moved = OtlpConfig::new(&base, protocol);
            self.traces_endpoint = self.traces_endpoint.and(moved.traces_endpoint);
            self.metrics_endpoint = self.metrics_endpoint.and(moved.metrics_endpoint);
            self.protocol = protocol;
        }
        if let Some(base) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            let signals = OtlpConfig::new(&base, self.protocol);
            self.traces_endpoint = signals.traces_endpoint;
            self.metrics_endpoint = signals.metrics_endpoint;
        }
        if let Some(url) = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            self.traces_endpoint = Some(url);
        }
        if let Some(url) = get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") {
            self.metrics_endpoint = Some(url);
        }
        for url in [&self.traces_endpoint, &self.metrics_endpoint]
            .into_iter()
            .flatten()
        {
            check_url(url)?;
        }
        for (variable, headers) in [
            ("OTEL_EXPORTER_OTLP_HEADERS", &mut self.headers),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                &mut self.traces_headers,
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                &mut self.metrics_headers,
            ),
        ] {
            if let Some(value) = get(variable) {
                for (name, value) in parse_pairs(variable, &value)? {
                    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                    headers.push((name, value));
                }
            }
        }
        if let Some(ms) = get("OTEL_EXPORTER_OTLP_TIMEOUT") {
            let ms: u64 = ms.trim().parse().map_err(|_| {
                invalid(
                    "OTEL_EXPORTER_OTLP_TIMEOUT",
                    format!("{ms:?} is not a number of milliseconds"),
                    "set it to an integer such as 10000",
                )
            })?;
            self.timeout = Duration::from_millis(ms);
        }
        if let Some(value) = get("OTEL_EXPORTER_OTLP_COMPRESSION") {
            self.compression = compression("OTEL_EXPORTER_OTLP_COMPRESSION", &value)?;
        }
        if let Some(value) = get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
            self.temporality =
                temporality("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", &value)?;
        }
        Ok(self)
    }
}

pub(crate) fn compression(field: &str, value: &str) -> Result<Compression, ConfigError> {
    Compression::parse(value).ok_or_else(|| {
        invalid(
            field,
            format!("{value:?} is not supported"),
            "use gzip or none",
        )
    })
}

pub(crate) fn temporality(field: &str, value: &str) -> Result<Temporality, ConfigError> {
    Temporality::parse(value).ok_or_else(|| {
        invalid(
            field,
            format!("{value:?} is not a temporality"),
            "use cumulative, delta or lowmemory",
        )
    })
}

/// The protocol the variables ask for, if any: a signal's own variable wins over the
/// general one, and the signals that are sent (`traces`, `metrics`) must agree, since one
/// exporter speaks one protocol.
fn protocol_from(
    get: &dyn Fn(&str) -> Option<String>,
    traces: bool,
    metrics: bool,
) -> Result<Option<Protocol>, ConfigError> {
    let read = |variable: &str| -> Result<Option<Protocol>, ConfigError> {
        get(variable)
            .map(|value| {
                Protocol::parse(&value).ok_or_else(|| {
                    let problem = if value.trim() == "http/json" {
                        "http/json is not implemented".to_owned()
                    } else {
                        format!("{value:?} is not an OTLP protocol")
                    };
                    invalid(variable, problem, "use http/protobuf or grpc")
                })
            })
            .transpose()
    };
    let general = read("OTEL_EXPORTER_OTLP_PROTOCOL")?;
    let traces_own = read("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")?;
    let metrics_own = read("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")?;
    let for_traces = traces.then_some(traces_own.or(general)).flatten();
    let for_metrics = metrics.then_some(metrics_own.or(general)).flatten();
    match (for_traces, for_metrics) {
        (Some(t), Some(m)) if t != m => Err(invalid(
            if traces_own.is_some() {
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
            } else {
                "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
            },
            format!(
                "spans would go over {} and metrics over {}",
                t.as_str(),
                m.as_str()
            ),
            "use one protocol for both signals: set OTEL_EXPORTER_OTLP_PROTOCOL alone",
        )),
        (t, m) => Ok(t.or(m).or(general)),
    }
}

fn default_endpoint(protocol: Protocol) -> String {
    match protocol {
        Protocol::HttpProtobuf => "http://localhost:4318".into(),
        Protocol::Grpc => "http://localhost:4317".into(),
    }
}

fn check_url(url: &str) -> Result<(), ConfigError> {
    let uri: http::Uri = url.parse().map_err(|e| {
        invalid(
            "OTLP endpoint",
            format!("{url:?} is not a URL: {e}"),
            "use a URL such as http://localhost:4318",
        )
    })?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http"), Some(_)) => Ok(()),
        (Some("https"), _) => Err(invalid(
            "OTLP endpoint",
            format!("{url:?}: https is not built in"),
            "send plain http to a local OpenTelemetry Collector, which forwards over TLS",
        )),
        _ => Err(invalid(
            "OTLP endpoint",
            format!("{url:?} is not an http:// URL with a host"),
            "use a URL such as http://localhost:4318",
        )),
    }
}

/// `k=v,k2=v2` with percent-encoded values (the W3C baggage form the variables use).
fn parse_pairs(variable: &str, text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    lookout_export::parse_key_values(text).map_err(|e| {
        invalid(
            variable,
            e.to_string(),
            "write key=value pairs separated by commas",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_testkit::env_map as env;

    #[test]
    fn nothing_without_an_endpoint() {
        assert_eq!(
            OtlpConfig::from_lookup(&env(&[("OTEL_SERVICE_NAME", "x")])),
            Ok(None)
        );
    }

    #[test]
    fn base_endpoint_gets_signal_paths_for_http_only() {
        let http =
            OtlpConfig::from_lookup(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")]))
                .unwrap()
                .unwrap();
        assert_eq!(
            http.traces_endpoint.as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert_eq!(
            http.metrics_endpoint.as_deref(),
            Some("http://c:4318/v1/metrics")
        );
        let grpc = OtlpConfig::from_lookup(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(grpc.protocol, Protocol::Grpc);
        assert_eq!(grpc.traces_endpoint.as_deref(), Some("http://c:4317"));
    }

    #[test]
    fn signal_endpoints_are_used_as_given_and_alone() {
        let config = OtlpConfig::from_lookup(&env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://t:4318/custom",
        )]))
        .unwrap()
        .unwrap();
        assert_eq!(
            config.traces_endpoint.as_deref(),
            Some("http://t:4318/custom")
        );
        assert_eq!(config.metrics_endpoint, None, "metrics not asked for");
    }

    #[test]
    fn seed_style_signal_url_names_the_base() {
        let config = OtlpConfig::new("http://localhost:4318/v1/metrics", Protocol::HttpProtobuf);
        assert_eq!(
            config.traces_endpoint.as_deref(),
            Some("http://localhost:4318/v1/traces")
        );
        assert_eq!(
            config.metrics_endpoint.as_deref(),
            Some("http://localhost:4318/v1/metrics")
        );
    }

    #[test]
    fn headers_timeout_compression_temporality() {
        let config = OtlpConfig::from_lookup(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Authorization=Bearer%20abc, x-team = agents ",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            config.headers,
            [
                ("Authorization".into(), "Bearer abc".into()),
                ("x-team".into(), "agents".into())
            ]
        );
        assert_eq!(config.timeout, Duration::from_millis(2500));
        assert_eq!(config.compression, Compression::Gzip);
        assert_eq!(config.temporality, Temporality::Delta);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (variable, value) in [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "sometimes",
            ),
        ] {
            let error = OtlpConfig::from_lookup(&env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                (variable, value),
            ]))
            .unwrap_err();
            assert_eq!(error.variable, variable, "{error}");
        }
        let error = OtlpConfig::from_lookup(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "c:4318")]))
            .unwrap_err();
        assert!(
            error.to_string().contains("\"c:4318/v1/traces\""),
            "{error}"
        );
        assert!(error.fix.starts_with("use a URL such as"), "{error}");
    }

    #[test]
    fn a_signal_protocol_wins_and_the_signals_must_agree() {
        let traces_only = OtlpConfig::from_lookup(&env(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(traces_only.protocol, Protocol::Grpc);
        assert_eq!(
            traces_only.traces_endpoint.as_deref(),
            Some("http://t:4317")
        );

        let both = OtlpConfig::from_lookup(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(both.protocol, Protocol::Grpc);
        assert_eq!(both.metrics_endpoint.as_deref(), Some("http://c:4317"));

        let error = OtlpConfig::from_lookup(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        ]))
        .unwrap_err();
        assert_eq!(error.variable, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL");
        assert!(
            error.problem.contains("metrics over http/protobuf"),
            "{error}"
        );
        assert!(error.fix.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "{error}");
    }

    #[test]
    fn http_json_is_refused_by_name() {
        let error = OtlpConfig::from_lookup(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
        ]))
        .unwrap_err();
        assert_eq!(error.variable, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
        assert_eq!(
            error.to_string(),
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: http/json is not implemented; \
             use http/protobuf or grpc"
        );
    }

    #[test]
    fn signal_headers_stay_with_their_signal() {
        let config = OtlpConfig::from_lookup(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Basic%20YWxh,a=1",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "Authorization=Bearer%20t%3Dx,a=2",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "x-m=%E2%9C%93"),
        ]))
        .unwrap()
        .unwrap();
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            config.headers,
            pairs(&[("authorization", "Basic YWxh"), ("a", "1")])
        );
        assert_eq!(
            config.traces_headers,
            pairs(&[("Authorization", "Bearer t=x"), ("a", "2")])
        );
        assert_eq!(config.metrics_headers, pairs(&[("x-m", "\u{2713}")]));
    }

    #[test]
    fn lowmemory_is_delta_and_empty_values_are_unset() {
        let config = OtlpConfig::from_lookup(&env(&[
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://m:4318/v1/metrics",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", " "),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", ""),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "LowMemory",
            ),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(config.temporality, Temporality::Delta);
        assert_eq!(config.protocol, Protocol::HttpProtobuf);
        assert_eq!(config.traces_endpoint, None);
        assert_eq!(
            config.metrics_endpoint.as_deref(),
            Some("http://m:4318/v1/metrics")
        );
        assert_eq!(config.timeout, Duration::from_secs(10), "the default");
        assert_eq!(config.compression, Compression::None);
        assert_eq!(
            OtlpConfig::from_lookup(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")])),
            Ok(None)
        );
    }
}
