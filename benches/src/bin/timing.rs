//! Timing test: does the time an answer takes tell anything about the
//! account? Login with a wrong password for a known, an unknown, a
//! failure-locked and a deactivated account, and password reset and
//! verification resend for a known and an unknown address, sampled many
//! times, interleaved in a fresh random order every round, through the
//! HTTP API (in-process, no sockets, so the network adds no noise). Each
//! class's median is compared with the unknown account's: the verdict is
//! PASS when every median is within the tolerance, FAIL (exit code 1)
//! otherwise.
//!
//! It is statistics over wall-clock time, so it lives here, not in
//! `cargo test`, where a loaded CI machine would make it flaky:
//!
//! ```sh
//! cargo run --release -p authkit-benches --bin timing
//! cargo run --release -p authkit-benches --bin timing -- --samples 400 --tolerance 0.05
//! ```
//!
//! Options: `--samples N` per class (default 200), `--tolerance F`
//! relative to the reference median (default 0.10), `--floor-us N` the
//! smallest difference ever called a separation, for the microsecond
//! routes (default 200).

#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use authkit_core::api::{Api, ApiConfig};
use authkit_core::email::Email;
use authkit_core::mail::MemoryMailer;
use authkit_core::rate_limit::NoLimiter;
use authkit_core::store::{LockoutPolicy, MemoryStore, Store, UserUpdate};
use authkit_core::{Auth, AuthConfig, Registration};
use bytes::Bytes;
use http::{Method, Request};
use serde_json::json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const PASSWORD: &str = "correct horse battery staple";
const WRONG: &str = "not the password at all";
/// Wrong logins one known account takes, well below the lockout.
const PER_KNOWN_ACCOUNT: usize = 5;

/// What one sample requests.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    LoginKnown,
    LoginUnknown,
    LoginLocked,
    LoginDeactivated,
    ResetKnown,
    ResetUnknown,
    ResendKnown,
    ResendUnknown,
}

impl Class {
    const ALL: [Class; 8] = [
        Class::LoginKnown,
        Class::LoginUnknown,
        Class::LoginLocked,
        Class::LoginDeactivated,
        Class::ResetKnown,
        Class::ResetUnknown,
        Class::ResendKnown,
        Class::ResendUnknown,
    ];

    fn name(self) -> &'static str {
        match self {
            Class::LoginKnown => "login, known account",
            Class::LoginUnknown => "login, unknown account",
            Class::LoginLocked => "login, failure-locked account",
            Class::LoginDeactivated => "login, deactivated account",
            Class::ResetKnown => "reset, known address",
            Class::ResetUnknown => "reset, unknown address",
            Class::ResendKnown => "resend, known address",
            Class::ResendUnknown => "resend, unknown address",
        }
    }

    /// The class its median is compared with.
    fn reference(self) -> Class {
        match self {
            Class::LoginKnown
            | Class::LoginUnknown
            | Class::LoginLocked
            | Class::LoginDeactivated => Class::LoginUnknown,
            Class::ResetKnown | Class::ResetUnknown => Class::ResetUnknown,
            Class::ResendKnown | Class::ResendUnknown => Class::ResendUnknown,
        }
    }
}

struct Options {
    samples: usize,
    tolerance: f64,
    floor: Duration,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let options = parse(std::env::args().skip(1).collect())?;
    let setup = Setup::new(options.samples).await?;
    println!(
        "{} samples per class, interleaved; argon2id at the default parameters",
        options.samples
    );
    let mut times: Vec<Vec<Duration>> = (0..Class::ALL.len())
        .map(|_| Vec::with_capacity(options.samples))
        .collect();
    let mut order = Class::ALL;
    let mut rng = Lcg::seeded();
    for round in 0..options.samples {
        rng.shuffle(&mut order);
        for class in order {
            let started = Instant::now();
            setup.request(class, round).await?;
            times[class as usize].push(started.elapsed());
        }
        // Mail of the known addresses is sent after the answer; let it
        // finish so it never overlaps the next round's samples.
        setup.api.auth().background_idle().await;
    }

    let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
    let mut pass = true;
    println!("\n| class | median | vs reference | verdict |\n| --- | ---: | ---: | --- |");
    for class in Class::ALL {
        let (m, r) = (medians[class as usize], medians[class.reference() as usize]);
        let diff = m.abs_diff(r);
        let allowed = r.mul_f64(options.tolerance).max(options.floor);
        let ok = diff <= allowed;
        pass &= ok;
        println!(
            "| {} | {:.3} ms | {:+.1}% | {} |",
            class.name(),
            m.as_secs_f64() * 1e3,
            (m.as_secs_f64() / r.as_secs_f64().max(f64::MIN_POSITIVE) - 1.0) * 100.0,
            if ok { "same" } else { "SEPARATED" }
        );
    }
    println!(
        "\ntolerance: {:.0}% of the reference median, at least {} µs",
        options.tolerance * 100.0,
        options.floor.as_micros()
    );
    if pass {
        println!("PASS: no class is told apart by its median time");
        Ok(())
    } else {
        println!("FAIL: some class is told apart by its median time");
        std::process::exit(1);
    }
}

