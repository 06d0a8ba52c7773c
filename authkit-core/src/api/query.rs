//! Query strings: pagination (`?page=&per_page=`) and the filters of the
//! list routes, decoded as `application/x-www-form-urlencoded`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::problem::Failure;
use crate::auth::MAX_PER_PAGE;
use crate::error::{AuthError, FieldError};

/// Page size when the client gives none.
pub(crate) const DEFAULT_PER_PAGE: u32 = 50;
/// Highest page number accepted.
const MAX_PAGE: u32 = 1_000_000;
/// Longest filter value kept (search text, event names).
const MAX_VALUE: usize = 256;

/// The decoded pairs of a query string; reading a bad value records a
/// field error, reported at [`finish`](Self::finish).
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

impl Query {
    /// Decodes `query` (`None`: no query).
    pub(crate) fn parse(query: Option<&str>) -> Self {
        Self {
            pairs: form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
            errors: Vec::new(),
        }
    }

    /// The last non-empty value of `name`.
    fn raw(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A free-text value, at most 256 characters.
    pub(crate) fn text(&mut self, name: &str) -> Option<String> {
        let value = self.raw(name)?;
        if value.chars().count() > MAX_VALUE || value.chars().any(char::is_control) {
            self.error(name, "invalid_value", "At most 256 printable characters.");
            return None;
        }
        Some(value.to_owned())
    }

    /// A UUID value.
    pub(crate) fn uuid(&mut self, name: &str) -> Option<Uuid> {
        let value = self.raw(name)?;
        match Uuid::parse_str(value) {
            Ok(id) => Some(id),
            Err(_) => {
                self.error(name, "invalid_uuid", "Expected a UUID.");
                None
            }
        }
    }

    /// An RFC 3339 time.
    pub(crate) fn time(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let value = self.raw(name)?;
        match DateTime::parse_from_rfc3339(value) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                self.error(
                    name,
                    "invalid_datetime",
                    "Expected an RFC 3339 time, e.g. 2026-01-31T12:00:00Z.",
                );
                None
            }
        }
    }

    /// `page` (1-based, default 1) and `per_page` (default 50, at most
    /// 100).
    pub(crate) fn page(&mut self) -> (u32, u32) {
        let page = self.number("page", 1, MAX_PAGE).unwrap_or(1);
        let per_page = self
            .number("per_page", 1, MAX_PER_PAGE)
            .unwrap_or(DEFAULT_PER_PAGE);
        (page, per_page)
    }

    fn number(&mut self, name: &str, min: u32, max: u32) -> Option<u32> {
        let value = self.pairs.iter().rev().find(|(k, _)| k == name)?.1.clone();
        match value.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.error(
                    name,
                    "invalid_number",
                    &format!("Expected a whole number from {min} to {max}."),
                );
                None
            }
        }
    }

    fn error(&mut self, name: &str, code: &str, message: &str) {
        self.errors.push(FieldError::new(name, code, message));
    }

    /// `Ok` when every value read was fine; else 422 naming each.
    pub(crate) fn finish(self) -> Result<(), Failure> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AuthError::Validation(self.errors).into())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn page(q: &str) -> Result<(u32, u32), Failure> {
        let mut query = Query::parse(Some(q));
        let page = query.page();
        query.finish().map(|()| page)
    }

    #[test]
    fn pages_default_and_parse() {
        assert_eq!(page("").unwrap(), (1, 50));
        assert_eq!(page("page=3&per_page=10&other=x").unwrap(), (3, 10));
        assert_eq!(page("page=2").unwrap(), (2, 50));
    }

    #[test]
    fn bad_pages_are_validation_errors() {
        for q in [
            "page=0",
            "per_page=101",
            "per_page=0",
            "page=x",
            "page=-1",
            "per_page=",
            "page=1e3",
            "page=99999999999",
        ] {
            let Err(Failure::Auth(err)) = page(q) else {
                panic!("{q} accepted")
            };
            assert_eq!(err.code(), "validation_failed", "{q}");
        }
    }

    #[test]
    fn values_are_decoded_and_checked() {
        let id = Uuid::now_v7();
        let mut q = Query::parse(Some(&format!(
            "q=ann%40example.com+x&user={id}&since=2026-01-31T12%3A00%3A00Z&event=&u=%FF"
        )));
        assert_eq!(q.text("q").as_deref(), Some("ann@example.com x"));
        assert_eq!(q.uuid("user"), Some(id));
        assert_eq!(
            q.time("since").unwrap().to_rfc3339(),
            "2026-01-31T12:00:00+00:00"
        );
        assert_eq!(q.text("event"), None, "empty means absent");
        assert_eq!(
            q.text("u").as_deref(),
            Some("\u{fffd}"),
            "bad UTF-8 is replaced"
        );
        assert!(q.finish().is_ok());

        let long = "x".repeat(300);
        let mut q = Query::parse(Some(&format!("user=nope&since=yesterday&q={long}&c=%00")));
        assert_eq!(q.uuid("user"), None);
        assert_eq!(q.time("since"), None);
        assert_eq!(q.text("q"), None);
        assert_eq!(q.text("c"), None);
        let Err(Failure::Auth(err)) = q.finish() else {
            panic!("accepted")
        };
        let codes: Vec<_> = err.field_errors().iter().map(|e| e.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "invalid_uuid",
                "invalid_datetime",
                "invalid_value",
                "invalid_value"
            ]
        );
    }
}
