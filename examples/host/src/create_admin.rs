//! `create-admin`: the first administrator, from the command line
//! (Django's `createsuperuser`), over the same configuration and store as
//! the server.
//!
//! ```sh
//! cargo run -p axum-server -- create-admin --email root@example.com
//! AUTHKIT_ADMIN_PASSWORD=... cargo run -p actix-server -- create-admin --email root@example.com
//! ```
//!
//! The password comes from `AUTHKIT_ADMIN_PASSWORD`, else from a prompt
//! (not echoed on a terminal; read from standard input when piped). The
//! library call behind it is `Admin::create_admin`.

use std::error::Error;
use std::io::{BufRead, IsTerminal, Write};

use authkit_core::{Auth, NewAdmin};

/// The usage line of the subcommand.
pub const USAGE: &str = "usage: create-admin --email EMAIL [--name DISPLAY_NAME] [--role ROLE]... \
     (password from AUTHKIT_ADMIN_PASSWORD or a prompt; default role SYSTEM_ADMIN)";

/// What `create-admin` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAdminArgs {
    /// `--email`.
    pub email: String,
    /// `--name`.
    pub display_name: Option<String>,
    /// `--role`, repeatable; empty means the default.
    pub roles: Vec<String>,
}

/// Parses the arguments after `create-admin` (`--flag value` or
/// `--flag=value`).
///
/// # Errors
/// A message with [`USAGE`] for a missing email, a flag without a value or
/// an unknown argument.
pub fn parse_args(args: &[String]) -> Result<CreateAdminArgs, String> {
    let mut email = None;
    let mut display_name = None;
    let mut roles = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| rest.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))
        };
        match flag {
            "--email" => email = Some(value()?),
            "--name" => display_name = Some(value()?),
            "--role" => roles.push(value()?),
            _ => return Err(format!("unknown argument {arg:?}; {USAGE}")),
        }
    }
    Ok(CreateAdminArgs {
        email: email.ok_or_else(|| format!("--email is required; {USAGE}"))?,
        display_name,
        roles,
    })
}

/// Creates the administrator with `auth`; the password from `password`
/// (`AUTHKIT_ADMIN_PASSWORD` when called by [`run`]).
///
/// # Errors
/// The service's: `validation_failed`, `password_too_weak` (with the rules
/// that failed), `email_taken`.
pub async fn create_admin(
    auth: &Auth,
    args: CreateAdminArgs,
    password: String,
) -> Result<String, Box<dyn Error>> {
    let mut input = NewAdmin::new(args.email, password);
    input.display_name = args.display_name;
    if !args.roles.is_empty() {
        input.roles = args.roles;
    }
    let user = auth.admin().create_admin(input).await.map_err(|err| {
        let rules: Vec<String> = err
            .field_errors()
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        if rules.is_empty() {
            format!("cannot create the administrator: {}", err.report())
        } else {
            format!(
                "cannot create the administrator: {} ({})",
                err.report(),
                rules.join("; ")
            )
        }
    })?;
    Ok(format!(
        "created {} ({}) with roles {}",
        user.email.as_str(),
        user.id,
        user.roles.join(", ")
    ))
}

/// Runs `create-admin` when `args` (the process arguments after the
/// program name) start with it: answers `Ok(true)` once done, `Ok(false)`
/// for any other invocation (the server then starts).
///
/// # Errors
/// Bad arguments, an unreadable password, configuration or store errors,
/// and the service's refusals.
pub async fn run(args: &[String]) -> Result<bool, Box<dyn Error>> {
    let Some((command, rest)) = args.split_first() else {
        return Ok(false);
    };
    if command != "create-admin" {
        return Ok(false);
    }
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        eprintln!("{USAGE}");
        return Ok(true);
    }
    let parsed = parse_args(rest)?;
    let host = crate::from_env().await?;
    let password = match std::env::var("AUTHKIT_ADMIN_PASSWORD") {
        Ok(password) if !password.is_empty() => password,
        _ => prompt_password()?,
    };
    let done = create_admin(&host.auth, parsed, password).await?;
    eprintln!("{done}");
    Ok(true)
}

/// Reads the password: without echo on a terminal (through `stty`), else
/// one line of standard input.
fn prompt_password() -> Result<String, Box<dyn Error>> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal {
        eprint!("Password: ");
        std::io::stderr().flush()?;
    }
    let echo_off = terminal && stty("-echo");
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if echo_off {
        stty("echo");
        eprintln!();
    }
    read?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("no password given (set AUTHKIT_ADMIN_PASSWORD or type one)".into());
    }
    Ok(password)
}

/// Runs `stty ARG` on the terminal; whether it worked.
fn stty(arg: &str) -> bool {
    std::process::Command::new("stty")
        .arg(arg)
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn arguments_parse_in_both_forms() {
        let parsed = parse_args(&args(&[
            "--email",
            "root@example.com",
            "--name=Root Ü",
            "--role",
            "STAFF",
            "--role=DATA_ADMIN",
        ]))
        .unwrap();
        assert_eq!(parsed.email, "root@example.com");
        assert_eq!(parsed.display_name.as_deref(), Some("Root Ü"));
        assert_eq!(parsed.roles, ["STAFF", "DATA_ADMIN"]);
        for bad in [
            &[][..],
            &["--email"][..],
            &["--name", "x"][..],
            &["--email", "a@b.co", "--bogus"][..],
        ] {
            let err = parse_args(&args(bad)).unwrap_err();
            assert!(err.contains("usage"), "{err}");
        }
    }

    #[tokio::test]
    async fn the_command_creates_a_system_admin_once() {
        let auth = Auth::builder(
            authkit_core::AuthConfig::default(),
            authkit_core::store::Store::new(authkit_core::store::MemoryStore::new()),
        )
        .build()
        .await
        .unwrap();
        let parsed = parse_args(&args(&["--email", "Root@Example.com"])).unwrap();
        let done = create_admin(&auth, parsed.clone(), "correct horse battery staple".into())
            .await
            .unwrap();
        assert!(done.contains("root@example.com") && done.contains("SYSTEM_ADMIN"));
        let again = create_admin(&auth, parsed.clone(), "correct horse battery staple".into())
            .await
            .unwrap_err();
        assert!(again.to_string().contains("email already registered"));
        let weak = CreateAdminArgs {
            email: "other@example.com".into(),
            ..parsed
        };
        let err = create_admin(&auth, weak, "12345678".into())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
        assert!(
            auth.login(
                authkit_core::Credentials::new("root@example.com", "wrong password here"),
                &authkit_core::RequestMeta::default()
            )
            .await
            .is_err()
        );
    }
}
