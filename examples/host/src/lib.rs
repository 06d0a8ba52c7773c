//! Start-up shared by the example servers (`axum-server`, `actix-server`),
//! so both run the same configuration with no logic repeated per framework:
//!
//! - `AUTHKIT_*` variables, plus a `.env` file when present;
//! - server secrets: taken from the environment, else generated ONCE and
//!   kept in a local file (`AUTHKIT_DEV_SECRETS_FILE`, default
//!   `.authkit-dev-secrets`) so restarts keep codes, challenges and MFA
//!   enrolments valid — fine for development; set the variables in
//!   production;
//! - the store from `AUTHKIT_DATABASE_URL` (default: the SQLite file
//!   `authkit.db` beside where it runs), migrated at start; signing keys
//!   live there, so they persist too;
//! - mail over SMTP when `AUTHKIT_SMTP_URL` is set (queued, retried), else
//!   printed to the console; SMS through Twilio when
//!   `AUTHKIT_TWILIO_ACCOUNT_SID` is set (queued), else to the console;
//! - the shared rate limiter and revocation feed of `authkit-redis` when
//!   `AUTHKIT_REDIS_URL` is set (else in-process ones: fine for a single
//!   instance), with `AUTHKIT_REDIS_*` tuning;
//! - Prometheus metrics at `GET /metrics` when `AUTHKIT_METRICS=1`;
//! - social login with every provider configured by `AUTHKIT_GOOGLE_*`,
//!   `AUTHKIT_GITHUB_*` and `AUTHKIT_OIDC_<NAME>_*` (see
//!   `authkit_core::social::OAuthConfig`);
//! - `AUTHKIT_BIND` (default `127.0.0.1:8080`) and `AUTHKIT_CORS_ORIGINS`;
//! - maintenance tasks: key reload every `AUTHKIT_KEY_RELOAD_INTERVAL`
//!   (default 60 s, kept below the key activation delay so every instance
//!   knows a new key before it signs), purge every hour;
//! - one-off commands instead of serving: `rotate-signing-key`;
//! - readiness (a store round trip) and graceful shutdown signals;
//! - mimalloc as the servers' allocator.
//! - the `create-admin` subcommand ([`create_admin`]): the first
//!   administrator, like Django's `createsuperuser`.

pub mod create_admin;

use std::collections::HashMap;
use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use authkit_core::api::{Api, ApiConfig};
use authkit_core::mail::{ConsoleMailer, MailQueue, Mailer, SmtpMailer};
use authkit_core::sms::{ConsoleSms, SmsQueue, SmsSender, TwilioConfig, TwilioSms};
use authkit_core::social::OAuthConfig;
use authkit_core::{Auth, AuthConfig, RequestMeta};
use authkit_redis::{RedisLimiter, RedisRevocations, RedisSettings};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The example servers' allocator. Each login allocates an argon2 buffer
/// of 19 MiB; glibc's malloc keeps such buffers in per-thread arenas after
/// the burst, mimalloc returns them to the OS, which keeps the resident
/// memory near its idle level. Where memory is tight, start the server
/// with `MIMALLOC_PURGE_DELAY=0` so freed pages go back at once rather
/// than after 10 ms (11 MiB less at 1,000 connections in the load harness,
/// at no measurable cost in requests per second).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Secrets generated for development when the environment lacks them.
const DEV_SECRETS: [&str; 2] = ["AUTHKIT_SECRET_KEY", "AUTHKIT_MFA_ENCRYPTION_KEY"];
/// Messages the mail and SMS queues hold before refusing more.
const MAIL_QUEUE_CAPACITY: usize = 1024;

/// A configured authkit service and where to serve it.
#[derive(Debug, Clone)]
pub struct Host {
    /// The service.
    pub auth: Auth,
    /// The HTTP API over it.
    pub api: Api,
    /// Listen address (`AUTHKIT_BIND`).
    pub bind: SocketAddr,
    /// Browser origins allowed by CORS (`AUTHKIT_CORS_ORIGINS`,
    /// comma-separated; empty = no CORS headers).
    pub cors_origins: Vec<String>,
    /// The Prometheus recorder's handle when `AUTHKIT_METRICS` is on: the
    /// servers render it at `GET /metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// How often signing keys are re-read (`AUTHKIT_KEY_RELOAD_INTERVAL`).
    pub key_reload: Duration,
}

