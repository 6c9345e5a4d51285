//! Git context for runs: the repository, branch and commit a run works in, found by
//! asking `git` (bounded in time; no git or no repository means no fields, never an
//! error), and the web URLs of a repository and a commit on GitHub, GitLab and Bitbucket.

use super::RunError;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What `git` says about a working directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct GitContext {
    /// `remote.origin.url`, as configured (credentials removed).
    pub repo: Option<String>,
    /// The branch; `None` on a detached HEAD.
    pub branch: Option<String>,
    /// The full hash of HEAD.
    pub commit: Option<String>,
}

/// How long detection may take in all.
pub const DETECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks `git` about `dir`; `None` when git is missing, `dir` is not in a repository, or
/// `git` does not answer within `timeout`.
pub fn detect(dir: &Path, timeout: Duration) -> Option<GitContext> {
    detect_with(Path::new("git"), dir, timeout)
}

/// [`detect`] with the `git` program at `program`.
fn detect_with(program: &Path, dir: &Path, timeout: Duration) -> Option<GitContext> {
    let deadline = Instant::now() + timeout;
    let git = |args: &[&str]| git(program, dir, args, deadline);
    let commit = git(&["rev-parse", "--verify", "HEAD"])?;
    let branch = git(&["symbolic-ref", "--quiet", "--short", "HEAD"]);
    let repo = git(&["config", "--get", "remote.origin.url"]).map(|url| without_credentials(&url));
    Some(GitContext {
        repo,
        branch,
        commit: Some(commit),
    })
}

/// Runs `git ARGS` in `dir`; its trimmed output when it succeeds before `deadline`.
fn git(program: &Path, dir: &Path, args: &[&str], deadline: Instant) -> Option<String> {
    let mut child = Command::new(program)
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    let out = out.trim();
    (!out.is_empty()).then(|| out.to_owned())
}

/// `https://user:token@host/path` without `user:token@`.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) if scheme.starts_with("http") => format!("{scheme}://{}", &rest[at + 1..]),
        _ => url.to_owned(),
    }
}

/// Why no web URL can be built for a remote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The remote is not a URL or `git@host:path` form this knows.
    #[error("{0:?} is not a git remote URL (https://host/org/repo or git@host:org/repo)")]
    NotARemote(String),
    /// The host is not GitHub, GitLab or Bitbucket.
    #[error("no URL scheme is known for {0}: only github.com, gitlab.com and bitbucket.org")]
    UnknownHost(String),
}

/// The code hosts whose URLs are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
enum Host {
    /// github.com
    GitHub,
    /// gitlab.com
    GitLab,
    /// bitbucket.org
    Bitbucket,
}

