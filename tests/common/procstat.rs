//! What `/proc` says of a running process, for tests that watch a
//! daemon's resources over time.

#![allow(dead_code)]

/// Its resident set (`VmRSS` of `/proc/PID/status`) in KiB; `None` once
/// it is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How many file descriptors it has open (entries of `/proc/PID/fd`);
/// `None` once it is gone.
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}
