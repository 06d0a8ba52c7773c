//! HTTP load harness: authkit's example servers beside the reference peer
//! (Django + DRF + SimpleJWT with rotation and blacklist), driven by the
//! same load generator (`wrk`), with the same connections, on the same
//! database engine, alternating in one run.
//!
//! ```sh
//! cargo build --release -p axum-server -p authkit-actix-server -p authkit-benches
//! target/release/http_load --peer ../peers/django-simplejwt --db sqlite,postgres
//! ```
//!
//! Options (all optional):
//! - `--server NAME=BINARY` (repeatable; default the axum and actix
//!   example servers under `target/release/`);
//! - `--peer DIR` the peer's folder, `--peer-venv DIR` its virtualenv
//!   (default `DIR/venv`); without `--peer` only authkit runs;
//! - `--db sqlite,postgres` engines (PostgreSQL from
//!   `AUTHKIT_BENCH_POSTGRES_URL`, default
//!   `postgres://postgres@127.0.0.1:5432/postgres`: a database per server
//!   is created and dropped);
//! - `--seconds N` per measurement (10), `--connections N` (64),
//!   `--login-connections N` for the hashing routes (16), `--runs N` (1),
//!   `--scenarios floor,me,refresh,login,register,flood,memory,login-flood`.
//!
//! Scenarios: the framework floor (authkit: the example's bare
//! `GET /api/ping`; peer: DRF's `/hello/drf/`), `me`, `refresh` (each
//! connection follows its own rotation chain), `login` and `register`
//! (one argon2id hash each, both sides at m=19 MiB t=2 p=1), `flood`
//! (`me` while a login flood runs beside it) and `memory` (`me` at 1,000
//! connections, authkit only). `login-flood` (authkit only, its own table)
//! floods the server with random-email logins from 500 connections and
//! reports `/me` p99 and a legitimate login's latency against an idle
//! phase of the same run (see `login_flood.rs`). Each row prints requests/s, p50, p99, peak
//! RSS of the server's processes, and the ratios to the peer and to the
//! server's own floor; the end checks the targets of `benches/README.md`.

#![allow(clippy::print_stdout)]

mod login_flood;
mod rss;
mod targets;
mod wrk;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use targets::{EMAIL, Engine, Kind, PASSWORD, Running, Target};
use wrk::{Load, Measured};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every scenario, in the order they run.
const SCENARIOS: [&str; 8] = [
    "floor",
    "me",
    "refresh",
    "login",
    "register",
    "flood",
    "memory",
    "login-flood",
];

struct Options {
    targets: Vec<Target>,
    engines: Vec<Engine>,
    scenarios: Vec<String>,
    duration: Duration,
    connections: usize,
    login_connections: usize,
    runs: usize,
    admin_url: String,
}

