//! Child processes that are always stopped: a test that fails or panics still kills every
//! process it started (the whole process group), so nothing holds CI's output open.

use std::process::{Child, Command};

/// A child started in its own process group, killed with its descendants on drop.
pub struct Guard {
    child: Child,
}

impl Guard {
    pub fn spawn(mut command: Command) -> std::io::Result<Guard> {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        Ok(Guard {
            child: command.spawn()?,
        })
    }

    /// The child's stdin and stdout, when it was spawned with both piped.
    pub fn take_pipes(&mut self) -> Option<(std::process::ChildStdin, std::process::ChildStdout)> {
        Some((self.child.stdin.take()?, self.child.stdout.take()?))
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Ok(pgid) = i32::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: killpg only sends a signal; the group is the one this guard created.
        unsafe {
            libc::killpg(pgid, libc::SIGTERM);
        }
        for _ in 0..50 {
            if !self.running() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // SAFETY: as above; SIGKILL for anything that ignored SIGTERM.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Set in a test's own process by [`alone`], to the test's name.
const ALONE: &str = "SESSIONS_TESTS_ALONE";

/// Runs the calling test in a process of its own, for a test that changes what a whole process
/// shares (environment variables, a log subscriber) while the others run in parallel.
///
/// `test` is the test's path as the harness names it, e.g.
/// `concat!(module_path!(), "::name_of_the_test")` (the crate's name, the first segment, is
/// dropped). In the test's own process this returns `true`: go on with the test. Anywhere else
/// it runs this same test binary for exactly that test, alone, waits (at most `timeout`), shows
/// its output, panics unless that one test ran and passed, and returns `false`: the test is done.
pub fn alone(test: &str, timeout: std::time::Duration) -> bool {
    use std::io::Read;
    let name = test.split_once("::").map_or(test, |(_, rest)| rest);
    if std::env::var(ALONE).as_deref() == Ok(name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = std::process::Command::new(exe)
        .args([name, "--exact", "--test-threads=1"])
        .env(ALONE, name)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the test binary again");
    let pipe = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = from.read_to_string(&mut text);
            text
        })
    };
    let out = pipe(Box::new(child.stdout.take().expect("stdout")));
    let err = pipe(Box::new(child.stderr.take().expect("stderr")));
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait().expect("wait for the test's process") {
            Some(status) => break Some(status),
            None if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    // Under the harness's capture, shown only when this test fails.
    println!("{out}");
    eprintln!("{err}");
    let status = status.unwrap_or_else(|| panic!("{name} did not finish in {timeout:?}"));
    assert!(status.success(), "{name} failed in its own process");
    assert!(
        out.contains("running 1 test") && out.contains(&format!("test {name} ... ok")),
        "{name} did not run in its own process (a wrong name runs nothing)"
    );
    false
}
