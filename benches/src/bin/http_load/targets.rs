//! The servers under load: authkit's example servers and the reference
//! peer (Django + DRF + SimpleJWT), each started on its own fresh database.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
// Database names are made here from the target name (alphanumerics and
// `_` only) and the process id, never from input.
use sqlx::{AssertSqlSafe, Connection};
use tokio::process::{Child, Command};

use crate::BoxError;

/// The account every scenario uses; its password passes both services'
/// policies.
pub const EMAIL: &str = "bench@example.com";
/// Its password.
pub const PASSWORD: &str = "Correct-Horse-Battery-9";

/// A database engine both kinds of server run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file per server.
    Sqlite,
    /// A PostgreSQL database per server, created for the run and dropped.
    Postgres,
}

impl Engine {
    /// Its name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub enum Kind {
    /// An authkit example server binary.
    Authkit(PathBuf),
    /// The peer's folder (holding `app/`) and its virtualenv.
    Peer {
        /// Folder with `app/manage.py`.
        dir: PathBuf,
        /// Virtualenv with Django, DRF, SimpleJWT and gunicorn.
        venv: PathBuf,
    },
}

/// A server to measure.
#[derive(Debug, Clone)]
pub struct Target {
    /// Column name.
    pub name: String,
    /// What it is.
    pub kind: Kind,
}

/// The paths and field names of one server's routes.
pub struct Routes {
    pub floor: &'static str,
    pub me: &'static str,
    pub refresh: &'static str,
    pub refresh_request: &'static str,
    pub refresh_response: &'static str,
    pub login: &'static str,
    pub register: &'static str,
}

const AUTHKIT_ROUTES: Routes = Routes {
    floor: "/api/ping",
    me: "/auth/me",
    refresh: "/auth/token/refresh",
    refresh_request: "refresh_token",
    refresh_response: "refresh_token",
    login: "/auth/token",
    register: "/auth/register",
};

const PEER_ROUTES: Routes = Routes {
    floor: "/hello/drf/",
    me: "/account/me/",
    refresh: "/auth/token/refresh/",
    refresh_request: "refresh",
    refresh_response: "refresh",
    login: "/auth/token/",
    register: "/auth/register/",
};

/// A started server.
pub struct Running {
    /// The target it runs.
    pub target: Target,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// Server process id (gunicorn's master for the peer).
    pub pid: u32,
    /// A bearer token of the bench account.
    pub access: String,
    child: Child,
    work: PathBuf,
    env: Vec<(String, String)>,
    database: Option<String>,
    admin_url: String,
}

impl Target {
    /// Whether this is the peer.
    pub fn is_peer(&self) -> bool {
        matches!(self.kind, Kind::Peer { .. })
    }

    /// Its routes.
    pub fn routes(&self) -> &'static Routes {
        if self.is_peer() {
            &PEER_ROUTES
        } else {
            &AUTHKIT_ROUTES
        }
    }

    /// Starts it on a fresh database of `engine`, seeded with the bench
    /// account.
    pub async fn start(
        &self,
        engine: Engine,
        work_root: &Path,
        admin_url: &str,
        client: &reqwest::Client,
    ) -> Result<Running, BoxError> {
        let work = work_root.join(format!("{}-{}", self.name, engine.name()));
        std::fs::create_dir_all(&work)?;
        let port = free_port().await?;
        let base = format!("http://127.0.0.1:{port}");
        let database = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => {
                let name = format!(
                    "bench_{}_{}",
                    self.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
                    std::process::id()
                );
                let mut admin = sqlx::PgConnection::connect(admin_url).await?;
                sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                    .execute(&mut admin)
                    .await?;
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await?;
                Some(name)
            }
        };
        let env = self.env(&work, port, admin_url, database.as_deref())?;
        let child = match &self.kind {
            Kind::Authkit(binary) => Command::new(binary)
                .current_dir(&work)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", binary.display()))?,
            Kind::Peer { dir, venv } => {
                let app = dir.join("app");
                let status = Command::new(venv.join("bin/python"))
                    .args(["manage.py", "migrate", "--noinput"])
                    .current_dir(&app)
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .stdout(Stdio::null())
                    .status()
                    .await?;
                if !status.success() {
                    return Err("the peer's migrations failed".into());
                }
                Command::new(venv.join("bin/gunicorn"))
                    .args(["authsvc.wsgi", "--worker-class", "sync", "--workers"])
                    .arg(crate::wrk::threads().to_string())
                    .arg("--bind")
                    .arg(format!("127.0.0.1:{port}"))
                    .args(["--timeout", "120", "--log-level", "warning"])
                    .current_dir(&app)
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()?
            }
        };
        let pid = child.id().ok_or("the server exited at once")?;
        let mut running = Running {
            target: self.clone(),
            base,
            pid,
            access: String::new(),
            child,
            work,
            env,
            database,
            admin_url: admin_url.to_owned(),
        };
        running.wait_ready(client).await?;
        running.access = running.seed(client).await?;
        Ok(running)
    }

    fn env(
        &self,
        work: &Path,
        port: u16,
        admin_url: &str,
        database: Option<&str>,
    ) -> Result<Vec<(String, String)>, BoxError> {
        let mut env = Vec::new();
        let mut set = |k: &str, v: String| env.push((k.to_owned(), v));
        match (&self.kind, database) {
            (Kind::Authkit(_), db) => {
                set("AUTHKIT_BIND", format!("127.0.0.1:{port}"));
                set("AUTHKIT_REQUIRE_EMAIL_VERIFICATION", "false".into());
                set("RUST_LOG", "warn".into());
                // mimalloc hands freed pages back to the OS at once instead
                // of after 10 ms: 11 MiB less at 1,000 connections, no
                // measurable cost in req/s (the examples' docs recommend it
                // where memory is tight).
                set("MIMALLOC_PURGE_DELAY", "0".into());
                // All load comes from one address: throttling off, as the
                // peer has none.
                for action in [
                    "LOGIN_PER_IP",
                    "LOGIN_PER_EMAIL",
                    "REGISTER_PER_IP",
                    "REFRESH_PER_IP",
                ] {
                    set(&format!("AUTHKIT_RATE_{action}"), "off".into());
                }
                // The login-flood scenario sends its flood and its prober
                // as from two client addresses (X-Forwarded-For).
                set("AUTHKIT_TRUSTED_PROXIES", "127.0.0.1/32".into());
                let url = match db {
                    None => format!("sqlite://{}", work.join("authkit.db").display()),
                    Some(name) => with_database(admin_url, name)?.to_string(),
                };
                set("AUTHKIT_DATABASE_URL", url);
            }
            (Kind::Peer { .. }, db) => {
                set("HASHER", "argon2owasp".into());
                set("CONN_MAX_AGE", "60".into());
                set("PEER_ROOT", work.display().to_string());
                match db {
                    None => {
                        set("DB", "sqlite".into());
                        set(
                            "SQLITE_PATH",
                            work.join("peer.sqlite3").display().to_string(),
                        );
                    }
                    Some(name) => {
                        let url = url::Url::parse(admin_url)?;
                        set("DB", "postgres".into());
                        set("PGDATABASE", name.to_owned());
                        set("PGUSER", url.username().to_owned());
                        set("PGPASSWORD", url.password().unwrap_or("").to_owned());
                        set("PGPORT", url.port().unwrap_or(5432).to_string());
                    }
                }
            }
        }
        Ok(env)
    }
}

