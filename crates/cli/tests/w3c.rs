//! W3C Trace Context (level 1): every rule of the `traceparent` and `tracestate` parsing
//! sections and every case of the official test suite (w3c/trace-context, `test/`), as a
//! table. Valid contexts continue the trace and round-trip; invalid ones start a new trace
//! and drop `tracestate`; nothing panics. The same table then runs through the environment
//! carriers: `lookout exec` with `TRACEPARENT` (or `TRACE_CONTEXT`) and `TRACESTATE` set,
//! the child seeing the continued or the restarted trace.

use lookout::trace::{SpanContext, TraceParent};

const TRACE_ID: &str = "12345678901234567890123456789012";
const PARENT_ID: &str = "1234567890123456";
const VALID: &str = "00-12345678901234567890123456789012-1234567890123456-01";

/// What a receiver must do with a case.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// Continue the trace; `tracestate` as propagated (canonical form, "" for none).
    Continue(String),
    /// Start a new trace; nothing of the incoming tracestate survives.
    Restart,
}

struct Case {
    name: &'static str,
    /// Header lines in order: (name, value).
    headers: Vec<(&'static str, String)>,
    expect: Expect,
}

fn tp(value: impl Into<String>) -> (&'static str, String) {
    ("traceparent", value.into())
}

fn ts(value: impl Into<String>) -> (&'static str, String) {
    ("tracestate", value.into())
}

fn cont(tracestate: &str) -> Expect {
    Expect::Continue(tracestate.to_owned())
}

fn case(name: &'static str, headers: Vec<(&'static str, String)>, expect: Expect) -> Case {
    Case {
        name,
        headers,
        expect,
    }
}

/// A valid traceparent with one part replaced.
fn with_version(v: &str) -> String {
    format!("{v}-{TRACE_ID}-{PARENT_ID}-01")
}
fn with_trace_id(id: &str) -> String {
    format!("00-{id}-{PARENT_ID}-01")
}
fn with_parent_id(id: &str) -> String {
    format!("00-{TRACE_ID}-{id}-01")
}
fn with_flags(flags: &str) -> String {
    format!("00-{TRACE_ID}-{PARENT_ID}-{flags}")
}

