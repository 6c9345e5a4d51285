//! Which process wrote a record, told apart from a later one with the same pid: the
//! host, the pid, and the process's start time (in clock ticks since boot, from
//! `/proc/PID/stat`).

/// This process's start time, if the system says.
pub fn process_start() -> Option<u64> {
    start_of(std::process::id())
}

/// The start time of process `pid`, if it is running.
pub fn start_of(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')')? + 1..];
    // Field 22 overall; the 20th after the name.
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that started at `start` with `pid` is still running here.
pub fn is_alive(pid: u32, start: Option<u64>) -> bool {
    if !std::path::Path::new("/proc/self/stat").exists() {
        // No /proc, so no start times: only whether some process has the pid (EPERM: it
        // exists, and is not ours). A reused pid counts as alive: the run stays open.
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        let found = pid > 0 && unsafe { libc::kill(pid, 0) } == 0;
        let not_ours = std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        return found || (pid > 0 && not_ours);
    }
    match (start_of(pid), start) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Whether the process that recorded `body` (its `pid` and `process_start` fields) is
/// still running on this host.
pub fn recorder_alive(body: &serde_json::Map<String, serde_json::Value>) -> bool {
    let pid = body.get("pid").and_then(serde_json::Value::as_u64);
    let start = body
        .get("process_start")
        .and_then(serde_json::Value::as_u64);
    pid.and_then(|pid| u32::try_from(pid).ok())
        .is_some_and(|pid| is_alive(pid, start))
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_is_alive_and_a_dead_one_is_not() {
        let start = super::process_start();
        assert!(start.is_some());
        assert!(super::is_alive(std::process::id(), start));
        assert!(!super::is_alive(std::process::id(), start.map(|s| s + 1)));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!super::is_alive(pid, None));
    }
}
