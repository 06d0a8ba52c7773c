//! Runs `wrk` (the one load generator used for every server) and reads the
//! line our Lua reporter prints at the end of a run.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::BoxError;

/// One `wrk` invocation.
pub struct Load<'a> {
    /// Full URL, path included.
    pub url: String,
    /// Script in `benches/wrk/`.
    pub script: &'a str,
    /// Open connections.
    pub connections: usize,
    /// How long to drive the load.
    pub duration: Duration,
    /// Extra environment for the script.
    pub env: Vec<(&'static str, String)>,
}

/// What one run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measured {
    /// Completed requests per second.
    pub rps: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Responses outside 2xx/3xx.
    pub non2xx: u64,
    /// Socket errors and timeouts.
    pub errors: u64,
}

/// Threads `wrk` uses: one per core, like the servers.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Drives `load` to the end and returns its figures.
pub async fn run(scripts: &Path, load: &Load<'_>) -> Result<Measured, BoxError> {
    let threads = threads().min(load.connections.max(1));
    let output = Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("30s")
        .arg("-s")
        .arg(scripts.join(load.script))
        .arg(&load.url)
        .env("WRK_SCRIPTS", scripts)
        .env("WRK_THREADS", threads.to_string())
        .envs(load.env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .map_err(|e| format!("cannot run wrk (install it, e.g. `apt-get install wrk`): {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| {
            format!(
                "wrk printed no result for {}: {}{}",
                load.url,
                stdout,
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let v: Value = serde_json::from_str(line)?;
    let num = |k: &str| v[k].as_f64().unwrap_or_default();
    Ok(Measured {
        rps: num("rps"),
        p50_ms: num("p50_ms"),
        p99_ms: num("p99_ms"),
        non2xx: v["non2xx"].as_u64().unwrap_or_default(),
        errors: v["errors"].as_u64().unwrap_or_default(),
    })
}
