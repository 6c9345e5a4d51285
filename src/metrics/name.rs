//! Prometheus naming rules, checked once at registration.

use super::MetricError;

/// The label that marks the series receiving measurements past a family's cardinality limit.
pub const OVERFLOW_LABEL: &str = "otel_metric_overflow";

/// Checks a metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn check_metric_name(name: &str) -> Result<(), MetricError> {
    let mut bytes = name.bytes();
    let valid = matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
    if valid {
        Ok(())
    } else {
        Err(MetricError::InvalidMetricName(name.to_owned()))
    }
}

/// Checks one label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not `__`-prefixed, not reserved.
pub(crate) fn check_label_name(name: &str, histogram: bool) -> Result<(), MetricError> {
    let invalid = |reason| {
        Err(MetricError::InvalidLabelName {
            name: name.to_owned(),
            reason,
        })
    };
    let mut bytes = name.bytes();
    let valid = matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return invalid("use [a-zA-Z_][a-zA-Z0-9_]*");
    }
    if name.starts_with("__") {
        return invalid("names starting with __ are reserved for Prometheus");
    }
    if name == OVERFLOW_LABEL {
        return invalid("reserved for the cardinality overflow series");
    }
    if histogram && name == "le" {
        return invalid("`le` is reserved for histogram buckets");
    }
    Ok(())
}

/// Checks a family's label names: each valid, none repeated.
pub(crate) fn check_label_names(names: &[Box<str>], histogram: bool) -> Result<(), MetricError> {
    for (i, name) in names.iter().enumerate() {
        check_label_name(name, histogram)?;
        if names[..i].contains(name) {
            return Err(MetricError::InvalidLabelName {
                name: name.to_string(),
                reason: "label names must be unique within a family",
            });
        }
    }
    Ok(())
}

/// Checks that `unit` is `[a-z0-9_]+` and that `base` (the name without `_total`) ends with it.
pub(crate) fn check_unit(name: &str, base: &str, unit: &str) -> Result<(), MetricError> {
    let well_formed = !unit.is_empty()
        && unit
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let suffixed = base
        .strip_suffix(unit)
        .is_some_and(|rest| rest.ends_with('_') && rest.len() > 1);
    if well_formed && suffixed {
        Ok(())
    } else {
        Err(MetricError::InvalidUnit {
            name: name.to_owned(),
            unit: unit.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_follow_prometheus_rules() {
        for good in ["a", "agent_execution_total", "ns:rule_name", "_x9", "A_B"] {
            assert!(check_metric_name(good).is_ok(), "{good}");
        }
        for bad in ["", "9a", "a-b", "a b", "é", "a.b", "a{b}"] {
            assert_eq!(
                check_metric_name(bad),
                Err(MetricError::InvalidMetricName(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn label_names_follow_prometheus_rules() {
        for good in ["a", "agent_type", "_x", "B9"] {
            assert!(check_label_name(good, true).is_ok(), "{good}");
        }
        for bad in ["", "9a", "a:b", "a-b", "__name__", "__x", OVERFLOW_LABEL] {
            assert!(check_label_name(bad, false).is_err(), "{bad}");
        }
        assert!(check_label_name("le", false).is_ok());
        assert!(check_label_name("le", true).is_err());
        let repeated: Vec<Box<str>> = vec!["a".into(), "b".into(), "a".into()];
        assert!(check_label_names(&repeated, false).is_err());
    }

    #[test]
    fn unit_must_be_the_name_suffix() {
        assert!(check_unit("x_seconds", "x_seconds", "seconds").is_ok());
        assert!(check_unit("x_seconds_total", "x_seconds", "seconds").is_ok());
        assert!(check_unit("seconds", "seconds", "seconds").is_err());
        assert!(check_unit("xseconds", "xseconds", "seconds").is_err());
        assert!(check_unit("x_bytes", "x_bytes", "seconds").is_err());
        assert!(check_unit("x_Seconds", "x_Seconds", "Seconds").is_err());
    }
}