fn cases() -> Vec<Case> {
    use Expect::Restart;
    let members = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}=v{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let printable: String = (0x20u8..=0x7e)
        .map(char::from)
        .filter(|c| *c != ',' && *c != '=')
        .collect();
    vec![
        // --- traceparent: presence, header names, duplication (suite: *_missing, header_name, duplicated)
        case("both headers missing", vec![], Restart),
        case("traceparent only", vec![tp(VALID)], cont("")),
        case(
            "traceparent, sampled flag clear",
            vec![tp(with_flags("00"))],
            cont(""),
        ),
        case(
            "traceparent duplicated",
            vec![
                tp(VALID),
                tp(with_trace_id("abcdef7890123456789012345678901a")),
            ],
            Restart,
        ),
        case(
            "traceparent duplicated, same value",
            vec![tp(VALID), tp(VALID)],
            Restart,
        ),
        case(
            "header name trace-parent",
            vec![("trace-parent", VALID.into())],
            Restart,
        ),
        case(
            "header name trace.parent",
            vec![("trace.parent", VALID.into())],
            Restart,
        ),
        case(
            "header name TraceParent",
            vec![("TraceParent", VALID.into())],
            cont(""),
        ),
        case(
            "header name TRACEPARENT",
            vec![("TRACEPARENT", VALID.into())],
            cont(""),
        ),
        case(
            "header name TraceState",
            vec![tp(VALID), ("TraceState", "foo=1".into())],
            cont("foo=1"),
        ),
        // --- version (suite: version_0x00, 0xcc, 0xff, illegal characters, too long, too short)
        case(
            "version 00 with trailing dot",
            vec![tp(format!("{VALID}."))],
            Restart,
        ),
        case(
            "version 00 with future data",
            vec![tp(format!("{VALID}-what-the-future-will-be-like"))],
            Restart,
        ),
        case("version cc", vec![tp(with_version("cc"))], cont("")),
        case(
            "version cc with future data",
            vec![tp(format!(
                "{}-what-the-future-will-be-like",
                with_version("cc")
            ))],
            cont(""),
        ),
        case(
            "version cc with future data after a dot",
            vec![tp(format!(
                "{}.what-the-future-will-be-like",
                with_version("cc")
            ))],
            Restart,
        ),
        case("version ff", vec![tp(with_version("ff"))], Restart),
        case("version .0", vec![tp(with_version(".0"))], Restart),
        case("version 0.", vec![tp(with_version("0."))], Restart),
        case("version 000", vec![tp(with_version("000"))], Restart),
        case("version 0000", vec![tp(with_version("0000"))], Restart),
        case("version 0", vec![tp(with_version("0"))], Restart),
        case(
            "version uppercase CC",
            vec![tp(with_version("CC"))],
            Restart,
        ),
        // --- trace-id (suite: all_zero, illegal_characters, too_long, too_short)
        case(
            "trace-id all zero",
            vec![tp(with_trace_id("00000000000000000000000000000000"))],
            Restart,
        ),
        case(
            "trace-id leading dot",
            vec![tp(with_trace_id(".2345678901234567890123456789012"))],
            Restart,
        ),
        case(
            "trace-id trailing dot",
            vec![tp(with_trace_id("1234567890123456789012345678901."))],
            Restart,
        ),
        case(
            "trace-id 33 digits",
            vec![tp(with_trace_id("123456789012345678901234567890123"))],
            Restart,
        ),
        case(
            "trace-id 31 digits",
            vec![tp(with_trace_id("1234567890123456789012345678901"))],
            Restart,
        ),
        case(
            "trace-id uppercase",
            vec![tp(with_trace_id("ABCDEF78901234567890123456789012"))],
            Restart,
        ),
        case(
            "trace-id non-hex g",
            vec![tp(with_trace_id("g2345678901234567890123456789012"))],
            Restart,
        ),
        // --- parent-id (suite: all_zero, illegal_characters, too_long, too_short)
        case(
            "parent-id all zero",
            vec![tp(with_parent_id("0000000000000000"))],
            Restart,
        ),
        case(
            "parent-id leading dot",
            vec![tp(with_parent_id(".234567890123456"))],
            Restart,
        ),
        case(
            "parent-id trailing dot",
            vec![tp(with_parent_id("123456789012345."))],
            Restart,
        ),
        case(
            "parent-id 17 digits",
            vec![tp(with_parent_id("12345678901234567"))],
            Restart,
        ),
        case(
            "parent-id 15 digits",
            vec![tp(with_parent_id("123456789012345"))],
            Restart,
        ),
        case(
            "parent-id uppercase",
            vec![tp(with_parent_id("ABCDEF7890123456"))],
            Restart,
        ),
        // --- trace-flags (suite: illegal_characters, too_long, too_short)
        case("trace-flags .0", vec![tp(with_flags(".0"))], Restart),
        case("trace-flags 0.", vec![tp(with_flags("0."))], Restart),
        case("trace-flags 001", vec![tp(with_flags("001"))], Restart),
        case("trace-flags 0", vec![tp(with_flags("0"))], Restart),
        case(
            "trace-flags unknown bits 09",
            vec![tp(with_flags("09"))],
            cont(""),
        ),
        case(
            "trace-flags uppercase 0A",
            vec![tp(with_flags("0A"))],
            Restart,
        ),
        // --- layout
        case("empty traceparent", vec![tp("")], Restart),
        case(
            "underscores instead of dashes",
            vec![tp(VALID.replace('-', "_"))],
            Restart,
        ),
        case(
            "missing trace-flags",
            vec![tp(format!("00-{TRACE_ID}-{PARENT_ID}"))],
            Restart,
        ),
        // --- optional whitespace (suite: traceparent_ows_handling)
        case("leading space", vec![tp(format!(" {VALID}"))], cont("")),
        case("leading tab", vec![tp(format!("\t{VALID}"))], cont("")),
        case("trailing space", vec![tp(format!("{VALID} "))], cont("")),
        case("trailing tab", vec![tp(format!("{VALID}\t"))], cont("")),
        case(
            "tabs and spaces around",
            vec![tp(format!("\t {VALID} \t"))],
            cont(""),
        ),
        // --- tracestate without a usable traceparent (suite: tracestate_included_traceparent_missing)
        case("tracestate without traceparent", vec![ts("foo=1")], Restart),
        case(
            "tracestate with an invalid traceparent",
            vec![tp(with_version("ff")), ts("foo=1")],
            Restart,
        ),
        // --- tracestate headers (suite: tracestate_empty_header, multiple_headers_different_keys)
        case("tracestate empty", vec![tp(VALID), ts("")], cont("")),
        case(
            "tracestate then an empty line",
            vec![tp(VALID), ts("foo=1"), ts("")],
            cont("foo=1"),
        ),
        case(
            "an empty line then tracestate",
            vec![tp(VALID), ts(""), ts("foo=1")],
            cont("foo=1"),
        ),
        case(
            "tracestate over three lines",
            vec![
                tp(VALID),
                ts("foo=1,bar=2"),
                ts("rojo=1,congo=2"),
                ts("baz=3"),
            ],
            cont("foo=1,bar=2,rojo=1,congo=2,baz=3"),
        ),
        case(
            "empty list members",
            vec![tp(VALID), ts("foo=1,,bar=2, ,")],
            cont("foo=1,bar=2"),
        ),
        // --- duplicated keys (suite: tracestate_duplicated_keys)
        case(
            "duplicated key, same value",
            vec![tp(VALID), ts("foo=1,foo=1")],
            cont(""),
        ),
        case(
            "duplicated key, other value",
            vec![tp(VALID), ts("foo=1,foo=2")],
            cont(""),
        ),
        case(
            "duplicated key across lines",
            vec![tp(VALID), ts("foo=1"), ts("foo=1")],
            cont(""),
        ),
        // --- allowed characters (suite: tracestate_all_allowed_characters)
        case(
            "all allowed simple-key characters",
            vec![tp(VALID), ts("abcdefghijklmnopqrstuvwxyz0123456789_-*/=1")],
            cont("abcdefghijklmnopqrstuvwxyz0123456789_-*/=1"),
        ),
        case(
            "all allowed multi-tenant key characters",
            vec![
                tp(VALID),
                ts("abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/=1"),
            ],
            cont("abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/=1"),
        ),
        case(
            "all allowed value characters",
            vec![tp(VALID), ts(format!("foo={printable}"))],
            cont(&format!("foo={printable}")),
        ),
        case(
            "value with an inner space",
            vec![tp(VALID), ts("foo=a b")],
            cont("foo=a b"),
        ),
        // --- whitespace around members (suite: tracestate_ows_handling)
        case(
            "spaces and tabs around members",
            vec![tp(VALID), ts("foo=1 \t , \t bar=2, \t baz=3")],
            cont("foo=1,bar=2,baz=3"),
        ),
        case(
            "tabs and spaces around members",
            vec![tp(VALID), ts("foo=1\t \t,\t \tbar=2,\t \tbaz=3")],
            cont("foo=1,bar=2,baz=3"),
        ),
        case(
            "whitespace around the header",
            vec![tp(VALID), ts(" foo=1 ")],
            cont("foo=1"),
        ),
        // --- key syntax (suite: tracestate_key_illegal_characters, key_illegal_vendor_format)
        case("key with a space", vec![tp(VALID), ts("foo =1")], cont("")),
        case("key uppercase", vec![tp(VALID), ts("FOO=1")], cont("")),
        case("key with a dot", vec![tp(VALID), ts("foo.bar=1")], cont("")),
        case(
            "key starting with a digit",
            vec![tp(VALID), ts("1foo=1")],
            cont(""),
        ),
        case(
            "vendor key, empty system",
            vec![tp(VALID), ts("foo@=1,bar=2")],
            cont(""),
        ),
        case(
            "vendor key, empty tenant",
            vec![tp(VALID), ts("@foo=1,bar=2")],
            cont(""),
        ),
        case(
            "vendor key, double @",
            vec![tp(VALID), ts("foo@@bar=1,bar=2")],
            cont(""),
        ),
        case(
            "vendor key, two @",
            vec![tp(VALID), ts("foo@bar@baz=1,bar=2")],
            cont(""),
        ),
        case(
            "vendor key, tenant starting with a digit",
            vec![tp(VALID), ts("1tenant@sys=1")],
            cont("1tenant@sys=1"),
        ),
        case(
            "vendor key, system starting with a digit",
            vec![tp(VALID), ts("tenant@1sys=1")],
            cont(""),
        ),
        case("member without =", vec![tp(VALID), ts("foo")], cont("")),
        // --- lengths (suite: tracestate_key_length_limit, value lengths from the grammar)
        case(
            "simple key of 256",
            vec![tp(VALID), ts(format!("foo=1,{}=1", "z".repeat(256)))],
            cont(&format!("foo=1,{}=1", "z".repeat(256))),
        ),
        case(
            "simple key of 257",
            vec![tp(VALID), ts(format!("foo=1,{}=1", "z".repeat(257)))],
            cont(""),
        ),
        case(
            "vendor key of 241@14",
            vec![
                tp(VALID),
                ts(format!("foo=1,{}@{}=1", "t".repeat(241), "v".repeat(14))),
            ],
            cont(&format!("foo=1,{}@{}=1", "t".repeat(241), "v".repeat(14))),
        ),
        case(
            "vendor tenant of 242",
            vec![tp(VALID), ts(format!("foo=1,{}@v=1", "t".repeat(242)))],
            cont(""),
        ),
        case(
            "vendor system of 15",
            vec![tp(VALID), ts(format!("foo=1,t@{}=1", "v".repeat(15)))],
            cont(""),
        ),
        case(
            "value of 256",
            vec![tp(VALID), ts(format!("foo={}", "x".repeat(256)))],
            cont(&format!("foo={}", "x".repeat(256))),
        ),
        case(
            "value of 257",
            vec![tp(VALID), ts(format!("foo={}", "x".repeat(257)))],
            cont(""),
        ),
        // --- value syntax (suite: tracestate_value_illegal_characters)
        case("value with =", vec![tp(VALID), ts("foo=bar=baz")], cont("")),
        case("empty value", vec![tp(VALID), ts("foo=,bar=3")], cont("")),
        case("value non-ASCII", vec![tp(VALID), ts("foo=ü")], cont("")),
        case(
            "value with DEL",
            vec![tp(VALID), ts("foo=a\u{7f}")],
            cont(""),
        ),
        // --- member count (suite: tracestate_member_count_limit)
        case(
            "32 members",
            vec![tp(VALID), ts(members(32))],
            cont(&members(32)),
        ),
        case("33 members", vec![tp(VALID), ts(members(33))], cont("")),
        case(
            "32 members over two lines",
            vec![
                tp(VALID),
                ts(members(16)),
                ts(members(32)
                    .split(',')
                    .skip(16)
                    .collect::<Vec<_>>()
                    .join(",")),
            ],
            cont(&members(32)),
        ),
        case(
            "33 members over two lines",
            vec![
                tp(VALID),
                ts(members(16)),
                ts(members(33)
                    .split(',')
                    .skip(16)
                    .collect::<Vec<_>>()
                    .join(",")),
            ],
            cont(""),
        ),
    ]
}

