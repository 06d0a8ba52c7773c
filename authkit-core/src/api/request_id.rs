//! Request ids: every API response carries `X-Request-Id`, the caller's own
//! when it sent a sane one (so ids follow a request across services), else
//! a fresh UUID. The id is a field of the request's `tracing` span, so
//! every log line of the flow (audit events, warnings) carries it.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The header read and echoed.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id accepted from a caller.
const MAX_LEN: usize = 128;

/// The caller's id when it is 1–128 characters of `A–Z a–z 0–9 - _ . : /`
/// (nothing that could forge a log line), else a new UUID v7.
pub(crate) fn of(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned)
}

/// Sets the `X-Request-Id` response header.
pub(crate) fn echo(headers: &mut HeaderMap, id: &str) {
    if let Ok(value) = HeaderValue::from_str(id) {
        headers.insert(REQUEST_ID, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn a_sane_caller_id_is_kept_else_one_is_made() {
        assert_eq!(of(&with(b"req-42_a.b:c/d")), "req-42_a.b:c/d");
        assert_eq!(of(&with(b"  padded  ")), "padded");
        let made = of(&HeaderMap::new());
        assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");
        for bad in [
            &b""[..],
            b"two words",
            b"line\tbreak",
            b"quote\"",
            "caf\u{e9}".as_bytes(),
            &[b'x'; MAX_LEN + 1],
        ] {
            let id = of(&with(bad));
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} gave {id}");
        }
        assert_eq!(of(&with(&[b'x'; MAX_LEN])).len(), MAX_LEN);
    }
}
