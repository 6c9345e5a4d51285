use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("lookout.json"))
}

#[test]
fn seed_shape_is_read() {
    let config = parse(
        r#"{
          "prometheus": { "enabled": true, "port": 9090, "path": "/metrics" },
          "json": { "enabled": true, "outputDir": "exports", "rotateInterval": 3600000, "maxFiles": 24 },
          "exportInterval": 15000
        }"#,
    )
    .unwrap();
    let prometheus = config.prometheus.unwrap();
    assert_eq!(prometheus.listen.port(), 9090);
    assert_eq!(prometheus.path, "/metrics");
    let json = config.json.unwrap();
    assert_eq!(json.output_dir, PathBuf::from("exports"));
    assert_eq!(json.rotate_interval, Duration::from_secs(3600));
    assert_eq!(json.max_files, 24);
    assert_eq!(config.metric_interval, Duration::from_secs(15));
}

#[test]
fn errors_name_the_field_and_the_fix() {
    let cases = [
        (
            r#"{"json": {"outptDir": "x"}}"#,
            "E_CONFIG_PARSE",
            "unknown field `outptDir`",
        ),
        (
            r#"{"json": {"enabled": true}}"#,
            "E_CONFIG_INVALID",
            "json.outputDir: missing",
        ),
        (
            r#"{"json": {"outputDir": "x", "maxFiles": 0}}"#,
            "E_CONFIG_INVALID",
            "json.maxFiles",
        ),
        (
            r#"{"json": {"outputDir": "x", "rotateInterval": 10}}"#,
            "E_CONFIG_INVALID",
            "json.rotateInterval",
        ),
        (
            r#"{"prometheus": {"path": "metrics"}}"#,
            "E_CONFIG_INVALID",
            "prometheus.path",
        ),
        (
            r#"{"prometheus": {"host": "example.com"}}"#,
            "E_CONFIG_INVALID",
            "prometheus.host",
        ),
        (
            r#"{"prometheus": {"port": 70000}}"#,
            "E_CONFIG_PARSE",
            "line 1",
        ),
        (
            r#"{"exportInterval": 5}"#,
            "E_CONFIG_INVALID",
            "exportInterval",
        ),
        ("not json", "E_CONFIG_PARSE", "lookout.json"),
    ];
    for (text, code, needle) in cases {
        let error = parse(text).expect_err(text);
        assert_eq!(error.code(), code, "{text}: {error}");
        assert!(error.to_string().contains(needle), "{text}: {error}");
    }
}

#[test]
fn environment_wins_over_the_file() {
    let file =
        parse(r#"{"json": {"outputDir": "from-file", "maxFiles": 3}, "exportInterval": 15000}"#)
            .unwrap();
    let env = env_map(&[
        (JSON_DIR_ENV, "from-env"),
        (METRIC_INTERVAL_ENV, "2000"),
        (lookout_exporter_json::SPAN_LOG_ENV, "spans.jsonl"),
    ]);
    let config = file.with_env(&env).unwrap();
    let json = config.json.unwrap();
    assert_eq!(json.output_dir, PathBuf::from("from-env"));
    assert_eq!(
        json.max_files, 3,
        "fields the environment does not name stay"
    );
    assert_eq!(config.metric_interval, Duration::from_secs(2));
    assert_eq!(config.span_log, Some(SpanLog::new("spans.jsonl")));

    let error = Config::default()
        .with_env(&env_map(&[(METRIC_INTERVAL_ENV, "soon")]))
        .unwrap_err();
    assert!(
        error.to_string().starts_with(METRIC_INTERVAL_ENV),
        "{error}"
    );
}

#[test]
fn disabled_blocks_are_off() {
    let config =
        parse(r#"{"prometheus": {"enabled": false}, "json": {"enabled": false}}"#).unwrap();
    assert_eq!(config.prometheus, None);
    assert_eq!(config.json, None);
}

#[cfg(feature = "otlp")]
#[test]
fn the_opentelemetry_block_and_its_variables() {
    use lookout_exporter_otlp::{Compression, Protocol, Temporality};
    let config = parse(
        r#"{"opentelemetry": {"enabled": true, "endpoint": "http://localhost:4318/v1/metrics",
            "protocol": "http", "headers": {"Authorization": "Bearer t"}, "timeout": 3000,
            "compression": "gzip", "temporality": "delta", "serviceName": "orchestrator",
            "resourceAttributes": {"deployment.environment": "dev"}}}"#,
    )
    .unwrap();
    let otlp = config.opentelemetry.clone().unwrap();
    assert_eq!(
        otlp.traces_endpoint.as_deref(),
        Some("http://localhost:4318/v1/traces")
    );
    assert_eq!(
        otlp.metrics_endpoint.as_deref(),
        Some("http://localhost:4318/v1/metrics")
    );
    assert_eq!(
        otlp.headers,
        [("Authorization".to_owned(), "Bearer t".to_owned())]
    );
    assert_eq!(otlp.timeout, Duration::from_secs(3));
    assert_eq!(otlp.compression, Compression::Gzip);
    assert_eq!(otlp.temporality, Temporality::Delta);
    assert_eq!(config.resource.service_name(), Some("orchestrator"));
    assert_eq!(environment(&config).as_deref(), Some("dev"));

    // The standard variables win over the file.
    let env = env_map(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_SERVICE_NAME", "from-env"),
    ]);
    let config = config.with_env(&env).unwrap();
    let otlp = config.opentelemetry.clone().unwrap();
    assert_eq!(otlp.protocol, Protocol::Grpc);
    assert_eq!(
        otlp.traces_endpoint.as_deref(),
        Some("http://collector:4317")
    );
    assert_eq!(config.resource.service_name(), Some("from-env"));

    // With no file at all, the endpoint variable alone turns OTLP on.
    let env = env_map(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]);
    assert!(
        Config::default()
            .with_env(&env)
            .unwrap()
            .opentelemetry
            .is_some()
    );
    assert!(
        Config::default()
            .with_env(&env_map(&[]))
            .unwrap()
            .opentelemetry
            .is_none()
    );

    for (text, field) in [
        (
            r#"{"opentelemetry": {"protocol": "http"}}"#,
            "opentelemetry.endpoint",
        ),
        (
            r#"{"opentelemetry": {"endpoint": "http://c", "protocol": "thrift"}}"#,
            "opentelemetry.protocol",
        ),
        (
            r#"{"opentelemetry": {"endpoint": "ftp://c"}}"#,
            "opentelemetry.endpoint",
        ),
        (
            r#"{"opentelemetry": {"endpoint": "http://c", "compression": "br"}}"#,
            "opentelemetry.compression",
        ),
    ] {
        let error = parse(text).expect_err(text);
        assert!(error.to_string().starts_with(field), "{text}: {error}");
    }
    let error = Config::default()
        .with_env(&env_map(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ]))
        .unwrap_err();
    assert!(
        error.to_string().starts_with("OTEL_EXPORTER_OTLP_PROTOCOL"),
        "{error}"
    );
}

