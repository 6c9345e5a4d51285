//! Which exporters a process runs: a config file in seed 003's shape, overridden by the
//! environment.
//!
//! ```json
//! {
//!   "prometheus": { "enabled": true, "port": 9464, "path": "/metrics" },
//!   "json": { "enabled": true, "outputDir": "telemetry/exports",
//!             "rotateInterval": 3600000, "maxFiles": 24 },
//!   "opentelemetry": { "enabled": true, "endpoint": "http://localhost:4318",
//!                      "protocol": "http", "headers": { "Authorization": "Bearer <token>" } },
//!   "exportInterval": 15000
//! }
//! ```
//!
//! Environment variables win over the file: `LOOKOUT_JSON_DIR` turns the JSON exporter
//! on (into that directory), `LOOKOUT_SPAN_LOG` names a span log, and the standard
//! `OTEL_EXPORTER_OTLP_*`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` and
//! `OTEL_METRIC_EXPORT_INTERVAL` configure OTLP. Every process that records builds its
//! exporters this way, so setting `OTEL_EXPORTER_OTLP_ENDPOINT` is all a sub-agent needs.

mod file;

use file::FileConfig;
use lookout_export::{Resource, SERVICE_NAME};
use lookout_exporter_json::{JsonFileConfig, SpanLog};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where `lookout serve`, the examples and every command that talks to them meet unless
/// told otherwise: loopback, port 9464 (the OpenTelemetry Prometheus exporter's port).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    9464,
));

/// Turns the JSON exporter on, writing into this directory.
pub const JSON_DIR_ENV: &str = "LOOKOUT_JSON_DIR";
/// Names a config file for processes that take no `--config` (as `lookout exec`).
pub const CONFIG_ENV: &str = "LOOKOUT_CONFIG";
/// Milliseconds between metric exports (OpenTelemetry's variable).
pub const METRIC_INTERVAL_ENV: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// `off` turns the store off whatever else names it (`on`: the default place).
pub const STORE_ENV: &str = "LOOKOUT_STORE";
/// Seed 002's API URL: each finished run is POSTed there (`{url}/api/v1/runs` when the
/// URL has no path).
pub const API_URL_ENV: &str = "TELEMETRY_API_URL";
/// The bearer token runs are posted with, if set (`lookout serve --token` reads it too).
pub const API_TOKEN_ENV: &str = "LOOKOUT_API_TOKEN";
/// The directory of seed 000's `telemetry.json` and its archives (default: `registry/`
/// in the store's base directory, when there is a store).
pub const SKILLS_DIR_ENV: &str = "LOOKOUT_SKILLS_DIR";
/// The fraction of sessions kept whole (spans, store, export), 0 to 1 (default 1).
pub const SESSION_SAMPLE_RATE_ENV: &str = "LOOKOUT_SESSION_SAMPLE_RATE";
/// `key=value,...` resource attributes of this process (OpenTelemetry's variable).
pub const RESOURCE_ATTRIBUTES_ENV: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// This process's `service.name` (OpenTelemetry's variable); wins over
/// `OTEL_RESOURCE_ATTRIBUTES`.
pub const SERVICE_NAME_ENV: &str = "OTEL_SERVICE_NAME";