/// The trace id a continued context must keep (the case's first valid-looking one).
fn incoming_trace_id(case: &Case) -> Option<String> {
    case.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("traceparent"))
        .and_then(|(_, v)| TraceParent::parse(v))
        .map(|p| p.trace_id.to_string())
}

#[test]
fn every_w3c_case_through_the_api() {
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for case in &cases {
        let headers = case.headers.iter().map(|(n, v)| (*n, v.as_str()));
        let got = SpanContext::extract_from_headers(headers);
        match (&case.expect, got) {
            (Expect::Continue(state), Some(ctx)) => {
                assert_eq!(
                    Some(ctx.trace_id.to_string()),
                    incoming_trace_id(case),
                    "{}",
                    case.name
                );
                assert_eq!(ctx.trace_state.header(), state, "{}", case.name);
                // Round trip: what we propagate reads back to the same context.
                let again =
                    SpanContext::extract(&ctx.traceparent(), Some(ctx.trace_state.header()));
                assert_eq!(again.as_ref(), Some(&ctx), "{}: round trip", case.name);
            }
            (Expect::Restart, None) => {}
            (expect, got) => panic!("{}: expected {expect:?}, got {got:?}", case.name),
        }
    }
}

/// The child's view of its environment, as `lookout exec` set it.
fn child_sees(var: &str, case: &Case) -> Option<(String, String)> {
    let mut command = crate::util::lookout();
    command
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            "printf '%s\\n%s' \"$TRACEPARENT\" \"$TRACESTATE\"",
        ])
        .env_remove("TRACEPARENT")
        .env_remove("TRACE_CONTEXT")
        .env_remove("TRACESTATE")
        .env_remove(lookout::json::SPAN_LOG_ENV);
    for (name, value) in &case.headers {
        let name = if name.eq_ignore_ascii_case("traceparent") {
            var
        } else {
            "TRACESTATE"
        };
        command.env(name, value);
    }
    let output = command.output().ok()?;
    assert!(
        output.status.success(),
        "{}: {}",
        case.name,
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).ok()?;
    let (traceparent, tracestate) = text.split_once('\n')?;
    Some((traceparent.to_owned(), tracestate.to_owned()))
}

