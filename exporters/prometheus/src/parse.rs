//! A reader for the text exposition format, for tools that show or check a scrape.

use std::fmt;

/// One family read from an exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFamily {
    /// The name on its `# TYPE` line (or the sample name when there is none).
    pub name: String,
    /// The type word: `counter`, `gauge`, `histogram`, ... or `untyped`.
    pub kind: String,
    /// Help text, unescaped.
    pub help: String,
    /// Samples in order of appearance.
    pub samples: Vec<Sample>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Sample name, e.g. `x_bucket`.
    pub name: String,
    /// Label pairs, unescaped, in order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A line that is not valid exposition text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// Reads Prometheus text (0.0.4) or OpenMetrics text into families.
///
/// ```
/// let families = lookout_exporter_prometheus::parse(
///     "# TYPE jobs_total counter\njobs_total{queue=\"a\\\"b\"} 3\n",
/// ).unwrap();
/// assert_eq!(families[0].samples[0].label("queue"), Some("a\"b"));
/// assert_eq!(families[0].samples[0].value, 3.0);
/// ```
pub fn parse(text: &str) -> Result<Vec<ParsedFamily>, ParseError> {
    let mut families: Vec<ParsedFamily> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let error = |reason| ParseError {
            line: index + 1,
            reason,
        };
        let line = line.trim_start();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            let (keyword, name, rest) = (words.next(), words.next(), words.next().unwrap_or(""));
            match (keyword, name) {
                (Some("TYPE"), Some(name)) => {
                    family(&mut families, name).kind = rest.trim().to_owned()
                }
                (Some("HELP"), Some(name)) => family(&mut families, name).help = unescape(rest),
                _ => {}
            }
            continue;
        }
        let sample = parse_sample(line).map_err(error)?;
        let belongs = families.last().is_some_and(|f| owns(f, &sample.name));
        if !belongs {
            families.push(ParsedFamily {
                name: sample.name.clone(),
                kind: "untyped".to_owned(),
                help: String::new(),
                samples: Vec::new(),
            });
        }
        if let Some(last) = families.last_mut() {
            last.samples.push(sample);
        }
    }
    Ok(families)
}

/// The family a metadata line names: the last one if it has that name and no samples yet.
fn family<'a>(families: &'a mut Vec<ParsedFamily>, name: &str) -> &'a mut ParsedFamily {
    let reuse = families
        .last()
        .is_some_and(|f| f.name == name && f.samples.is_empty());
    if !reuse {
        families.push(ParsedFamily {
            name: name.to_owned(),
            kind: "untyped".to_owned(),
            help: String::new(),
            samples: Vec::new(),
        });
    }
    let last = families.len() - 1;
    &mut families[last]
}

fn owns(family: &ParsedFamily, sample: &str) -> bool {
    let suffixes: &[&str] = match family.kind.as_str() {
        "counter" => &["", "_total", "_created"],
        "histogram" | "gaugehistogram" => {
            &["_bucket", "_sum", "_count", "_created", "_gsum", "_gcount"]
        }
        "summary" => &["", "_sum", "_count", "_created"],
        _ => &[""],
    };
    sample
        .strip_prefix(family.name.as_str())
        .is_some_and(|rest| suffixes.contains(&rest))
}

fn parse_sample(line: &str) -> Result<Sample, &'static str> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_ascii_whitespace())
        .ok_or("a sample needs a value")?;
    let (name, mut rest) = line.split_at(name_end);
    if name.is_empty() {
        return Err("a sample needs a name");
    }
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        rest = body;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after) = rest.split_once('=').ok_or("a label needs `=`")?;
            let after = after
                .strip_prefix('"')
                .ok_or("a label value needs quotes")?;
            let (value, after) = quoted(after).ok_or("unterminated label value")?;
            labels.push((label.trim().to_owned(), value));
            rest = after.trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let value = rest
        .split_ascii_whitespace()
        .next()
        .ok_or("a sample needs a value")?;
    let value = match value {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().map_err(|_| "the value is not a number")?,
    };
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Reads an escaped string up to its closing quote; returns it and what follows.
fn quoted(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_encoder_writes() {
        let text = "# HELP h_seconds Help \\\\ with\\nnewline\n# TYPE h_seconds histogram\n\
            h_seconds_bucket{a=\"x\\\"y\\\\z\\n\",le=\"0.5\"} 1\nh_seconds_bucket{a=\"x\",le=\"+Inf\"} 2\n\
            h_seconds_sum{a=\"x\"} 1.5\nh_seconds_count{a=\"x\"} 2\n# TYPE g gauge\ng NaN\ng{b=\"ü\",} -Inf 1700000000\n";
        let families = parse(text).unwrap();
        assert_eq!(families.len(), 2);
        assert_eq!(families[0].help, "Help \\ with\nnewline");
        assert_eq!(families[0].kind, "histogram");
        assert_eq!(families[0].samples.len(), 4);
        assert_eq!(families[0].samples[0].label("a"), Some("x\"y\\z\n"));
        assert_eq!(families[0].samples[1].label("le"), Some("+Inf"));
        assert!(families[1].samples[0].value.is_nan());
        assert_eq!(families[1].samples[1].value, f64::NEG_INFINITY);
        assert_eq!(families[1].samples[1].label("b"), Some("ü"));
    }

    #[test]
    fn reports_the_line_of_bad_input() {
        assert_eq!(parse("ok 1\nbad{a=\"x} 1\n").unwrap_err().line, 2);
        assert_eq!(
            parse("x abc").unwrap_err().reason,
            "the value is not a number"
        );
        assert!(parse("x{a=1} 2").is_err());
        assert!(parse("x").is_err());
    }
}