/// Everything the config file and the environment decide; the pipeline builds the
/// exporters from it ([`crate::pipeline::PipelineBuilder::configured`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// Where `lookout serve` listens, and on which path; `None` when disabled.
    pub prometheus: Option<PrometheusConfig>,
    /// The rotating JSON exporter, if on.
    pub json: Option<JsonFileConfig>,
    /// The span log, if on.
    pub span_log: Option<SpanLog>,
    /// OTLP export, if on.
    #[cfg(feature = "otlp")]
    pub opentelemetry: Option<lookout_exporter_otlp::OtlpConfig>,
    /// Time between metric exports.
    pub metric_interval: Duration,
    /// The durable store, if on.
    #[cfg(feature = "store")]
    pub store: Option<lookout_store::StoreConfig>,
    /// Whether the file (`"store": {"enabled": false}`) or `LOOKOUT_STORE=off` turned
    /// the store off, so that [`Config::with_default_store`] leaves it off.
    store_disabled: bool,
    /// Where finished runs are posted (seed 002's `TELEMETRY_API_URL`), if anywhere.
    #[cfg(feature = "store")]
    pub runs_api_url: Option<String>,
    /// The bearer token runs are posted with ([`API_TOKEN_ENV`]), if any.
    #[cfg(feature = "store")]
    pub runs_api_token: Option<String>,
    /// Resource attributes that name this process, over those it detects
    /// ([`crate::trace::process_resource`]): the file's `opentelemetry.serviceName` and
    /// `resourceAttributes`, then `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME`.
    pub resource: Resource,
    /// Where skill entries go as seed 000's `telemetry.json` ([`SKILLS_DIR_ENV`]).
    pub skills_dir: Option<PathBuf>,
    /// The fraction of sessions kept whole ([`SESSION_SAMPLE_RATE_ENV`]).
    pub session_sample_rate: f64,
    /// The file's `monitors` block as written: alert rules `lookout serve` evaluates
    /// (the query engine reads them; the engine only carries them).
    pub monitors: Option<serde_json::Value>,
}

/// The `/metrics` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Path of the exposition.
    pub path: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prometheus: Some(PrometheusConfig {
                listen: DEFAULT_LISTEN,
                path: "/metrics".into(),
            }),
            json: None,
            span_log: None,
            #[cfg(feature = "otlp")]
            opentelemetry: None,
            metric_interval: Duration::from_secs(60),
            monitors: None,
            skills_dir: None,
            session_sample_rate: 1.0,
            #[cfg(feature = "store")]
            store: None,
            store_disabled: false,
            #[cfg(feature = "store")]
            runs_api_url: None,
            #[cfg(feature = "store")]
            runs_api_token: None,
            resource: Resource::default(),
        }
    }
}

/// A config file or variable that cannot be used, naming the field and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON of the expected shape (the message names the key and line).
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why, with line and column.
        source: serde_json::Error,
    },
    /// A field or variable has a value that cannot work.
    #[error("{field}: {problem}; {fix}")]
    Invalid {
        /// The field (`json.maxFiles`) or variable (`OTEL_EXPORTER_OTLP_PROTOCOL`).
        field: String,
        /// What is wrong with it.
        problem: String,
        /// How to fix it.
        fix: String,
    },
}