impl Running {
    async fn wait_ready(&mut self, client: &reqwest::Client) -> Result<(), BoxError> {
        let probe = if self.target.is_peer() {
            "/hello/django/"
        } else {
            "/readyz"
        };
        for _ in 0..600 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited: {status}", self.target.name).into());
            }
            if client
                .get(format!("{}{probe}", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("{} did not become ready", self.target.name).into())
    }

    /// Creates the bench account and returns an access token for it.
    async fn seed(&self, client: &reqwest::Client) -> Result<String, BoxError> {
        if self.target.is_peer() {
            self.manage(&["seed", "--out", &self.work.display().to_string()])
                .await?;
            return Ok(std::fs::read_to_string(self.work.join("access.txt"))?
                .trim()
                .to_owned());
        }
        let body = json!({"email": EMAIL, "password": PASSWORD});
        let status = client
            .post(format!("{}/auth/register", self.base))
            .json(&body)
            .send()
            .await?
            .status();
        if !(status.is_success() || status == reqwest::StatusCode::CONFLICT) {
            return Err(format!("registering the bench account answered {status}").into());
        }
        Ok(self.login(client).await?.0)
    }

    async fn login(&self, client: &reqwest::Client) -> Result<(String, String), BoxError> {
        let pair: Value = client
            .post(format!("{}/auth/token", self.base))
            .json(&json!({"email": EMAIL, "password": PASSWORD}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let field = |k: &str| pair[k].as_str().unwrap_or_default().to_owned();
        Ok((field("access_token"), field("refresh_token")))
    }

    /// Writes `count` fresh refresh tokens of the bench account, one per
    /// line, and returns the file.
    pub async fn refresh_tokens(
        &self,
        client: &reqwest::Client,
        count: usize,
    ) -> Result<PathBuf, BoxError> {
        let file = self.work.join("refresh.txt");
        if self.target.is_peer() {
            self.manage(&[
                "seed",
                "--out",
                &self.work.display().to_string(),
                "--refresh-tokens",
                &count.to_string(),
            ])
            .await?;
            return Ok(file);
        }
        let mut lines = String::new();
        for _ in 0..count {
            lines.push_str(&self.login(client).await?.1);
            lines.push('\n');
        }
        std::fs::write(&file, lines)?;
        Ok(file)
    }

    async fn manage(&self, args: &[&str]) -> Result<(), BoxError> {
        let Kind::Peer { dir, venv } = &self.target.kind else {
            return Ok(());
        };
        let status = Command::new(venv.join("bin/python"))
            .arg("manage.py")
            .args(args)
            .current_dir(dir.join("app"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .status()
            .await?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the peer's `manage.py {}` failed", args.join(" ")).into())
        }
    }

    /// Stops the server and drops its database.
    pub async fn stop(mut self) -> Result<(), BoxError> {
        // SIGTERM first: gunicorn's master then stops its workers.
        let _ = Command::new("kill")
            .arg(self.pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        if let Some(name) = &self.database {
            let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
            sqlx::query(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await?;
        }
        Ok(())
    }
}

fn with_database(admin_url: &str, name: &str) -> Result<url::Url, BoxError> {
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(name);
    Ok(url)
}

async fn free_port() -> Result<u16, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(listener.local_addr()?.port())
}
