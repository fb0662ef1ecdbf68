//! What `/proc` says of a running process, for tests that watch a
//! daemon's resources over time.

#![allow(dead_code)]

/// Its resident set (`VmRSS` of `/proc/PID/status`) in KiB; `None` once
/// it is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS")
}

/// A `KEY: N kB` line of `/proc/PID/status` (`RssAnon`: the process's
/// own memory; `RssFile`: pages of the binary and shared libraries, which
/// other processes share), in KiB.
pub fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.split(':').next() == Some(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How many file descriptors it has open (entries of `/proc/PID/fd`);
/// `None` once it is gone.
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}