/// The `deployment.environment` resource attribute.
fn environment(config: &Config) -> Option<String> {
    config
        .resource
        .get("deployment.environment")
        .map(ToString::to_string)
}

#[test]
fn resource_attributes_and_the_service_name_come_from_the_environment() {
    let config = Config::default()
        .with_env(&env_map(&[
            (
                RESOURCE_ATTRIBUTES_ENV,
                "service.name=from-attrs,deployment.environment=dev%2C1",
            ),
            (SERVICE_NAME_ENV, "coordinator"),
        ]))
        .unwrap();
    assert_eq!(config.resource.service_name(), Some("coordinator"));
    assert_eq!(environment(&config).as_deref(), Some("dev,1"));
    let error = Config::default()
        .with_env(&env_map(&[(RESOURCE_ATTRIBUTES_ENV, "novalue")]))
        .unwrap_err();
    assert!(
        error.to_string().starts_with(RESOURCE_ATTRIBUTES_ENV),
        "{error}"
    );
}

#[cfg(feature = "store")]
#[test]
fn unusable_variables_are_each_one_problem_and_the_rest_apply() {
    let (config, problems) = Config::default().with_env_lenient(&env_map(&[
        ("TELEMETRY_BASE_DIR", "/var/lib/agents"),
        (METRIC_INTERVAL_ENV, "soon"),
        (API_URL_ENV, "ftp://sheets.example"),
        (SERVICE_NAME_ENV, "crawler"),
    ]));
    let named: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(named.len(), 2, "{named:?}");
    assert!(named[0].starts_with(API_URL_ENV), "{named:?}");
    assert!(named[1].starts_with(METRIC_INTERVAL_ENV), "{named:?}");
    assert_eq!(
        config.store.unwrap().base_dir,
        PathBuf::from("/var/lib/agents")
    );
    assert_eq!(
        config.resource.get(SERVICE_NAME).map(|v| v.to_string()),
        Some("crawler".to_owned())
    );
    assert_eq!(
        config.metric_interval,
        Duration::from_secs(60),
        "left as it was"
    );
    assert_eq!(config.runs_api_url, None);
}

#[cfg(feature = "store")]
#[test]
fn the_api_url_gets_seed_002s_runs_path_unless_it_has_one() {
    let url = |text: &str| {
        Config::default()
            .with_env(&env_map(&[(API_URL_ENV, text)]))
            .map(|c| c.runs_api_url.unwrap())
    };
    assert_eq!(
        url("http://localhost:8765").unwrap(),
        "http://localhost:8765/api/v1/runs"
    );
    assert_eq!(
        url("https://hooks.example/").unwrap(),
        "https://hooks.example/api/v1/runs"
    );
    assert_eq!(
        url("https://hooks.example/x/runs").unwrap(),
        "https://hooks.example/x/runs"
    );
    assert!(url("localhost:8765").is_err());
    assert!(url("http:///runs").is_err());
}

#[cfg(feature = "store")]
#[test]
fn a_bad_store_variable_keeps_the_store_and_its_other_settings() {
    let (config, problems) = Config::default().with_env_lenient(&env_map(&[
        ("TELEMETRY_BASE_DIR", "/var/lib/agents"),
        ("TELEMETRY_DB_SYNCHRONOUS", "fast"),
        ("TELEMETRY_DB_JOURNAL_MODE", "DELETE"),
    ]));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].to_string().contains("TELEMETRY_DB_SYNCHRONOUS"),
        "{}",
        problems[0]
    );
    let store = config.store.expect("the store stays on");
    assert_eq!(store.base_dir, PathBuf::from("/var/lib/agents"));
    assert_eq!(store.journal_mode, lookout_store::JournalMode::Delete);
}
