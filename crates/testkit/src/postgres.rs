//! A database of its own per test on the PostgreSQL server `LOOKOUT_TEST_POSTGRES`
//! names: a URL of a role that may create databases, e.g.
//! `postgres://lookout:lookout@127.0.0.1:5432/postgres` (`.ci/run` starts Debian's
//! PostgreSQL and makes it). Without the variable a test says so and passes, except
//! under `CI=true`, where it is a failure.

use postgres::{Client, NoTls};
use std::sync::atomic::{AtomicU64, Ordering};

/// A database created for one test, dropped at the end.
#[derive(Debug)]
pub struct Database {
    /// The server's URL the test was given.
    pub admin: String,
    /// The database's name.
    pub name: String,
    /// The database's URL.
    pub url: String,
}

impl Database {
    /// A new database, or `None` (said on stderr) when no server is configured outside
    /// CI.
    pub fn create() -> Option<Database> {
        let Ok(admin) = std::env::var("LOOKOUT_TEST_POSTGRES") else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "LOOKOUT_TEST_POSTGRES is not set: CI must run these tests against PostgreSQL"
            );
            eprintln!("skipped: LOOKOUT_TEST_POSTGRES is not set");
            return None;
        };
        static CREATED: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "lookout_test_{}_{}",
            std::process::id(),
            CREATED.fetch_add(1, Ordering::Relaxed)
        );
        let mut client = Client::connect(&admin, NoTls).expect("the test server answers");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let url = match admin.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("LOOKOUT_TEST_POSTGRES must be a URL ending in a database name"),
        };
        Some(Database { admin, name, url })
    }

    /// A connection to it.
    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).unwrap()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut client) = Client::connect(&self.admin, NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