/// One measurement row.
#[derive(Clone)]
struct Row {
    engine: Engine,
    scenario: String,
    target: String,
    figures: Measured,
    rss_mib: f64,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let options = parse(std::env::args().skip(1).collect())?;
    // reqwest's rustls (enabled across the workspace) needs a provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("wrk");
    let work = std::env::temp_dir().join(format!("authkit-load-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;

    let bound = argon2_bound().await?;
    let mut rows = Vec::new();
    let mut floods = Vec::new();
    for &engine in &options.engines {
        let mut running = Vec::new();
        for target in &options.targets {
            running.push(
                target
                    .start(engine, &work, &options.admin_url, &client)
                    .await?,
            );
        }
        for scenario in &options.scenarios {
            for run in 0..options.runs {
                // Alternate who goes first, so drift in the machine's
                // state does not favour one side.
                let mut order: Vec<&Running> = running.iter().collect();
                if run % 2 == 1 {
                    order.reverse();
                }
                for server in order {
                    let authkit_only = matches!(scenario.as_str(), "memory" | "login-flood");
                    if authkit_only && server.target.is_peer() {
                        continue;
                    }
                    if scenario == "login-flood" {
                        let figures = login_flood::run(&options, &scripts, &client, server)
                            .await
                            .map_err(|e| format!("{scenario} on {}: {e}", server.target.name))?;
                        println!(
                            "  {:<8} {:<11} {:<10} /me p99 {:.2} -> {:.2} ms, login p50 {:.1} -> {:.1} ms",
                            engine.name(),
                            scenario,
                            server.target.name,
                            figures.me_idle.p99_ms,
                            figures.me_flood.p99_ms,
                            figures.login_idle.quantile(0.5),
                            figures.login_flood.quantile(0.5),
                        );
                        floods.push((
                            engine.name().to_owned(),
                            server.target.name.clone(),
                            figures,
                        ));
                        continue;
                    }
                    let row = measure(&options, &scripts, &client, server, scenario)
                        .await
                        .map_err(|e| format!("{scenario} on {}: {e}", server.target.name))?;
                    println!(
                        "  {:<8} {:<9} {:<10} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  {:>6.1} MiB  non-2xx {}",
                        engine.name(),
                        scenario,
                        row.target,
                        row.figures.rps,
                        row.figures.p50_ms,
                        row.figures.p99_ms,
                        row.rss_mib,
                        row.figures.non2xx + row.figures.errors
                    );
                    rows.push(Row { engine, ..row });
                }
            }
        }
        for server in running {
            server.stop().await?;
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    report(&options, &median_rows(&rows), bound);
    login_flood::report(&floods);
    Ok(())
}

/// One scenario against one server.
async fn measure(
    options: &Options,
    scripts: &Path,
    client: &reqwest::Client,
    server: &Running,
    scenario: &str,
) -> Result<Row, BoxError> {
    let routes = server.target.routes();
    let url = |path: &str| format!("{}{path}", server.base);
    let get = |path: &str, connections: usize| Load {
        url: url(path),
        script: "get.lua",
        connections,
        duration: options.duration,
        env: vec![("BEARER", server.access.clone())],
    };
    let login = |duration: Duration| Load {
        url: url(routes.login),
        script: "post.lua",
        connections: options.login_connections,
        duration,
        env: vec![(
            "BODY",
            serde_json::json!({"email": EMAIL, "password": PASSWORD}).to_string(),
        )],
    };
    let load = match scenario {
        "floor" => get(routes.floor, options.connections),
        "me" | "flood" => get(routes.me, options.connections),
        "memory" => get(routes.me, 1000),
        "refresh" => {
            let tokens = server
                .refresh_tokens(client, options.connections * 2)
                .await?;
            Load {
                url: url(routes.refresh),
                script: "refresh.lua",
                connections: options.connections,
                duration: options.duration,
                env: vec![
                    ("TOKENS_FILE", tokens.display().to_string()),
                    ("REQUEST_FIELD", routes.refresh_request.to_owned()),
                    ("RESPONSE_FIELD", routes.refresh_response.to_owned()),
                ],
            }
        }
        "login" => login(options.duration),
        "register" => Load {
            url: url(routes.register),
            script: "register.lua",
            connections: options.login_connections,
            duration: options.duration,
            env: vec![
                ("RUN_ID", format!("{}", rand_id())),
                ("PASSWORD", PASSWORD.to_owned()),
            ],
        },
        other => return Err(format!("unknown scenario {other}").into()),
    };
    // A short warm-up of the same load (connections opened, caches and
    // pools filled) that is not recorded; the hashing routes need none.
    if matches!(scenario, "floor" | "me" | "memory") {
        let warm = Load {
            duration: Duration::from_secs(1),
            env: load.env.clone(),
            url: load.url.clone(),
            ..load
        };
        wrk::run(scripts, &warm).await?;
    }
    let sampler = rss::Sampler::start(server.pid);
    let figures = if scenario == "flood" {
        // The flood outlasts the measurement on both ends.
        let flood = login(options.duration + Duration::from_secs(2));
        let flooding = {
            let scripts = scripts.to_owned();
            tokio::spawn(async move { wrk::run(&scripts, &flood).await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        let measured = wrk::run(scripts, &load).await?;
        flooding.await.map_err(|e| e.to_string())??;
        measured
    } else {
        wrk::run(scripts, &load).await?
    };
    let rss_mib = sampler.finish().await;
    Ok(Row {
        engine: Engine::Sqlite,
        scenario: scenario.to_owned(),
        target: server.target.name.clone(),
        figures,
        rss_mib,
    })
}

/// The login ceiling: cores / one argon2id verification at authkit's
/// default parameters, measured here, before any load.
async fn argon2_bound() -> Result<f64, BoxError> {
    let hasher = authkit_core::password::PasswordHasher::with_defaults()?;
    let stored = hasher.hash(PASSWORD).await?;
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        hasher.verify(PASSWORD, Some(&stored)).await?;
    }
    let per_verify = started.elapsed().as_secs_f64() / f64::from(rounds);
    Ok(wrk::threads() as f64 / per_verify)
}

/// The median (by requests/s) of repeated runs of each (engine, scenario,
/// target).
fn median_rows(rows: &[Row]) -> Vec<Row> {
    let mut groups: BTreeMap<(usize, usize, String), Vec<Row>> = BTreeMap::new();
    for row in rows {
        let scenario = SCENARIOS
            .iter()
            .position(|s| *s == row.scenario)
            .unwrap_or(SCENARIOS.len());
        groups
            .entry((row.engine as usize, scenario, row.target.clone()))
            .or_default()
            .push(row.clone());
    }
    groups
        .into_values()
        .filter_map(|mut runs| {
            runs.sort_by(|a, b| a.figures.rps.total_cmp(&b.figures.rps));
            runs.get(runs.len() / 2).cloned()
        })
        .collect()
}

fn report(options: &Options, rows: &[Row], bound: f64) {
    let find = |engine: Engine, scenario: &str, target: &str| {
        rows.iter()
            .find(|r| r.engine == engine && r.scenario == scenario && r.target == target)
    };
    let peer = options.targets.iter().find(|t| t.is_peer());
    println!(
        "\n{} connections ({} for login/register), {} s per measurement, median of {} run(s)\n",
        options.connections,
        options.login_connections,
        options.duration.as_secs(),
        options.runs
    );
    println!(
        "| engine | scenario | server | req/s | p50 ms | p99 ms | peak RSS MiB | non-2xx | vs peer | vs own floor |"
    );
    println!("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in rows {
        let vs_peer = peer
            .filter(|p| p.name != row.target)
            .and_then(|p| find(row.engine, &row.scenario, &p.name))
            .map_or("—".to_owned(), |p| {
                format!(
                    "{:.1}x",
                    row.figures.rps / p.figures.rps.max(f64::MIN_POSITIVE)
                )
            });
        let vs_floor = find(row.engine, "floor", &row.target)
            .filter(|_| matches!(row.scenario.as_str(), "me" | "flood" | "memory"))
            .map_or("—".to_owned(), |f| {
                format!("{:.2}", row.figures.rps / f.figures.rps)
            });
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {} | {} |",
            row.engine.name(),
            row.scenario,
            row.target,
            row.figures.rps,
            row.figures.p50_ms,
            row.figures.p99_ms,
            row.rss_mib,
            row.figures.non2xx + row.figures.errors,
            vs_peer,
            vs_floor
        );
    }

    println!("\nTargets (argon2id bound here: {bound:.1} logins/s = cores / verify time):");
    for engine in &options.engines {
        for target in options.targets.iter().filter(|t| !t.is_peer()) {
            let get = |s: &str| find(*engine, s, &target.name).map(|r| r.figures);
            let peer_get = |s: &str| {
                peer.and_then(|p| find(*engine, s, &p.name))
                    .map(|r| r.figures.rps)
            };
            let mut checks = Vec::new();
            if let (Some(me), Some(p)) = (get("me"), peer_get("me")) {
                checks.push(format!("me {:.0}x peer (>= 30)", me.rps / p));
            }
            if let (Some(me), Some(floor)) = (get("me"), get("floor")) {
                checks.push(format!(
                    "me {:.0}% of floor (>= 70)",
                    100.0 * me.rps / floor.rps
                ));
            }
            if let (Some(r), Some(p)) = (get("refresh"), peer_get("refresh")) {
                checks.push(format!("refresh {:.0}x peer (>= 10)", r.rps / p));
            }
            if let Some(login) = get("login") {
                checks.push(format!(
                    "login {:.0}% of bound (>= 90)",
                    100.0 * login.rps / bound
                ));
            }
            if let (Some(me), Some(flood)) = (get("me"), get("flood")) {
                checks.push(format!(
                    "me p99 under flood {:.1}x idle (<= 3)",
                    flood.p99_ms / me.p99_ms
                ));
            }
            if let Some(row) = find(*engine, "memory", &target.name) {
                checks.push(format!(
                    "RSS at 1,000 connections {:.1} MiB (< 64)",
                    row.rss_mib
                ));
            }
            println!("- {} {}: {}", engine.name(), target.name, checks.join("; "));
        }
    }
}

fn rand_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn parse(args: Vec<String>) -> Result<Options, BoxError> {
    let mut servers = Vec::new();
    let mut peer_dir: Option<PathBuf> = None;
    let mut peer_venv: Option<PathBuf> = None;
    let mut options = Options {
        targets: Vec::new(),
        engines: vec![Engine::Sqlite],
        scenarios: SCENARIOS.iter().map(|s| (*s).to_owned()).collect(),
        duration: Duration::from_secs(10),
        connections: 64,
        login_connections: 16,
        runs: 1,
        admin_url: std::env::var("AUTHKIT_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--server" => {
                let v = value()?;
                let (name, binary) = v.split_once('=').ok_or("--server takes NAME=BINARY")?;
                servers.push(Target {
                    name: name.to_owned(),
                    kind: Kind::Authkit(PathBuf::from(binary)),
                });
            }
            "--peer" => peer_dir = Some(PathBuf::from(value()?)),
            "--peer-venv" => peer_venv = Some(PathBuf::from(value()?)),
            "--db" => {
                options.engines = value()?
                    .split(',')
                    .map(|e| match e {
                        "sqlite" => Ok(Engine::Sqlite),
                        "postgres" => Ok(Engine::Postgres),
                        other => Err(format!("unknown engine {other}")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--scenarios" => {
                options.scenarios = value()?.split(',').map(str::to_owned).collect();
                if let Some(bad) = options
                    .scenarios
                    .iter()
                    .find(|s| !SCENARIOS.contains(&s.as_str()))
                {
                    return Err(format!("unknown scenario {bad}").into());
                }
            }
            "--seconds" => options.duration = Duration::from_secs(value()?.parse()?),
            "--connections" => options.connections = value()?.parse()?,
            "--login-connections" => options.login_connections = value()?.parse()?,
            "--runs" => options.runs = value()?.parse::<usize>()?.max(1),
            other => return Err(format!("unknown option {other} (see the module docs)").into()),
        }
    }
    if servers.is_empty() {
        for (name, binary) in [
            ("axum", "target/release/axum-server"),
            ("actix", "target/release/authkit-actix-server"),
        ] {
            servers.push(Target {
                name: name.to_owned(),
                kind: Kind::Authkit(PathBuf::from(binary)),
            });
        }
    }
    if let Some(dir) = peer_dir {
        let venv = peer_venv.unwrap_or_else(|| dir.join("venv"));
        options.targets.push(Target {
            name: "peer".to_owned(),
            kind: Kind::Peer { dir, venv },
        });
    }
    options.targets.extend(servers);
    Ok(options)
}
