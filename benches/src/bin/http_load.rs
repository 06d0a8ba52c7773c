//! HTTP load harness: starts a release build of an example server on
//! loopback and measures, with the same client and concurrency for each:
//!
//! - `GET /api/ping`: a bare JSON route of the same server (the floor);
//! - `GET /auth/me`: bearer verification + one store read;
//! - `POST /auth/token/refresh`: rotation (each worker follows its chain);
//! - `POST /auth/token`: login (one argon2id verification each);
//! - `GET /auth/me` again while a login flood runs beside it.
//!
//! ```sh
//! cargo build --release -p axum-server
//! cargo run --release -p authkit-benches --bin http_load -- [server-binary] [seconds] [concurrency]
//! ```
//!
//! Prints requests/s, p50 and p99 per scenario and each ratio to the floor.

#![allow(clippy::print_stdout)]

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

const PASSWORD: &str = "correct horse battery staple";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One scenario's outcome.
struct Figures {
    name: &'static str,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Figures {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let binary = args
        .next()
        .unwrap_or_else(|| "target/release/axum-server".to_owned());
    let seconds: u64 = args.next().map_or(Ok(10), |s| s.parse())?;
    let concurrency: usize = args.next().map_or(Ok(32), |s| s.parse())?;
    let duration = Duration::from_secs(seconds);

    let dir = std::env::temp_dir().join(format!("authkit-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = free_port().await?;
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(&binary, &dir, port).await?;
    // reqwest's rustls (enabled across the workspace) needs a provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()?;
    wait_ready(&client, &base).await?;

    // One account per worker, each with its own session chain.
    let mut sessions = Vec::new();
    for i in 0..concurrency {
        let email = format!("load{i}@example.com");
        let body = json!({"email": email, "password": PASSWORD});
        client
            .post(format!("{base}/auth/register"))
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
        let pair: Value = client
            .post(format!("{base}/auth/token"))
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        sessions.push((email, pair));
    }
    let tokens: Arc<Vec<(String, String, String)>> = Arc::new(
        sessions
            .into_iter()
            .map(|(email, pair)| {
                let field = |k: &str| pair[k].as_str().unwrap_or_default().to_owned();
                (email, field("access_token"), field("refresh_token"))
            })
            .collect(),
    );

    let mut results = Vec::new();
    results.push(
        run(
            "floor GET /api/ping",
            &client,
            &base,
            &tokens,
            duration,
            Scenario::Ping,
            None,
        )
        .await,
    );
    results.push(
        run(
            "GET /auth/me",
            &client,
            &base,
            &tokens,
            duration,
            Scenario::Me,
            None,
        )
        .await,
    );
    results.push(
        run(
            "POST /auth/token/refresh",
            &client,
            &base,
            &tokens,
            duration,
            Scenario::Refresh,
            None,
        )
        .await,
    );
    results.push(
        run(
            "POST /auth/token",
            &client,
            &base,
            &tokens,
            duration,
            Scenario::Login,
            None,
        )
        .await,
    );
    // /me beside a login flood: half the workers flood, half read.
    let flood = Arc::new(AtomicBool::new(true));
    let flooder = {
        let (client, base, tokens, flood) =
            (client.clone(), base.clone(), tokens.clone(), flood.clone());
        tokio::spawn(async move {
            run(
                "login flood",
                &client,
                &base,
                &tokens,
                Duration::from_secs(3600),
                Scenario::Login,
                Some(flood),
            )
            .await
        })
    };
    results.push(
        run(
            "GET /auth/me under login flood",
            &client,
            &base,
            &tokens,
            duration,
            Scenario::Me,
            None,
        )
        .await,
    );
    flood.store(false, Ordering::Relaxed);
    let _ = flooder.await;

    let _ = server.kill().await;
    let _ = std::fs::remove_dir_all(&dir);

    let floor = results[0].rps();
    println!("\n{binary}: {concurrency} concurrent clients, {seconds} s per scenario\n");
    println!("| scenario | req/s | p50 | p99 | errors | req/s vs floor |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for f in &results {
        println!(
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {} | {:.2} |",
            f.name,
            f.rps(),
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            f.errors,
            f.rps() / floor
        );
    }
    let idle_p99 = results[1].p99.as_secs_f64();
    let flood_p99 = results[4].p99.as_secs_f64();
    println!(
        "\n/auth/me p99 under login flood / idle: {:.2}",
        flood_p99 / idle_p99
    );
    Ok(())
}

#[derive(Clone, Copy)]
enum Scenario {
    Ping,
    Me,
    Refresh,
    Login,
}

/// Runs one scenario with one worker per session for `duration` (or until
/// `until` turns false).
async fn run(
    name: &'static str,
    client: &reqwest::Client,
    base: &str,
    tokens: &Arc<Vec<(String, String, String)>>,
    duration: Duration,
    scenario: Scenario,
    until: Option<Arc<AtomicBool>>,
) -> Figures {
    let started = Instant::now();
    let mut workers = Vec::new();
    let half = tokens.len() / 2;
    let range = match until {
        Some(_) => 0..half.max(1),
        None => 0..tokens.len(),
    };
    for i in range {
        let (client, base, tokens, until) = (
            client.clone(),
            base.to_owned(),
            tokens.clone(),
            until.clone(),
        );
        workers.push(tokio::spawn(async move {
            let (email, access, mut refresh) = tokens[i].clone();
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            loop {
                let keep_going = match &until {
                    Some(flag) => flag.load(Ordering::Relaxed),
                    None => started.elapsed() < duration,
                };
                if !keep_going {
                    break;
                }
                let t = Instant::now();
                let ok = match scenario {
                    Scenario::Ping => client
                        .get(format!("{base}/api/ping"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success()),
                    Scenario::Me => client
                        .get(format!("{base}/auth/me"))
                        .bearer_auth(&access)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success()),
                    Scenario::Refresh => match client
                        .post(format!("{base}/auth/token/refresh"))
                        .json(&json!({"refresh_token": refresh}))
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                            Ok(pair) => {
                                refresh = pair["refresh_token"]
                                    .as_str()
                                    .unwrap_or_default()
                                    .to_owned();
                                true
                            }
                            Err(_) => false,
                        },
                        _ => false,
                    },
                    Scenario::Login => client
                        .post(format!("{base}/auth/token"))
                        .json(&json!({"email": email, "password": PASSWORD}))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success()),
                };
                latencies.push(t.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        if let Ok((lat, err)) = w.await {
            all.extend(lat);
            errors += err;
        }
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Figures {
        name,
        requests: all.len(),
        errors,
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

async fn free_port() -> Result<u16, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(listener.local_addr()?.port())
}

/// The server with throttling off (the load comes from one IP) and
/// verification not required, on a fresh SQLite file.
async fn start(binary: &str, dir: &std::path::Path, port: u16) -> Result<Child, BoxError> {
    let mut command = Command::new(binary);
    command
        .current_dir(dir)
        .env("AUTHKIT_BIND", format!("127.0.0.1:{port}"))
        .env("AUTHKIT_REQUIRE_EMAIL_VERIFICATION", "false")
        .env(
            "AUTHKIT_DATABASE_URL",
            format!("sqlite://{}", dir.join("load.db").display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for action in ["LOGIN_PER_IP", "LOGIN_PER_EMAIL", "REGISTER_PER_IP"] {
        command.env(format!("AUTHKIT_RATE_{action}"), "off");
    }
    Ok(command.spawn()?)
}

async fn wait_ready(client: &reqwest::Client, base: &str) -> Result<(), BoxError> {
    for _ in 0..200 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("the server did not become ready".into())
}