/// The service, its accounts, and one request per class.
struct Setup {
    api: Api,
    known: Vec<String>,
}

impl Setup {
    async fn new(samples: usize) -> Result<Self, BoxError> {
        let config = AuthConfig::builder()
            .public_url("https://app.example.com")
            .lockout(LockoutPolicy {
                max_failures: 10,
                window: chrono::Duration::minutes(15),
                lock_for: chrono::Duration::hours(24),
            })
            .build()?;
        let store = Store::new(MemoryStore::new());
        let auth = Auth::builder(config, store.clone())
            .mailer(std::sync::Arc::new(MemoryMailer::default()))
            .rate_limiter(std::sync::Arc::new(NoLimiter))
            .build()
            .await?;
        let api = Api::new(auth.clone(), ApiConfig::default())?;
        let accounts = samples.div_ceil(PER_KNOWN_ACCOUNT);
        let mut known = Vec::with_capacity(accounts);
        for i in 0..accounts {
            known.push(format!("known{i}@example.com"));
        }
        let extra = ["locked@example.com", "gone@example.com"];
        for email in known.iter().map(String::as_str).chain(extra) {
            auth.register(Registration::new(email, PASSWORD), &Default::default())
                .await?;
            let parsed = Email::parse(email)?;
            let user = store
                .users
                .user_by_email(&parsed)
                .await?
                .ok_or("registered user not found")?;
            let now = chrono::Utc::now();
            store
                .users
                .update_user(user.id, &UserUpdate::EmailVerified, now)
                .await?;
            if email == "gone@example.com" {
                store
                    .users
                    .update_user(user.id, &UserUpdate::Active(false), now)
                    .await?;
            }
        }
        let setup = Self { api, known };
        // Lock one account by failures, as an attacker guessing would. A
        // wrong password answers 401 whether or not the lock holds, so
        // the store says when it engaged.
        let locked_email = Email::parse("locked@example.com")?;
        let mut locked = false;
        for _ in 0..20 {
            setup.login("locked@example.com").await?;
            let user = store.users.user_by_email(&locked_email).await?;
            if user.is_some_and(|u| u.is_failure_locked(chrono::Utc::now())) {
                locked = true;
                break;
            }
        }
        if !locked {
            return Err("the failure lock never engaged".into());
        }
        auth.background_idle().await;
        Ok(setup)
    }

    async fn request(&self, class: Class, round: usize) -> Result<(), BoxError> {
        let unknown = format!("nobody{round}@example.com");
        let known = self.known[round / PER_KNOWN_ACCOUNT].as_str();
        let expect = |status: u16, wanted: &[u16]| {
            if wanted.contains(&status) {
                Ok(())
            } else {
                Err(format!("{} answered {status}", class.name()))
            }
        };
        match class {
            Class::LoginKnown => expect(self.login(known).await?, &[401]),
            Class::LoginUnknown => expect(self.login(&unknown).await?, &[401]),
            Class::LoginLocked => expect(self.login("locked@example.com").await?, &[401]),
            Class::LoginDeactivated => expect(self.login("gone@example.com").await?, &[401, 403]),
            Class::ResetKnown => expect(self.post("/password/reset", known).await?, &[202]),
            Class::ResetUnknown => expect(self.post("/password/reset", &unknown).await?, &[202]),
            Class::ResendKnown => expect(self.post("/email/verify/resend", known).await?, &[202]),
            Class::ResendUnknown => {
                expect(self.post("/email/verify/resend", &unknown).await?, &[202])
            }
        }
        .map_err(Into::into)
    }

    async fn login(&self, email: &str) -> Result<u16, BoxError> {
        self.send("/token", json!({"email": email, "password": WRONG}))
            .await
    }

    async fn post(&self, path: &str, email: &str) -> Result<u16, BoxError> {
        self.send(path, json!({"email": email})).await
    }

    async fn send(&self, path: &str, body: serde_json::Value) -> Result<u16, BoxError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json")
            .body(Bytes::from(body.to_string()))?;
        let peer = Some(std::net::IpAddr::from([203, 0, 113, 9]));
        Ok(self.api.handle(request, peer).await.status().as_u16())
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// A small linear congruential generator: enough to shuffle the order of
/// a round, without a dependency.
struct Lcg(u64);

impl Lcg {
    fn seeded() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Self(u64::from(nanos) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // The high bits are the good ones.
        usize::try_from(self.0 >> 33).unwrap_or(0) % n.max(1)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

fn parse(args: Vec<String>) -> Result<Options, BoxError> {
    let mut options = Options {
        samples: 200,
        tolerance: 0.10,
        floor: Duration::from_micros(200),
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--samples" => options.samples = value()?.parse::<usize>()?.max(1),
            "--tolerance" => options.tolerance = value()?.parse()?,
            "--floor-us" => options.floor = Duration::from_micros(value()?.parse()?),
            other => return Err(format!("unknown option {other} (see the module docs)").into()),
        }
    }
    Ok(options)
}
