//! The query engine on a fleet's PostgreSQL database (the store's log followed into it)
//! answers as on the SQLite index: every aggregation, from the points and from the
//! rollups, with and without label filters. The server is `LOOKOUT_TEST_POSTGRES`
//! ([`lookout_testkit::postgres`]).

use lookout_query::Aggregation;
use lookout_query::query::{self, Query, SeriesResult, Source};
use lookout_store::metrics::{PointValue, point_record};
use lookout_store::postgres::{FollowConfig, Follower, Reader};
use lookout_store::{Store, StoreConfig};
use lookout_testkit::postgres::Database;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MINUTE: i64 = 60_000_000_000;

/// Whether two answers are alike: the same series and times, values to 1e-9 (sums over
/// rollups merged in other transactions add in another order).
fn alike(a: &[SeriesResult], b: &[SeriesResult]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.labels == y.labels
                && x.kind == y.kind
                && x.points.len() == y.points.len()
                && x.points.iter().zip(&y.points).all(|(p, q)| {
                    p.time == q.time && (p.value - q.value).abs() <= 1e-9 * p.value.abs().max(1.0)
                })
        })
}

#[test]
fn queries_on_postgres_answer_as_on_sqlite() {
    let Some(db) = Database::create() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    // Two hours of points, a minute apart, from the start of an hour two hours ago: a
    // counter per agent and a gauge.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let hour = 60 * MINUTE;
    let start = (now / hour - 2) * hour;
    let at = |nanos: i64| UNIX_EPOCH + Duration::from_nanos(nanos as u64);
    for i in 0..120 {
        let time = start + i * MINUTE + 7_000_000_000;
        for agent in ["a", "b"] {
            let labels = BTreeMap::from([("agent".to_owned(), agent.to_owned())]);
            let total = (i * i % 37 + i * 3) as f64 + if agent == "a" { 0.5 } else { 0.0 };
            store.record(point_record(
                "calls_total",
                "counter",
                &labels,
                PointValue::Number(total),
                at(time),
            ));
            let gauge = ((i * 7919) % 101) as f64 / 10.0;
            store.record(point_record(
                "utilization",
                "gauge",
                &labels,
                PointValue::Number(gauge),
                at(time),
            ));
        }
    }
    store.flush(Duration::from_secs(10)).unwrap();
    let follower = Follower::start(FollowConfig::new(&config, db.url.clone()));
    assert!(
        follower.caught_up(Duration::from_secs(30)),
        "{:?}",
        follower.status()
    );
    let sqlite = lookout_store::open_reader(&config.db_path).unwrap();
    let mut pg = Reader::connect(&db.url).unwrap();

    let mut answered = 0;
    for metric in ["calls_total", "utilization"] {
        for aggregation in [
            Aggregation::Avg,
            Aggregation::Sum,
            Aggregation::Min,
            Aggregation::Max,
            Aggregation::Count,
            Aggregation::Percentile(950),
        ] {
            for (source, interval) in [
                (Source::Points, 5 * MINUTE),
                (Source::Rollups, 10 * MINUTE),
                (Source::Auto, hour),
                (Source::Points, 90_000_000_000),
            ] {
                for agent in [None, Some("b")] {
                    let mut q = Query::new(metric, start, start + 2 * hour, aggregation, interval)
                        .source(source);
                    if let Some(agent) = agent {
                        q = q.label("agent", agent);
                    }
                    let lite = query::run(&sqlite, &q).unwrap();
                    let theirs = query::run(&mut pg, &q).unwrap();
                    assert!(alike(&lite, &theirs), "{q:?}\n{lite:?}\n{theirs:?}");
                    answered += lite.iter().map(|s| s.points.len()).sum::<usize>();
                }
            }
        }
        let q = Query::new(metric, start, start + 2 * hour, Aggregation::Avg, 1);
        assert_eq!(
            query::points(&sqlite, &q).unwrap(),
            query::points(&mut pg, &q).unwrap()
        );
    }
    assert!(answered > 1000, "the queries answer: {answered} points");
}
