//! `diff`: three commits of a nightly agent, 30 runs each. One makes its `grep` tool 30%
//! slower and its LLM calls 40% costlier; one changes nothing (the same distributions,
//! other draws). The first is found as such; the second is no change.

use lookout_export::FinishedSpan;
use lookout_query::cost::Prices;
use lookout_query::diff::{self, DiffOptions, Side, Verdict};
use lookout_store::{Record, RecordKind, Store, StoreConfig};
use lookout_testkit::Rng;
use serde_json::json;
use std::time::{Duration, SystemTime};

/// A duration around `mean` seconds, +-25% noise.
fn around(rng: &mut Rng, mean: f64) -> Duration {
    Duration::from_secs_f64(mean * (0.75 + 0.5 * rng.unit()))
}

fn span(trace: u128, id: u64, name: &str, start: SystemTime, length: Duration) -> FinishedSpan {
    let mut span = lookout_export::testing::span(trace, id, name);
    span.start_time = start;
    span.end_time = start + length;
    span
}

/// 30 runs at `commit`: the run's root span, a `grep` tool call, an LLM call.
fn runs(store: &Store, commit: &str, rng: &mut Rng, slow: f64, tokens: f64, first_trace: u128) {
    let start = SystemTime::now() - Duration::from_secs(3600);
    for i in 0..30u128 {
        let trace = first_trace + i;
        let at = start + Duration::from_secs(i as u64 * 10);
        let mut llm = span(trace, 3, "chat claude", at, around(rng, 2.0));
        llm.attributes = vec![
            lookout_export::KeyValue::new("gen_ai.request.model", "claude-sonnet-4-20250514"),
            lookout_export::KeyValue::new(
                "gen_ai.usage.input_tokens",
                (1000.0 * tokens * (0.8 + 0.4 * rng.unit())) as i64,
            ),
            lookout_export::KeyValue::new(
                "gen_ai.usage.output_tokens",
                (300.0 * tokens * (0.8 + 0.4 * rng.unit())) as i64,
            ),
        ];
        store.record_spans([
            span(trace, 1, "run nightly", at, around(rng, 5.0)),
            span(trace, 2, "execute_tool grep", at, around(rng, 0.4 * slow)),
            llm,
        ]);
        store.record(Record::new(
            RecordKind::Run,
            json!({"run_id": format!("{commit}-{i}"), "agent_name": "nightly",
                   "job_type": "nightly", "status": "success",
                   "trace_id": format!("{trace:032x}"), "git_commit_hash": commit}),
        ));
    }
}

#[test]
fn a_slower_costlier_commit_is_found_and_noise_is_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()));
    let mut rng = Rng(2026);
    let (base, changed, noise) = (
        "aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111",
        "bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222",
        "cccc3333cccc3333cccc3333cccc3333cccc3333",
    );
    runs(&store, base, &mut rng, 1.0, 1.0, 0x1000);
    runs(&store, changed, &mut rng, 1.3, 1.4, 0x2000);
    runs(&store, noise, &mut rng, 1.0, 1.0, 0x3000);
    store.flush(Duration::from_secs(30)).unwrap();
    let conn = lookout_store::open_reader(&store.config().db_path).unwrap();
    let prices = Prices::bundled();
    let side = |commit: &str| {
        diff::samples(&conn, &Side::Commit(commit[..7].to_owned()), None, &prices).unwrap()
    };
    let options = DiffOptions::default();

    let found = diff::compare(&side(changed), &side(base), &options);
    let verdicts = |name: &str, comparisons: &[diff::Comparison]| {
        comparisons
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .verdicts
            .clone()
    };
    assert_eq!(verdicts("execute_tool grep", &found), [Verdict::Slower]);
    assert_eq!(verdicts("chat claude", &found), [Verdict::Costlier]);
    assert_eq!(verdicts("run nightly", &found), [Verdict::NoChange]);
    let grep = found
        .iter()
        .find(|c| c.name == "execute_tool grep")
        .unwrap();
    let change = grep.this.p50 / grep.against.p50 - 1.0;
    assert!((0.15..0.45).contains(&change), "about 30% slower: {change}");
    assert_eq!((grep.this.count, grep.against.count), (30, 30));

    let quiet = diff::compare(&side(noise), &side(base), &options);
    for comparison in &quiet {
        assert_eq!(comparison.verdicts, [Verdict::NoChange], "{comparison:?}");
    }
    // A name filter, and too few executions to tell.
    let few = diff::samples(
        &conn,
        &Side::Commit("bbbb222".into()),
        Some("grep"),
        &prices,
    )
    .unwrap();
    assert_eq!(few.keys().collect::<Vec<_>>(), ["execute_tool grep"]);
    let mut one = few.clone();
    one.get_mut("execute_tool grep")
        .unwrap()
        .durations
        .truncate(3);
    one.get_mut("execute_tool grep").unwrap().failures = 0;
    let told = diff::compare(&one, &side(base), &options);
    assert_eq!(told[0].verdicts, [Verdict::TooFew]);
    assert!(diff::commit_has_runs(&conn, "AAAA111").unwrap());
    assert!(!diff::commit_has_runs(&conn, "dddd444").unwrap());
}