#[test]
fn every_w3c_case_through_lookout_exec_and_the_environment() {
    // An environment holds one value per variable and only these names: the cases about
    // header names or repeated headers belong to HTTP, not to this carrier.
    let single = |case: &&Case| {
        let traceparents = case
            .headers
            .iter()
            .filter(|(n, _)| *n == "traceparent")
            .count();
        let tracestates = case
            .headers
            .iter()
            .filter(|(n, _)| *n == "tracestate")
            .count();
        let standard_names = case
            .headers
            .iter()
            .all(|(n, _)| *n == "traceparent" || *n == "tracestate");
        traceparents <= 1
            && tracestates <= 1
            && standard_names
            && !case.headers.iter().any(|(_, v)| v.contains('\0'))
    };
    let cases = cases();
    let mut checked = 0;
    for case in cases.iter().filter(single) {
        for var in ["TRACEPARENT", "TRACE_CONTEXT"] {
            let (traceparent, tracestate) = child_sees(var, case).expect("child output");
            let child = TraceParent::parse(&traceparent)
                .unwrap_or_else(|| panic!("{}: child got {traceparent:?}", case.name));
            match &case.expect {
                Expect::Continue(state) => {
                    assert_eq!(
                        Some(child.trace_id.to_string()),
                        incoming_trace_id(case),
                        "{} via {var}",
                        case.name
                    );
                    assert_eq!(&tracestate, state, "{} via {var}", case.name);
                }
                Expect::Restart => {
                    assert_ne!(
                        Some(child.trace_id.to_string()),
                        incoming_trace_id(case),
                        "{} via {var}",
                        case.name
                    );
                    assert_ne!(
                        child.trace_id.to_string(),
                        TRACE_ID,
                        "{} via {var}",
                        case.name
                    );
                    assert_eq!(
                        tracestate, "",
                        "{} via {var}: tracestate must be dropped",
                        case.name
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 120, "{checked} environment checks");
}
