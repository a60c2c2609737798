//! CPU time from `/proc`, in the kernel's clock ticks: the whole machine's and one
//! process's. The long drain and the scale-out say with it how busy the machine was while
//! they ran (on a shared 2-core machine other processes' work is part of every figure).

/// The machine's CPU time so far, over all cores: (all ticks, idle ticks).
pub fn machine_ticks() -> (u64, u64) {
    // "cpu  user nice system idle iowait irq softirq steal ...".
    let fields: Vec<u64> = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().next().map(str::to_string))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let at = |i: usize| fields.get(i).copied().unwrap_or(0);
    (fields.iter().sum(), at(3) + at(4))
}

/// `utime + stime + cutime + cstime` of a process (`self` or a pid): its own CPU time and
/// its reaped children's (a postmaster reaps the backends of closed connections).
pub fn process_ticks(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // "pid (comm) state ppid ...": utime is the 12th field after the ')'.
    stat.rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(4)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

/// The machine's cores.
pub fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
}

/// How many cores `ticks` kept busy while the machine counted `machine` ticks in all.
pub fn share(ticks: u64, machine: u64) -> f64 {
    cores() * ticks as f64 / machine.max(1) as f64
}

/// Cores busy between two [`machine_ticks`] readings.
pub fn busy_between(before: (u64, u64), after: (u64, u64)) -> f64 {
    let all = after.0.saturating_sub(before.0);
    share(all.saturating_sub(after.1.saturating_sub(before.1)), all)
}
