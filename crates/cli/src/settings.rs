//! What the global flags resolve to, once, before a command runs.

use crate::args::GlobalArgs;
use std::time::Duration;

/// Resolved global settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The running Lookout's URL, without a trailing `/`.
    url: String,
    /// Print JSON instead of tables.
    pub(crate) json: bool,
    /// `--timeout`, if given.
    timeout: Option<Duration>,
}

impl Settings {
    /// Resolves the global flags.
    pub(crate) fn resolve(args: GlobalArgs) -> Settings {
        Settings {
            url: args.url.trim_end_matches('/').to_owned(),
            json: args.json,
            timeout: args.timeout.map(Duration::from_secs),
        }
    }

    /// The URL of `path` on the running Lookout; a URL given with a path of its own
    /// (`http://host:9464/prom`) is used as it is.
    pub(crate) fn endpoint(&self, path: &str) -> String {
        let after_scheme = self.url.split_once("://").map_or("", |(_, rest)| rest);
        if after_scheme.contains('/') {
            self.url.clone()
        } else {
            format!("{}{path}", self.url)
        }
    }

    /// `--timeout`, else the command's `default`.
    pub(crate) fn timeout_or(&self, default: Duration) -> Duration {
        self.timeout.unwrap_or(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Args;
    use clap::Parser;

    fn settings(url: Option<&str>) -> Settings {
        let mut argv = vec!["lookout"];
        if let Some(url) = url {
            argv.extend(["--url", url]);
        }
        argv.push("export");
        Settings::resolve(Args::parse_from(argv).global)
    }

    #[test]
    fn a_base_url_gets_the_path_and_a_url_with_a_path_is_kept() {
        assert_eq!(
            settings(None).endpoint("/metrics"),
            "http://127.0.0.1:9464/metrics"
        );
        assert_eq!(
            settings(Some("http://host:1/")).endpoint("/export"),
            "http://host:1/export"
        );
        assert_eq!(
            settings(Some("http://host:1/prom")).endpoint("/metrics"),
            "http://host:1/prom"
        );
    }
}