/// A remote's host and `org/repo` path.
fn parse_remote(remote: &str) -> Result<(String, String), UrlError> {
    let not = || UrlError::NotARemote(remote.to_owned());
    let remote = remote.trim();
    let (host, path) = if let Some((_, rest)) = remote.split_once("://") {
        // https://host/path, ssh://git@host[:port]/path
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (authority, path) = rest.split_once('/').ok_or_else(not)?;
        let host = authority.split(':').next().unwrap_or(authority);
        (host.to_owned(), path.to_owned())
    } else if let Some((user_host, path)) = remote.split_once(':') {
        // git@host:org/repo.git
        let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
        (host.to_owned(), path.to_owned())
    } else {
        return Err(not());
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    if host.is_empty() || path.split('/').filter(|p| !p.is_empty()).count() < 2 {
        return Err(not());
    }
    Ok((host.to_ascii_lowercase(), path.to_owned()))
}

fn host_of(name: &str) -> Result<Host, UrlError> {
    match name {
        "github.com" | "www.github.com" => Ok(Host::GitHub),
        "gitlab.com" | "www.gitlab.com" => Ok(Host::GitLab),
        "bitbucket.org" | "www.bitbucket.org" => Ok(Host::Bitbucket),
        other => Err(UrlError::UnknownHost(other.to_owned())),
    }
}

/// The repository's web page for a remote URL (https or ssh).
pub fn repo_url(remote: &str) -> Result<String, UrlError> {
    let (host, path) = parse_remote(remote)?;
    host_of(&host)?;
    Ok(format!("https://{host}/{path}"))
}

/// The web page of commit `hash` in the repository at `remote`.
pub fn commit_url(remote: &str, hash: &str) -> Result<String, UrlError> {
    let (host, path) = parse_remote(remote)?;
    let segment = match host_of(&host)? {
        Host::GitHub => "commit",
        Host::GitLab => "-/commit",
        Host::Bitbucket => "commits",
    };
    Ok(format!("https://{host}/{path}/{segment}/{hash}"))
}

/// Checks a commit hash and source as seed 002 does; returns the hash in lowercase.
pub fn validate_commit(hash: &str, source: &str) -> Result<String, RunError> {
    let hash = hash.trim();
    let hex = hash.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex || !((7..=40).contains(&hash.len()) || hash.len() == 64) {
        return Err(RunError::Hash(hash.to_owned()));
    }
    if !matches!(source, "manual" | "llm" | "ci") {
        return Err(RunError::Source(source.to_owned()));
    }
    Ok(hash.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository in a temporary directory with one commit.
    fn repository(remote: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let status = Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "git {args:?}");
        };
        run(&["init", "-q", "-b", "main"]);
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        run(&["add", "a.txt"]);
        run(&["commit", "-q", "-m", "first"]);
        if let Some(remote) = remote {
            run(&["remote", "add", "origin", remote]);
        }
        dir
    }

    fn head(dir: &Path) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    #[test]
    fn detects_repository_branch_and_commit() {
        if lookout_testkit::require_tool("git", "Debian package git").is_none() {
            return;
        }
        let https = repository(Some("https://bot:s3cret@github.com/acme/agents.git"));
        let found = detect(https.path(), DETECT_TIMEOUT).unwrap();
        assert_eq!(
            found.repo.as_deref(),
            Some("https://github.com/acme/agents.git")
        );
        assert_eq!(found.branch.as_deref(), Some("main"));
        assert_eq!(found.commit, Some(head(https.path())));

        let ssh = repository(Some("git@gitlab.com:group/tool.git"));
        let found = detect(ssh.path(), DETECT_TIMEOUT).unwrap();
        assert_eq!(found.repo.as_deref(), Some("git@gitlab.com:group/tool.git"));

        // Detached HEAD: a commit, no branch.
        let detached = repository(None);
        let commit = head(detached.path());
        let status = Command::new("git")
            .arg("-C")
            .arg(detached.path())
            .args(["checkout", "-q", "--detach", &commit])
            .status()
            .unwrap();
        assert!(status.success());
        let found = detect(detached.path(), DETECT_TIMEOUT).unwrap();
        assert_eq!((found.branch, found.repo), (None, None));
        assert_eq!(found.commit, Some(commit));

        let plain = tempfile::tempdir().unwrap();
        assert_eq!(
            detect(plain.path(), DETECT_TIMEOUT),
            None,
            "not a repository"
        );
        let missing = plain.path().join("no-git-here");
        assert_eq!(
            detect_with(&missing, https.path(), DETECT_TIMEOUT),
            None,
            "no git"
        );
    }

    #[test]
    fn commits_are_validated_as_seed_002_does() {
        assert_eq!(validate_commit("A1B2C3D", "llm"), Ok("a1b2c3d".into()));
        assert!(validate_commit(&"f".repeat(64), "ci").is_ok());
        for bad in ["a1b2c3", "xyz1234", &"a".repeat(41)] {
            assert!(
                matches!(validate_commit(bad, "manual"), Err(RunError::Hash(_))),
                "{bad}"
            );
        }
        assert_eq!(
            validate_commit("a1b2c3d", "robot"),
            Err(RunError::Source("robot".into()))
        );
    }

    #[test]
    fn urls_for_the_three_hosts_from_https_and_ssh_remotes() {
        let hash = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
        for (remote, repo, commit) in [
            (
                "https://github.com/acme/agents.git",
                "https://github.com/acme/agents",
                format!("https://github.com/acme/agents/commit/{hash}"),
            ),
            (
                "git@github.com:acme/agents.git",
                "https://github.com/acme/agents",
                format!("https://github.com/acme/agents/commit/{hash}"),
            ),
            (
                "ssh://git@github.com:22/acme/agents.git",
                "https://github.com/acme/agents",
                format!("https://github.com/acme/agents/commit/{hash}"),
            ),
            (
                "https://gitlab.com/group/sub/tool",
                "https://gitlab.com/group/sub/tool",
                format!("https://gitlab.com/group/sub/tool/-/commit/{hash}"),
            ),
            (
                "git@gitlab.com:group/tool.git",
                "https://gitlab.com/group/tool",
                format!("https://gitlab.com/group/tool/-/commit/{hash}"),
            ),
            (
                "https://bitbucket.org/team/repo.git",
                "https://bitbucket.org/team/repo",
                format!("https://bitbucket.org/team/repo/commits/{hash}"),
            ),
            (
                "git@bitbucket.org:team/repo.git",
                "https://bitbucket.org/team/repo",
                format!("https://bitbucket.org/team/repo/commits/{hash}"),
            ),
        ] {
            assert_eq!(repo_url(remote).as_deref(), Ok(repo), "{remote}");
            assert_eq!(commit_url(remote, hash), Ok(commit), "{remote}");
        }
        assert_eq!(
            commit_url("git@git.example.com:acme/agents.git", hash),
            Err(UrlError::UnknownHost("git.example.com".into()))
        );
        assert!(matches!(
            repo_url("not a remote"),
            Err(UrlError::NotARemote(_))
        ));
        assert!(matches!(
            repo_url("https://github.com/onlyorg"),
            Err(UrlError::NotARemote(_))
        ));
    }

    #[test]
    fn credentials_are_removed_from_https_remotes() {
        assert_eq!(
            without_credentials("https://bot:s3cret@github.com/acme/agents.git"),
            "https://github.com/acme/agents.git"
        );
        assert_eq!(
            without_credentials("git@github.com:acme/agents.git"),
            "git@github.com:acme/agents.git"
        );
    }
}
