//! `axum-server` processes for the integration tests: started with a
//! given environment in a scratch directory, their log drained and shown
//! when a test fails, killed when dropped.

// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One running server process.
pub struct Instance {
    /// `http://127.0.0.1:port`.
    pub base: String,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    /// Stops the process at once (SIGKILL: no graceful shutdown), as a
    /// crash or an orchestrator's kill would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    /// Stops the process; on failure, shows what it logged.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log.lock().map(|l| l.join("\n")).unwrap_or_default();
            eprintln!("--- {}\n{log}", self.base);
        }
    }
}

/// A scratch directory for a test's processes (no `.env` or dev-secrets
/// file of the developer's is read there).
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The server binary with exactly `env`, run in `dir`.
pub fn command(dir: &Path, env: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_axum-server"));
    command
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Starts one instance and waits for its `listening` line.
pub fn start(dir: &Path, env: &[(String, String)]) -> Instance {
    let mut child = command(dir, env).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (address_tx, address_rx) = std::sync::mpsc::channel();
    let lines = log.clone();
    // Keeps draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening")
                && let Some(address) = line.split("address=").nth(1)
            {
                let _ = address_tx.send(address.trim().to_owned());
            }
            lines.lock().unwrap().push(line);
        }
    });
    let Ok(address) = address_rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = child.kill();
        panic!(
            "the server did not start:\n{}",
            log.lock().unwrap().join("\n")
        );
    };
    Instance {
        base: format!("http://{address}"),
        child,
        log,
    }
}

/// A plain-HTTP client (see the e2e suite for why the provider is set).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}
