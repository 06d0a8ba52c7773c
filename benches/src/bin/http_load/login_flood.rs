//! The `login-flood` scenario: can a flood of logins with random emails
//! (each one a password hash for the server, or a cheap 503 once it sheds
//! load) stall the requests that do no hashing, or every login?
//!
//! Two phases of the same length on the same server: idle, then with
//! [`FLOOD_CONNECTIONS`] connections posting random-email logins. In both,
//! `GET /me` runs at the usual connections while a prober signs the bench
//! account in one login at a time, as a person would. The figures of the
//! flood phase are reported as ratios to the idle phase of the same run.
//!
//! All traffic comes from the loopback, which the server trusts as a proxy:
//! the flood says it is from [`FLOOD_FROM`], the prober from [`PROBE_FROM`]
//! (`X-Forwarded-For`), as one flooding source and one user elsewhere.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::targets::{EMAIL, PASSWORD, Running};
use crate::wrk::{self, Load, Measured};
use crate::{BoxError, Options};

/// Connections of the flood.
pub const FLOOD_CONNECTIONS: usize = 500;
/// The client address the flood is sent as.
pub const FLOOD_FROM: &str = "198.51.100.66";
/// The client address the prober is sent as.
pub const PROBE_FROM: &str = "203.0.113.5";
/// Pause between two logins of the prober.
const PROBE_PAUSE: Duration = Duration::from_millis(100);

/// The legitimate logins of one phase.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// Latency of every login, ms, sorted.
    pub latencies_ms: Vec<f64>,
    /// Answered 200.
    pub ok: usize,
    /// Answered 503 `server_busy` (shed; a client retries).
    pub busy: usize,
    /// Anything else.
    pub other: usize,
}

impl Probe {
    /// The `q` quantile (0–1) of the latencies, ms.
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.latencies_ms.len();
        if n == 0 {
            return f64::NAN;
        }
        // Nearest rank; `n` is small, the cast is exact.
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.latencies_ms[rank - 1]
    }
}

/// What one run of the scenario measured.
#[derive(Debug, Clone)]
pub struct Figures {
    /// `/me` without the flood.
    pub me_idle: Measured,
    /// `/me` during the flood.
    pub me_flood: Measured,
    /// Legitimate logins without the flood.
    pub login_idle: Probe,
    /// Legitimate logins during the flood.
    pub login_flood: Probe,
    /// The flood itself.
    pub flood: Measured,
}

/// Runs both phases against `server`.
pub async fn run(
    options: &Options,
    scripts: &Path,
    client: &reqwest::Client,
    server: &Running,
) -> Result<Figures, BoxError> {
    let routes = server.target.routes();
    let me = Load {
        url: format!("{}{}", server.base, routes.me),
        script: "get.lua",
        connections: options.connections,
        duration: options.duration,
        env: vec![("BEARER", server.access.clone())],
    };
    let login_url = format!("{}{}", server.base, routes.login);
    let warm = Load {
        duration: Duration::from_secs(1),
        env: me.env.clone(),
        url: me.url.clone(),
        ..me
    };
    wrk::run(scripts, &warm).await?;

    let (me_idle, login_idle) = tokio::join!(
        wrk::run(scripts, &me),
        probe(client, &login_url, options.duration)
    );

    // The flood outlasts the measurement on both ends.
    let flood = Load {
        url: login_url.clone(),
        script: "random_login.lua",
        connections: FLOOD_CONNECTIONS,
        duration: options.duration + Duration::from_secs(2),
        env: vec![
            ("RUN_ID", format!("{}", std::process::id())),
            ("FLOOD_FROM", FLOOD_FROM.to_owned()),
        ],
    };
    let flooding = {
        let scripts = scripts.to_owned();
        tokio::spawn(async move { wrk::run(&scripts, &flood).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (me_flood, login_flood) = tokio::join!(
        wrk::run(scripts, &me),
        probe(client, &login_url, options.duration)
    );
    let flood = flooding.await.map_err(|e| e.to_string())??;
    Ok(Figures {
        me_idle: me_idle?,
        me_flood: me_flood?,
        login_idle: login_idle?,
        login_flood: login_flood?,
        flood,
    })
}

/// Signs the bench account in, one login at a time, for `duration`.
async fn probe(client: &reqwest::Client, url: &str, duration: Duration) -> Result<Probe, BoxError> {
    let body = serde_json::json!({"email": EMAIL, "password": PASSWORD}).to_string();
    let end = Instant::now() + duration;
    let mut probe = Probe::default();
    while Instant::now() < end {
        let started = Instant::now();
        let status = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-forwarded-for", PROBE_FROM)
            .body(body.clone())
            .send()
            .await?
            .status()
            .as_u16();
        probe
            .latencies_ms
            .push(started.elapsed().as_secs_f64() * 1e3);
        match status {
            200 => probe.ok += 1,
            503 => probe.busy += 1,
            _ => probe.other += 1,
        }
        tokio::time::sleep(PROBE_PAUSE).await;
    }
    probe.latencies_ms.sort_by(f64::total_cmp);
    Ok(probe)
}

/// Prints the scenario's table: absolute figures and flood/idle ratios.
pub fn report(results: &[(String, String, Figures)]) {
    if results.is_empty() {
        return;
    }
    println!(
        "\nlogin-flood: {FLOOD_CONNECTIONS} connections of random-email logins; \
         ratios are flood / idle of the same run\n"
    );
    println!(
        "| engine | server | /me p99 idle ms | /me p99 flood ms | ratio | login p50 idle ms | login p50 flood ms | ratio | login p99 flood ms | logins ok / shed / other (flood) | flood req/s | flood non-2xx |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |");
    for (engine, server, f) in results {
        let (idle, flood) = (&f.login_idle, &f.login_flood);
        println!(
            "| {engine} | {server} | {:.2} | {:.2} | {:.1}x | {:.1} | {:.1} | {:.1}x | {:.1} | {} / {} / {} | {:.0} | {} |",
            f.me_idle.p99_ms,
            f.me_flood.p99_ms,
            f.me_flood.p99_ms / f.me_idle.p99_ms,
            idle.quantile(0.5),
            flood.quantile(0.5),
            flood.quantile(0.5) / idle.quantile(0.5),
            flood.quantile(0.99),
            flood.ok,
            flood.busy,
            flood.other,
            f.flood.rps,
            f.flood.non2xx + f.flood.errors,
        );
    }
}
