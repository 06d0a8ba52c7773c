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
/// (nothing that could forge a log line), else a new UUID v7 ([`fresh`]).
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
        .map_or_else(fresh, str::to_owned)
}

/// A new UUID v7 whose random bits come from the thread's generator:
/// `Uuid::now_v7` asks the kernel for them, a system call on every request
/// that an id, which must be unique but need not be secret, can do without.
fn fresh() -> String {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let millis = u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX);
    let random: [u8; 10] = rand::random();
    uuid::Builder::from_unix_timestamp_millis(millis, &random)
        .into_uuid()
        .to_string()
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
        let parsed = uuid::Uuid::parse_str(&made).unwrap();
        assert_eq!(parsed.get_version_num(), 7, "{made}");
        assert_ne!(of(&HeaderMap::new()), made, "every request gets its own id");
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
