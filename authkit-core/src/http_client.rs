//! The outgoing HTTP client of the features that call other services
//! (`twilio`, `oauth`): reqwest over rustls on ring with Mozilla's roots,
//! so no system TLS library or second TLS stack is involved.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{AuthError, AuthResult};

/// A client whose every request gives up after `timeout`, and which
/// follows no redirect (an answer elsewhere is an error for these APIs).
pub(crate) fn client(timeout: Duration) -> AuthResult<reqwest::Client> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(AuthError::internal)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(AuthError::internal)
}
