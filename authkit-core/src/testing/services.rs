//! Test services (databases, Redis) reached through URLs in the environment.

/// The URL in the environment variable `var`, or `None` (with the reason
/// printed) when a test needing that service should skip and pass.
///
/// # Panics
/// Under `CI=true` without a URL: there, a missing service is a failure.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("{var} must be set when CI=true")
        }
        _ => {
            eprintln!("skipped: set {var} to run this test against a real server");
            None
        }
    }
}
