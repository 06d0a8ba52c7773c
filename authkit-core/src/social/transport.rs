//! Requests to providers: JSON answers read with a size cap, failures
//! reported without codes, tokens or response bodies (which may echo
//! them), and without the URL's query.

use serde::de::DeserializeOwned;

use crate::error::{AuthError, AuthResult};

/// Largest provider answer read (discovery documents, JWKS, tokens).
const MAX_BODY: usize = 1024 * 1024;

/// Sends `request` and parses a 2xx JSON answer. Other statuses answer
/// `OAuthProviderError` naming `what`, the status and the OAuth `error`
/// code when the body has one (a short registered code, never a secret).
pub(super) async fn json<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    what: &str,
) -> AuthResult<T> {
    let response = request
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            let kind = if e.is_timeout() {
                "timed out"
            } else {
                "failed"
            };
            AuthError::OAuthProviderError(format!("{what} {kind}: {}", e.without_url()))
        })?;
    let status = response.status();
    let body = read_capped(response, what).await?;
    if !status.is_success() {
        let code = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("error")
                    .and_then(|e| e.as_str())
                    .map(oauth_error_code)
            });
        return Err(AuthError::OAuthProviderError(format!(
            "{what} answered HTTP {}{}",
            status.as_u16(),
            code.map(|c| format!(" ({c})")).unwrap_or_default()
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|_| AuthError::OAuthProviderError(format!("{what} answered unusable JSON")))
}

/// The body, refusing more than [`MAX_BODY`] bytes.
async fn read_capped(mut response: reqwest::Response, what: &str) -> AuthResult<Vec<u8>> {
    let too_big = || AuthError::OAuthProviderError(format!("{what} answered too much data"));
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| AuthError::OAuthProviderError(format!("{what} failed: {}", e.without_url())))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An OAuth `error` value fit for logs: the registered codes are short
/// ASCII words; anything else is cut down.
pub(super) fn oauth_error_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect()
}
