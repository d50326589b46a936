//! Helpers of the registry failure drills (included with `#[path]`; no tests of its own): a
//! load loop calling `Who.Am` through an XClient that records every outcome, and this
//! process's CPU time, to show that nothing spins while a registry is down.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rpcx::xclient::XClient;

/// Bound of one call of the load loops: a call that takes longer counts as failed.
pub const CALL_LIMIT: Duration = Duration::from_secs(10);
/// The most CPU (in cores) the process may use while a registry is down: far above what a
/// few call loops at 20 calls/s and idle retries cost, far below a spinning retry.
pub const OUTAGE_CPU_LIMIT: f64 = 0.25;

/// This process's CPU time (user + system, every thread), from `/proc/self/stat`.
pub fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux)");
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15, in clock ticks.
    let rest = &stat[stat.rfind(')').expect("stat format") + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64)
}

/// This process's CPU use over a stretch of wall time (an outage).
pub struct CpuMeter {
    cpu: Duration,
    wall: Instant,
}

impl CpuMeter {
    pub fn start() -> CpuMeter {
        CpuMeter {
            cpu: process_cpu(),
            wall: Instant::now(),
        }
    }

    /// Prints the CPU used since [`start`](Self::start) under `tag` and asserts that it stays
    /// under [`OUTAGE_CPU_LIMIT`] cores; returns the share of one core.
    pub fn check(self, tag: &str) -> f64 {
        let (cpu, wall) = (process_cpu() - self.cpu, self.wall.elapsed());
        let load = cpu.as_secs_f64() / wall.as_secs_f64();
        eprintln!(
            "{tag} over {wall:.1?} this process used {cpu:?} CPU = {:.1} % of one core \
             (every drill running meanwhile included)",
            load * 100.0
        );
        assert!(
            load < OUTAGE_CPU_LIMIT,
            "{tag} {:.1} % of a core while the registry was down: something spins",
            load * 100.0
        );
        load
    }
}

fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// What a load loop saw.
#[derive(Debug, Default)]
pub struct Calls {
    pub ok: usize,
    /// `"call N at T: error"` for every failed call.
    pub failed: Vec<String>,
    /// Answers per server name.
    pub by_server: BTreeMap<String, usize>,
    pub slowest: Duration,
}

/// Calls `Who.Am` through an XClient every `every` until stopped, recording every outcome.
pub struct CallLoop {
    calls: Arc<Mutex<Calls>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl CallLoop {
    pub fn start(xc: Arc<XClient>, every: Duration) -> CallLoop {
        let calls = Arc::new(Mutex::new(Calls::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, halt) = (Arc::clone(&calls), Arc::clone(&stop));
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut i: i64 = 0;
            while !halt.load(Ordering::Acquire) {
                let t = Instant::now();
                let r = tokio::time::timeout(CALL_LIMIT, xc.call::<_, String>("Am", &i)).await;
                let took = t.elapsed();
                {
                    let mut c = log.lock().unwrap();
                    c.slowest = c.slowest.max(took);
                    match r {
                        Ok(Ok(name)) => {
                            c.ok += 1;
                            *c.by_server.entry(name).or_default() += 1;
                        }
                        Ok(Err(e)) => c.failed.push(format!("call {i} at {:?}: {e}", t - start)),
                        Err(_) => c.failed.push(format!(
                            "call {i} at {:?}: no answer within {CALL_LIMIT:?}",
                            t - start
                        )),
                    }
                }
                i += 1;
                tokio::time::sleep(every).await;
            }
        });
        CallLoop { calls, stop, task }
    }

    /// Calls made so far (answered or failed).
    pub fn made(&self) -> usize {
        let c = self.calls.lock().unwrap();
        c.ok + c.failed.len()
    }

    /// Calls `name` answered so far.
    pub fn answered_by(&self, name: &str) -> usize {
        let c = self.calls.lock().unwrap();
        c.by_server.get(name).copied().unwrap_or(0)
    }

    /// Stops the loop, prints what it saw under `tag`, and asserts that no call failed and
    /// that each of `names` answered some.
    pub async fn finish_checked(self, tag: &str, names: &[&str]) -> Calls {
        let calls = self.finish().await;
        eprintln!(
            "{tag} {} calls answered ({:?}), slowest {:?}, {} failed",
            calls.ok,
            calls.by_server,
            calls.slowest,
            calls.failed.len()
        );
        assert!(
            calls.failed.is_empty(),
            "{tag} failed calls: {:#?}",
            calls.failed
        );
        for name in names {
            assert!(
                calls.by_server.get(*name).is_some_and(|&n| n > 0),
                "{tag} {name} answered no call"
            );
        }
        calls
    }

    pub async fn finish(self) -> Calls {
        self.stop.store(true, Ordering::Release);
        tokio::time::timeout(CALL_LIMIT * 2, self.task)
            .await
            .expect("the call loop ends within two call limits")
            .unwrap();
        Arc::try_unwrap(self.calls).unwrap().into_inner().unwrap()
    }
}
