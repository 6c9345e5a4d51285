//! `#[lookout::skill]` on the shapes of function people write: results with `?` and early
//! returns, plain values, methods, generics, `impl Trait`, async, panics.

use lookout::skills::Skills;
use serde_json::{Value, json};
use std::fmt::Display;

#[lookout::skill(
    name = "config.load",
    caller = "cli",
    agent = "loader",
    workflow = "boot"
)]
fn load(path: &str, strict: bool) -> Result<u32, std::num::ParseIntError> {
    if strict && path.is_empty() {
        return Ok(0);
    }
    let value: u32 = path.parse()?;
    Ok(value * 2)
}

#[lookout::skill]
fn plain<T: Display>(item: T, (a, b): (u8, u8)) -> String {
    format!("{item}{a}{b}")
}

#[lookout::skill(name = "numbers")]
fn numbers(up_to: u32) -> impl Iterator<Item = u32> {
    0..up_to
}

#[lookout::skill(name = "explodes")]
fn explodes(_why: &str) {
    panic!("boom");
}

struct Agent {
    prefix: String,
}

impl Agent {
    #[lookout::skill(name = "agent.greet")]
    fn greet(&self, r#who: &str) -> std::io::Result<String> {
        Ok(format!("{} {who}", self.prefix))
    }

    #[lookout::skill(name = "agent.fetch")]
    async fn fetch(&self, id: u32) -> Result<String, String> {
        tokio::task::yield_now().await;
        if id == 0 {
            return Err("no such id".into());
        }
        Ok(format!("{}-{id}", self.prefix))
    }
}

fn entries_of(skill: &str) -> Vec<Value> {
    let file = Skills::global().file().unwrap().read_entries().unwrap();
    file.into_iter().filter(|e| e["skill"] == skill).collect()
}

#[test]
fn the_attribute_times_every_shape_of_function() {
    let dir = tempfile::tempdir().unwrap();
    Skills::file_only(Some(dir.path())).install();

    assert_eq!(load("21", false), Ok(42));
    assert!(load("x", false).is_err(), "`?` returns the error");
    assert_eq!(load("", true), Ok(0), "an early return is the function's");
    let loads = entries_of("config.load");
    let statuses: Vec<&str> = loads
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["success", "failed", "success"]);
    assert_eq!(
        loads[0]["inputs"],
        json!({"arg_count": 2, "arg_names": ["path", "strict"]})
    );
    assert_eq!(
        (
            &loads[0]["caller"],
            &loads[0]["agent"],
            &loads[0]["workflow"]
        ),
        (&json!("cli"), &json!("loader"), &json!("boot"))
    );
    assert_eq!(
        loads[0]["inputs"].as_object().unwrap().len(),
        2,
        "argument values are never kept: only their count and names"
    );

    assert_eq!(plain("x", (1, 2)), "x12");
    assert_eq!(
        entries_of("plain")[0]["inputs"]["arg_names"],
        json!(["item", "_"])
    );
    assert_eq!(numbers(3).sum::<u32>(), 3);
    assert_eq!(entries_of("numbers")[0]["status"], "success");

    let agent = Agent {
        prefix: "hi".into(),
    };
    assert_eq!(agent.greet("ada").unwrap(), "hi ada");
    assert_eq!(
        entries_of("agent.greet")[0]["inputs"]["arg_names"],
        json!(["who"])
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(agent.fetch(7)).unwrap(), "hi-7");
    assert!(runtime.block_on(agent.fetch(0)).is_err());
    let fetches: Vec<Value> = entries_of("agent.fetch")
        .iter()
        .map(|e| e["status"].clone())
        .collect();
    assert_eq!(fetches, [json!("success"), json!("failed")]);

    assert!(std::panic::catch_unwind(|| explodes("test")).is_err());
    assert_eq!(entries_of("explodes")[0]["status"], "failed");
}