/// Logs to stderr what `RUST_LOG` asks for (`warn`,
/// `info,authkit_core=debug`, ...), `info` when it is unset; directives it
/// cannot parse are skipped.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing::level_filters::LevelFilter::INFO.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Reads `.env`, the environment and the dev secrets, connects and
/// migrates the store, picks the mailer, and builds the service.
///
/// # Errors
/// Any invalid variable (named in the message), an unreachable store.
pub async fn from_env() -> Result<Host, Box<dyn Error>> {
    match dotenvy::dotenv() {
        Ok(path) => tracing::info!(path = %path.display(), "loaded .env"),
        Err(err) if err.not_found() => {}
        Err(err) => return Err(err.into()),
    }
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    let secrets_file = vars
        .get("AUTHKIT_DEV_SECRETS_FILE")
        .cloned()
        .unwrap_or_else(|| ".authkit-dev-secrets".to_owned());
    let generated = fill_dev_secrets(&mut vars, Path::new(&secrets_file))?;
    if !generated.is_empty() {
        tracing::warn!(
            file = %secrets_file,
            variables = ?generated,
            "using development secrets kept in a local file; set these variables in production"
        );
    }
    let config = AuthConfig::from_vars(vars.clone())?;
    let api_config = ApiConfig::from_vars(vars.clone())?;
    // `AuthConfig` reads `AUTHKIT_KEY_RELOAD_INTERVAL` (default 60 s) and
    // checks that it is shorter than the key activation delay.
    let key_reload = config
        .key_reload_interval
        .and_then(|interval| interval.to_std().ok())
        .unwrap_or(Duration::from_secs(60));
    let metrics = metrics_from_vars(&vars)?;
    let bind: SocketAddr = vars
        .get("AUTHKIT_BIND")
        .map_or("127.0.0.1:8080", String::as_str)
        .parse()
        .map_err(|e| format!("invalid configuration AUTHKIT_BIND: {e}"))?;
    let database_url = vars
        .get("AUTHKIT_DATABASE_URL")
        .cloned()
        .unwrap_or_else(|| "sqlite://authkit.db".to_owned());
    let store = authkit_sqlx::connect(&database_url).await.map_err(|e| {
        format!(
            "cannot open the store (AUTHKIT_DATABASE_URL): {}",
            e.report()
        )
    })?;
    let (mailer, mail_kind) = mailer_from_env()?;
    let (sms, sms_kind) = sms_from_vars(&vars)?;
    let redis = RedisSettings::from_vars(&vars)?;
    let oauth = OAuthConfig::from_vars(vars.clone())?;
    let providers: Vec<String> = oauth.providers.iter().map(|p| p.name.clone()).collect();
    let mut builder = Auth::builder(config.clone(), store)
        .mailer(mailer)
        .sms_sender(sms)
        .oauth(oauth);
    if let Some(settings) = &redis {
        let connection = settings
            .connect()
            .map_err(|e| format!("invalid configuration AUTHKIT_REDIS_URL: {e}"))?;
        builder = builder
            .rate_limiter(Arc::new(RedisLimiter::new(
                connection.clone(),
                settings,
                config.rate_limits.clone(),
            )))
            .revocation_list(Arc::new(
                RedisRevocations::start(connection, settings).await,
            ));
    }
    let auth = builder.build().await?;
    let api = Api::new(auth.clone(), api_config)?;
    let cors_origins = vars
        .get("AUTHKIT_CORS_ORIGINS")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    tracing::info!(
        store = %redact_url(&database_url),
        mail = mail_kind,
        sms = sms_kind,
        shared_state = if redis.is_some() { "redis" } else { "in-process" },
        metrics = metrics.is_some(),
        social_login = ?providers,
        %bind,
        mount = %api.config().mount_path,
        "authkit ready"
    );
    Ok(Host {
        auth,
        api,
        bind,
        cors_origins,
        metrics,
        key_reload,
    })
}