impl ConfigError {
    /// A stable code for scripts (`E_CONFIG_READ`, `E_CONFIG_PARSE`, `E_CONFIG_INVALID`).
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Read { .. } => "E_CONFIG_READ",
            ConfigError::Parse { .. } => "E_CONFIG_PARSE",
            ConfigError::Invalid { .. } => "E_CONFIG_INVALID",
        }
    }

    fn invalid(field: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.to_owned(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Where configuration values come from: the process environment, or a map in tests.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, with empty variables counted as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Config {
    /// The configuration of a process without a file: defaults, then the environment
    /// (including `LOOKOUT_CONFIG`, a file to start from).
    pub fn from_env() -> Result<Config, ConfigError> {
        match process_env(CONFIG_ENV) {
            Some(path) => Config::load(Path::new(&path), &process_env),
            None => Config::default().with_env(&process_env),
        }
    }

    /// The configuration of a process, as seed 002 wants it: a variable or file that
    /// cannot be used is one warning on stderr naming it, and is ignored; the rest applies.
    pub fn from_env_or_warn() -> Config {
        let config = match process_env(CONFIG_ENV) {
            Some(path) => Config::read(Path::new(&path)).unwrap_or_else(|error| {
                eprintln!("lookout: warning: {error}; the file is ignored");
                Config::default()
            }),
            None => Config::default(),
        };
        let (config, problems) = config.with_env_lenient(&process_env);
        for problem in problems {
            eprintln!("lookout: warning: {problem}; the variable is ignored");
        }
        config
    }

    /// Reads and parses `path`; no environment applied.
    fn read(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Reads `path`, then applies the variables `env` finds.
    pub fn load(path: &Path, env: Lookup<'_>) -> Result<Config, ConfigError> {
        Config::read(path)?.with_env(env)
    }

    /// Parses a file's text (`path` only names it in errors); no environment applied.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file: FileConfig = serde_json::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Config::default();
        if let Some(block) = file.prometheus {
            config.prometheus = prometheus_block(block)?;
        }
        if let Some(block) = file.json {
            config.json = json_block(block)?;
        }
        if let Some(ms) = file.export_interval {
            config.metric_interval = interval("exportInterval", ms)?;
        }
        config.span_log = file.span_log.map(SpanLog::new);
        config.monitors = file.monitors;
        if let Some(block) = file.store {
            config.set_store(&block)?;
        }
        if let Some(block) = file.opentelemetry {
            for (key, value) in block.resource_attributes.clone().unwrap_or_default() {
                config.resource.set(key, value);
            }
            if let Some(name) = &block.service_name {
                config.resource.set(SERVICE_NAME, name.clone());
            }
            config.set_opentelemetry(&block)?;
        }
        Ok(config)
    }

    /// Applies environment variables over what the file said; the first that cannot be
    /// used is the error.
    pub fn with_env(self, env: Lookup<'_>) -> Result<Config, ConfigError> {
        let (config, mut problems) = self.with_env_lenient(env);
        match problems.is_empty() {
            true => Ok(config),
            false => Err(problems.swap_remove(0)),
        }
    }

    /// Applies the environment variables that can be used, and returns the problems of
    /// those that cannot (each left as it was).
    pub fn with_env_lenient(mut self, env: Lookup<'_>) -> (Config, Vec<ConfigError>) {
        let mut problems = Vec::new();
        let mut check = |result: Result<(), ConfigError>| {
            if let Err(problem) = result {
                problems.push(problem);
            }
        };
        if let Some(dir) = env(JSON_DIR_ENV) {
            let json = self.json.get_or_insert_with(|| JsonFileConfig::new(&dir));
            json.output_dir = dir.into();
        }
        #[cfg(feature = "otlp")]
        check((|| {
            use lookout_exporter_otlp::OtlpConfig;
            let configured = match self.opentelemetry.clone() {
                Some(config) => Some(config.apply_lookup(env).map_err(otlp_error)?),
                None => OtlpConfig::from_lookup(env).map_err(otlp_error)?,
            };
            self.opentelemetry = configured;
            Ok(())
        })());
        check((|| {
            if let Some(text) = env(RESOURCE_ATTRIBUTES_ENV) {
                let pairs = lookout_export::parse_key_values(&text).map_err(|e| {
                    ConfigError::invalid(
                        RESOURCE_ATTRIBUTES_ENV,
                        e.to_string(),
                        "write key=value pairs separated by commas",
                    )
                })?;
                for (key, value) in pairs {
                    self.resource.set(key, value);
                }
            }
            Ok(())
        })());
        if let Some(name) = env(SERVICE_NAME_ENV) {
            self.resource.set(SERVICE_NAME, name);
        }
        check(match env(STORE_ENV).as_deref().map(str::trim) {
            None | Some("on") => Ok(()),
            Some("off") => {
                self.store_disabled = true;
                Ok(())
            }
            Some(other) => Err(ConfigError::invalid(
                STORE_ENV,
                format!("{other:?} is not on or off"),
                "set it to off to record nothing to disk, or on",
            )),
        });
        #[cfg(feature = "store")]
        {
            use lookout_store::StoreConfig;
            let (store, store_problems) = match self.store.take() {
                _ if self.store_disabled => (None, Vec::new()),
                Some(store) => {
                    let (store, problems) = store.with_lookup_lenient(env);
                    (Some(store), problems)
                }
                None => StoreConfig::from_lookup_lenient(env),
            };
            self.store = store;
            for problem in store_problems {
                check(Err(store_error(problem)));
            }
        }
        #[cfg(feature = "store")]
        check((|| {
            if let Some(url) = env(API_URL_ENV) {
                self.runs_api_url = Some(api_url(&url)?);
            }
            if let Some(token) = env(API_TOKEN_ENV).filter(|t| !t.trim().is_empty()) {
                self.runs_api_token = Some(token.trim().to_owned());
            }
            Ok(())
        })());
        if let Some(dir) = env(SKILLS_DIR_ENV).filter(|dir| !dir.trim().is_empty()) {
            self.skills_dir = Some(dir.into());
        }
        check((|| {
            if let Some(text) = env(SESSION_SAMPLE_RATE_ENV) {
                match text.trim().parse::<f64>() {
                    Ok(rate) if (0.0..=1.0).contains(&rate) => self.session_sample_rate = rate,
                    _ => {
                        return Err(ConfigError::invalid(
                            SESSION_SAMPLE_RATE_ENV,
                            format!("{text:?} is not a fraction from 0 to 1"),
                            "set it to a number such as 0.1 (keeps one session in ten)",
                        ));
                    }
                }
            }
            Ok(())
        })());
        if let Some(path) = env(lookout_exporter_json::SPAN_LOG_ENV) {
            self.span_log = Some(SpanLog::new(path));
        }
        check((|| {
            if let Some(ms) = env(METRIC_INTERVAL_ENV) {
                let ms = ms.trim().parse().map_err(|_| {
                    ConfigError::invalid(
                        METRIC_INTERVAL_ENV,
                        format!("{ms:?} is not a number of milliseconds"),
                        "set it to an integer such as 15000",
                    )
                })?;
                self.metric_interval = interval(METRIC_INTERVAL_ENV, ms)?;
            }
            Ok(())
        })());
        (self, problems)
    }

    /// The store in the per-user data directory, unless one is named already or the file
    /// turned it off: what `lookout exec` and `lookout serve` record into by default.
    #[cfg(feature = "store")]
    pub fn with_default_store(mut self) -> Config {
        if !self.store_is_set() {
            self.store =
                lookout_store::StoreConfig::default_base_dir().map(lookout_store::StoreConfig::new);
        }
        self
    }

    /// Whether the file or the environment named a store or turned it off.
    #[cfg(feature = "store")]
    pub fn store_is_set(&self) -> bool {
        self.store.is_some() || self.store_disabled
    }

    /// The directory of `telemetry.json`: the one named, else `registry/` in the store's
    /// base directory, else none (skill entries then go to spans, metrics and the store).
    pub fn skills_dir_or_default(&self) -> Option<PathBuf> {
        #[cfg(feature = "store")]
        if self.skills_dir.is_none() {
            return self.store.as_ref().map(|s| s.base_dir.join("registry"));
        }
        self.skills_dir.clone()
    }

    /// Reads the `store` block (the store crate parses its own settings).
    #[cfg(feature = "store")]
    fn set_store(&mut self, block: &file::StoreBlock) -> Result<(), ConfigError> {
        self.store_disabled = block.enabled == Some(false);
        self.store = lookout_store::StoreConfig::from_block(block).map_err(store_error)?;
        Ok(())
    }

    #[cfg(not(feature = "store"))]
    fn set_store(&mut self, block: &file::StoreBlock) -> Result<(), ConfigError> {
        self.store_disabled = block.enabled == Some(false);
        if self.store_disabled {
            return Ok(());
        }
        Err(ConfigError::invalid(
            "store",
            "this build has no store",
            "build lookout with the `store` feature, or set \"enabled\": false",
        ))
    }

    #[cfg(not(feature = "otlp"))]
    fn set_opentelemetry(&mut self, block: &file::OpenTelemetryBlock) -> Result<(), ConfigError> {
        if block.enabled == Some(false) {
            return Ok(());
        }
        Err(ConfigError::invalid(
            "opentelemetry",
            "this build has no OTLP exporter",
            "build lookout with the `otlp` feature, or set \"enabled\": false",
        ))
    }

    /// Reads the `opentelemetry` block (the OTLP crate parses its own settings).
    #[cfg(feature = "otlp")]
    fn set_opentelemetry(&mut self, block: &file::OpenTelemetryBlock) -> Result<(), ConfigError> {
        self.opentelemetry = block.to_config().map_err(otlp_error)?;
        Ok(())
    }
}

#[cfg(feature = "otlp")]
fn otlp_error(error: lookout_exporter_otlp::ConfigError) -> ConfigError {
    ConfigError::Invalid {
        field: error.variable,
        problem: error.problem,
        fix: error.fix,
    }
}

#[cfg(feature = "store")]
fn store_error(error: lookout_store::ConfigError) -> ConfigError {
    ConfigError::Invalid {
        field: error.variable.to_owned(),
        problem: error.problem,
        fix: error.fix.to_owned(),
    }
}

fn interval(field: &str, ms: u64) -> Result<Duration, ConfigError> {
    if ms < 100 {
        return Err(ConfigError::invalid(
            field,
            format!("{ms} ms is too short"),
            "use at least 100 (milliseconds); seed 003 advises 15000-60000",
        ));
    }
    Ok(Duration::from_millis(ms))
}

fn prometheus_block(block: file::PrometheusBlock) -> Result<Option<PrometheusConfig>, ConfigError> {
    if block.enabled == Some(false) {
        return Ok(None);
    }
    let defaults = Config::default().prometheus.expect("on by default");
    let host = block
        .host
        .unwrap_or_else(|| defaults.listen.ip().to_string());
    let port = block.port.unwrap_or(defaults.listen.port());
    let listen = format!("{host}:{port}")
        .parse()
        .or_else(|_| format!("[{host}]:{port}").parse())
        .map_err(|_| {
            ConfigError::invalid(
                "prometheus.host",
                format!("{host:?} is not an IP address"),
                "use an address such as 127.0.0.1 or 0.0.0.0",
            )
        })?;
    let path = block.path.unwrap_or(defaults.path);
    if !path.starts_with('/') {
        return Err(ConfigError::invalid(
            "prometheus.path",
            format!("{path:?} does not start with '/'"),
            "use an absolute path such as /metrics",
        ));
    }
    Ok(Some(PrometheusConfig { listen, path }))
}

fn json_block(block: file::JsonBlock) -> Result<Option<JsonFileConfig>, ConfigError> {
    if block.enabled == Some(false) {
        return Ok(None);
    }
    let Some(dir) = block.output_dir.filter(|d| !d.is_empty()) else {
        return Err(ConfigError::invalid(
            "json.outputDir",
            "missing",
            "name the directory for the files, or set \"enabled\": false",
        ));
    };
    let mut json = JsonFileConfig::new(dir);
    if let Some(ms) = block.rotate_interval {
        if ms < 1000 {
            return Err(ConfigError::invalid(
                "json.rotateInterval",
                format!("{ms} ms is too short"),
                "use at least 1000 (milliseconds); the default is 3600000 (1 h)",
            ));
        }
        json.rotate_interval = Duration::from_millis(ms);
    }
    if let Some(n) = block.max_files {
        if n == 0 {
            return Err(ConfigError::invalid(
                "json.maxFiles",
                "0 would delete every file",
                "keep at least 1 (the default is 24)",
            ));
        }
        json.max_files = n;
    }
    if let Some(bytes) = block.max_file_bytes {
        if bytes < 4096 {
            return Err(ConfigError::invalid(
                "json.maxFileBytes",
                format!("{bytes} bytes is too small"),
                "use at least 4096 (the default is 67108864, 64 MiB)",
            ));
        }
        json.max_file_bytes = bytes;
    }
    Ok(Some(json))
}

/// A lookup over fixed variables, for tests and for `--config` checks.
pub fn env_map(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| vars.get(name).cloned()
}

#[cfg(test)]
mod tests;

/// Checks seed 002's API URL: `http://` or `https://` and a host; the runs endpoint is
/// added when the URL has no path.
#[cfg(feature = "store")]
fn api_url(text: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    let invalid = |problem: String| {
        ConfigError::invalid(
            API_URL_ENV,
            problem,
            "set it to a URL such as http://localhost:8765",
        )
    };
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| invalid(format!("{text:?} is not an http:// or https:// URL")))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return Err(invalid(format!("{text:?} names no host")));
    }
    Ok(match path.trim_end_matches('/') {
        "" => format!("{}/api/v1/runs", text.trim_end_matches('/')),
        _ => text.to_owned(),
    })
}
