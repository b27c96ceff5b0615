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