/// Installs the Prometheus recorder when `AUTHKIT_METRICS` is `1`/`true`
/// (once per process: a second call reuses it).
fn metrics_from_vars(
    vars: &HashMap<String, String>,
) -> Result<Option<PrometheusHandle>, Box<dyn Error>> {
    let on = match vars
        .get("AUTHKIT_METRICS")
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => false,
        Some(v) if v.is_empty() || v == "0" || v == "false" => false,
        Some(v) if v == "1" || v == "true" => true,
        Some(_) => return Err("invalid configuration AUTHKIT_METRICS: expected 1 or 0".into()),
    };
    if !on {
        return Ok(None);
    }
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(Some(handle.clone()));
    }
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    Ok(Some(HANDLE.get_or_init(|| handle).clone()))
}

/// The body and content type of `GET /metrics`.
pub fn render_metrics(handle: &PrometheusHandle) -> (String, &'static str) {
    (handle.render(), "text/plain; version=0.0.4; charset=utf-8")
}

/// Runs a one-off command named by the first argument, if any, instead of
/// serving: `rotate-signing-key` stores a new signing key (published at
/// once; it signs after `AUTHKIT_KEY_ACTIVATION_DELAY`, by which time every
/// instance's reload has picked it up). Returns whether a command ran.
///
/// # Errors
/// An unknown command; store errors.
pub async fn run_command(host: &Host) -> Result<bool, Box<dyn Error>> {
    match std::env::args().nth(1).as_deref() {
        None => Ok(false),
        Some("rotate-signing-key") => {
            let kid = host.auth.keys().rotate(&RequestMeta::default()).await?;
            tracing::info!(kid, "signing key rotated");
            Ok(true)
        }
        Some(other) => Err(format!("unknown command {other:?}; known: rotate-signing-key").into()),
    }
}

/// A mailer and a word naming it for the start-up line.
type NamedMailer = (Arc<dyn Mailer>, &'static str);

/// SMTP behind a retrying queue when `AUTHKIT_SMTP_URL` is set, else the
/// console (queued too, so both behave alike).
fn mailer_from_env() -> Result<NamedMailer, Box<dyn Error>> {
    Ok(match SmtpMailer::from_env()? {
        Some(smtp) => (
            Arc::new(MailQueue::new(Arc::new(smtp), MAIL_QUEUE_CAPACITY)),
            "smtp",
        ),
        None => (
            Arc::new(MailQueue::new(Arc::new(ConsoleMailer), MAIL_QUEUE_CAPACITY)),
            "console",
        ),
    })
}

/// An SMS sender and a word naming it for the start-up line.
type NamedSms = (Arc<dyn SmsSender>, &'static str);

/// Twilio (queued) when `AUTHKIT_TWILIO_ACCOUNT_SID` is set, else the
/// console (queued too).
fn sms_from_vars(vars: &HashMap<String, String>) -> Result<NamedSms, Box<dyn Error>> {
    let configured = vars
        .get("AUTHKIT_TWILIO_ACCOUNT_SID")
        .is_some_and(|v| !v.trim().is_empty());
    Ok(if configured {
        let twilio = TwilioSms::new(TwilioConfig::from_vars(vars.clone())?)?;
        (
            Arc::new(SmsQueue::new(Arc::new(twilio), MAIL_QUEUE_CAPACITY)),
            "twilio",
        )
    } else {
        (
            Arc::new(SmsQueue::new(Arc::new(ConsoleSms), MAIL_QUEUE_CAPACITY)),
            "console",
        )
    })
}

/// Adds every missing dev secret to `vars`, from `file` or freshly
/// generated (then appended to `file`). Returns the names it supplied.
fn fill_dev_secrets(
    vars: &mut HashMap<String, String>,
    file: &Path,
) -> Result<Vec<&'static str>, Box<dyn Error>> {
    let missing: Vec<&'static str> = DEV_SECRETS
        .into_iter()
        .filter(|name| vars.get(*name).is_none_or(|v| v.is_empty()))
        .collect();
    if missing.is_empty() {
        return Ok(missing);
    }
    let mut kept: HashMap<String, String> = match std::fs::read_to_string(file) {
        Ok(text) => text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
        Err(err) => return Err(format!("cannot read {}: {err}", file.display()).into()),
    };
    let mut changed = false;
    for name in &missing {
        let value = kept.entry((*name).to_owned()).or_insert_with(|| {
            changed = true;
            let mut key = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
            URL_SAFE_NO_PAD.encode(key)
        });
        vars.insert((*name).to_owned(), value.clone());
    }
    if changed {
        let mut text: Vec<String> = kept.iter().map(|(k, v)| format!("{k}={v}")).collect();
        text.sort();
        write_private(file, &(text.join("\n") + "\n"))
            .map_err(|err| format!("cannot write {}: {err}", file.display()))?;
    }
    Ok(missing)
}

/// Writes `text` to `path`, readable by the owner only where supported.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// The URL without its password, for the start-up line.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Keeps the key set current (rotations by other instances) and the store
/// tidy. Runs until the process ends.
pub fn spawn_maintenance(host: &Host) {
    let auth = &host.auth;
    let keys = auth.clone();
    let key_reload = host.key_reload;
    tokio::spawn(async move {
        let mut every = tokio::time::interval(key_reload);
        loop {
            every.tick().await;
            if let Err(err) = keys.keys().reload().await {
                tracing::error!(error = %err.report(), "reloading signing keys failed");
            }
        }
    });
    let store = auth.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            match store.purge_expired().await {
                Ok((sessions, tokens)) => tracing::info!(sessions, tokens, "purged expired"),
                Err(err) => tracing::error!(error = %err.report(), "purge failed"),
            }
        }
    });
}

/// Whether the store answers (for `/readyz`).
pub async fn ready(auth: &Auth) -> bool {
    auth.store()
        .users
        .user_by_id(uuid::Uuid::nil())
        .await
        .is_ok()
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_secrets_are_generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secrets");
        let mut first = HashMap::new();
        let made = fill_dev_secrets(&mut first, &file).unwrap();
        assert_eq!(made, DEV_SECRETS.to_vec());
        let mut second = HashMap::new();
        fill_dev_secrets(&mut second, &file).unwrap();
        assert_eq!(first, second, "a restart reads the same secrets");
        // A secret set in the environment wins and is not generated.
        let mut third = HashMap::from([("AUTHKIT_SECRET_KEY".to_owned(), "from-env".to_owned())]);
        let made = fill_dev_secrets(&mut third, &file).unwrap();
        assert_eq!(made, vec!["AUTHKIT_MFA_ENCRYPTION_KEY"]);
        assert_eq!(third["AUTHKIT_SECRET_KEY"], "from-env");
        // The generated key is a valid 32-byte base64url secret.
        let config = AuthConfig::from_vars(first).unwrap();
        assert_eq!(config.secret_key.len(), 32);
    }

    #[tokio::test]
    async fn sms_goes_through_twilio_only_when_configured() {
        assert_eq!(sms_from_vars(&HashMap::new()).unwrap().1, "console");
        let mut vars = HashMap::from([
            (
                "AUTHKIT_TWILIO_ACCOUNT_SID".to_owned(),
                "AC0123456789abcdef0123456789abcdef".to_owned(),
            ),
            ("AUTHKIT_TWILIO_AUTH_TOKEN".to_owned(), "token".to_owned()),
            ("AUTHKIT_TWILIO_FROM".to_owned(), "+14155550100".to_owned()),
        ]);
        assert_eq!(sms_from_vars(&vars).unwrap().1, "twilio");
        vars.remove("AUTHKIT_TWILIO_FROM");
        let err = sms_from_vars(&vars).err().unwrap().to_string();
        assert!(err.contains("AUTHKIT_TWILIO_FROM"), "{err}");
    }

    #[test]
    fn urls_are_redacted_for_logs() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/auth"),
            "postgres://app:***@db:5432/auth"
        );
        assert_eq!(redact_url("sqlite://authkit.db"), "sqlite://authkit.db");
    }

    #[tokio::test]
    async fn a_default_host_runs_on_a_sqlite_file() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("a.db").display());
        let store = authkit_sqlx::connect(&url).await.unwrap();
        let auth = Auth::builder(AuthConfig::default(), store)
            .build()
            .await
            .unwrap();
        assert!(ready(&auth).await);
        // The signing keys persist in the file: a restart keeps them.
        let jwks = auth.keys().jwks();
        let again = Auth::builder(
            AuthConfig::default(),
            authkit_sqlx::connect(&url).await.unwrap(),
        )
        .build()
        .await
        .unwrap();
        assert_eq!(jwks, again.keys().jwks());
    }
}
