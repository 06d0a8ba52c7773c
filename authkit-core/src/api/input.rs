//! Request bodies: size, media type, JSON, and typed fields.
//!
//! Bodies are JSON objects; the routes of OAuth-family standards
//! (introspection) also read `application/x-www-form-urlencoded`, whose
//! fields are strings. Unknown fields are ignored. A field of the wrong type
//! or a missing required field answers 422 `validation_failed` naming every
//! such field at once.

use std::str::FromStr;

use bytes::Bytes;
use http::Request;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::{Map, Value};

use super::problem::Failure;
use crate::error::{AuthError, FieldError};

/// `value` of `field` parsed as one of a fixed set of names (`expected`
/// lists them for the message); anything else is a 422 with an
/// `invalid_choice` field error. Read after [`Fields::finish`], so a
/// missing or mistyped field is reported as such first.
pub(crate) fn choice<T: FromStr>(field: &str, value: &str, expected: &str) -> Result<T, Failure> {
    value.parse().map_err(|_| {
        Failure::Auth(AuthError::Validation(vec![FieldError::new(
            field,
            "invalid_choice",
            format!("Expected one of: {expected}."),
        )]))
    })
}

/// A JSON object body.
#[derive(Debug, Default)]
pub(crate) struct JsonBody(Map<String, Value>);

/// Reads the body of `request`: `None` when it is empty.
pub(crate) fn optional_json(
    request: &Request<Bytes>,
    limit: usize,
) -> Result<Option<JsonBody>, Failure> {
    let Some(body) = sized_body(request, limit)? else {
        return Ok(None);
    };
    if !is_json(request) {
        return Err(Failure::UnsupportedMediaType);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(Some(JsonBody(map))),
        Ok(_) => Err(Failure::Malformed("The body must be a JSON object.")),
        Err(_) => Err(Failure::Malformed("The body is not valid JSON.")),
    }
}

/// Reads a body that must be there.
pub(crate) fn json(request: &Request<Bytes>, limit: usize) -> Result<JsonBody, Failure> {
    optional_json(request, limit)?.ok_or(Failure::Malformed("A JSON body is required."))
}

/// Reads a body that must be there, as JSON or, when it is
/// `application/x-www-form-urlencoded`, as form fields (strings; a
/// field given twice is malformed, as RFC 6749 section 3.2 asks).
pub(crate) fn json_or_form(request: &Request<Bytes>, limit: usize) -> Result<JsonBody, Failure> {
    if media_type(request).as_deref() != Some("application/x-www-form-urlencoded") {
        return json(request, limit);
    }
    let body = sized_body(request, limit)?.ok_or(Failure::Malformed("A body is required."))?;
    let mut fields = Map::new();
    for (name, value) in form_urlencoded::parse(body) {
        if fields
            .insert(name.into_owned(), Value::String(value.into_owned()))
            .is_some()
        {
            return Err(Failure::Malformed("A form field is repeated."));
        }
    }
    Ok(JsonBody(fields))
}

/// The body, within the limit (declared and actual); `None` when it is
/// empty or only whitespace.
fn sized_body(request: &Request<Bytes>, limit: usize) -> Result<Option<&Bytes>, Failure> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = request.body();
    if body.len() > limit || declared.is_some_and(|n| n > limit as u64) {
        return Err(Failure::PayloadTooLarge);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    Ok(Some(body))
}

/// The media type of the body, lower case, without parameters.
fn media_type(request: &Request<Bytes>) -> Option<String> {
    let value = request.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// `application/json` or `application/<something>+json`, any parameters.
fn is_json(request: &Request<Bytes>) -> bool {
    media_type(request).is_some_and(|essence| {
        essence == "application/json"
            || essence
                .strip_prefix("application/")
                .is_some_and(|sub| sub.ends_with("+json"))
    })
}

impl JsonBody {
    /// Starts reading fields; [`Fields::finish`] reports every bad one.
    pub(crate) fn fields(&self) -> Fields<'_> {
        Fields {
            body: self,
            errors: Vec::new(),
        }
    }

    fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    pub(crate) fn has(&self, field: &str) -> bool {
        self.get(field).is_some_and(|v| !v.is_null())
    }
}

/// Collects typed fields and their errors.
pub(crate) struct Fields<'a> {
    body: &'a JsonBody,
    errors: Vec<FieldError>,
}

impl Fields<'_> {
    /// A required string.
    pub(crate) fn string(&mut self, field: &str) -> String {
        match self.body.get(field) {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => {
                self.errors.push(FieldError::new(
                    field,
                    "required",
                    "This field is required.",
                ));
                String::new()
            }
            Some(_) => {
                self.wrong_type(field);
                String::new()
            }
        }
    }

    /// An optional string (absent or `null` → `None`).
    pub(crate) fn optional(&mut self, field: &str) -> Option<String> {
        self.nullable(field).flatten()
    }

    /// A string that may be absent (`None`), `null` (`Some(None)`) or set.
    pub(crate) fn nullable(&mut self, field: &str) -> Option<Option<String>> {
        match self.body.get(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => {
                self.wrong_type(field);
                None
            }
        }
    }

    /// A required array of strings.
    pub(crate) fn strings(&mut self, field: &str) -> Vec<String> {
        match self.body.get(field) {
            Some(Value::Array(items)) => {
                let strings: Option<Vec<String>> = items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect();
                strings.unwrap_or_else(|| {
                    self.errors.push(FieldError::new(
                        field,
                        "invalid_type",
                        "Expected an array of strings.",
                    ));
                    Vec::new()
                })
            }
            None | Some(Value::Null) => {
                self.errors.push(FieldError::new(
                    field,
                    "required",
                    "This field is required.",
                ));
                Vec::new()
            }
            Some(_) => {
                self.errors.push(FieldError::new(
                    field,
                    "invalid_type",
                    "Expected an array of strings.",
                ));
                Vec::new()
            }
        }
    }

    fn wrong_type(&mut self, field: &str) {
        self.errors
            .push(FieldError::new(field, "invalid_type", "Expected a string."));
    }

    /// `Ok` when every field read was fine.
    pub(crate) fn finish(self) -> Result<(), Failure> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Failure::Auth(AuthError::Validation(self.errors)))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request(content_type: Option<&str>, body: &str) -> Request<Bytes> {
        let mut builder = Request::post("/x");
        if let Some(ct) = content_type {
            builder = builder.header(CONTENT_TYPE, ct);
        }
        builder.body(Bytes::from(body.to_owned())).unwrap()
    }

    fn failure(r: Result<Option<JsonBody>, Failure>) -> u16 {
        r.unwrap_err().into_response().status().as_u16()
    }

    #[test]
    fn json_objects_are_read_and_unknown_fields_ignored() {
        for ct in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            let body = optional_json(&request(Some(ct), r#"{"email":"a@b.c","extra":[1]}"#), 1024)
                .unwrap()
                .unwrap();
            let mut f = body.fields();
            assert_eq!(f.string("email"), "a@b.c");
            f.finish().unwrap();
        }
    }

    #[test]
    fn bad_bodies_answer_their_status() {
        let limit = 64;
        assert_eq!(
            failure(optional_json(
                &request(Some("application/json"), "{"),
                limit
            )),
            400
        );
        assert_eq!(
            failure(optional_json(
                &request(Some("application/json"), "[1]"),
                limit
            )),
            400
        );
        assert_eq!(
            failure(optional_json(
                &request(Some("application/json"), "\"s\""),
                limit
            )),
            400
        );
        assert_eq!(
            failure(optional_json(&request(Some("text/plain"), "{}"), limit)),
            415
        );
        assert_eq!(failure(optional_json(&request(None, "{}"), limit)), 415);
        assert_eq!(
            failure(optional_json(
                &request(Some("application/jsonx"), "{}"),
                limit
            )),
            415
        );
        let huge = format!("{{\"a\":\"{}\"}}", "x".repeat(limit));
        assert_eq!(
            failure(optional_json(
                &request(Some("application/json"), &huge),
                limit
            )),
            413
        );
        let mut declared = request(Some("application/json"), "{}");
        declared
            .headers_mut()
            .insert(CONTENT_LENGTH, "100000".parse().unwrap());
        assert_eq!(failure(optional_json(&declared, limit)), 413);
    }

    #[test]
    fn empty_bodies_are_none_or_refused() {
        assert!(optional_json(&request(None, ""), 64).unwrap().is_none());
        assert!(optional_json(&request(None, " \n"), 64).unwrap().is_none());
        let err = json(&request(Some("application/json"), ""), 64).unwrap_err();
        assert_eq!(err.into_response().status(), 400);
    }

    #[test]
    fn wrong_types_and_missing_fields_are_all_reported() {
        let body = optional_json(
            &request(
                Some("application/json"),
                r#"{"email":5,"name":null,"phone":["x"],"n":"ok"}"#,
            ),
            1024,
        )
        .unwrap()
        .unwrap();
        let mut f = body.fields();
        f.string("email");
        f.string("password");
        assert_eq!(f.nullable("name"), Some(None));
        assert_eq!(f.nullable("absent"), None);
        assert_eq!(f.optional("n"), Some("ok".to_owned()));
        f.optional("phone");
        let Err(Failure::Auth(err)) = f.finish() else {
            panic!("expected errors")
        };
        let codes: Vec<_> = err
            .field_errors()
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            codes,
            [
                ("email", "invalid_type"),
                ("password", "required"),
                ("phone", "invalid_type")
            ]
        );
        assert!(body.has("email") && !body.has("name") && !body.has("absent"));
    }

    #[test]
    fn choices_parse_or_are_invalid() {
        use crate::mfa::MfaMethod;
        assert_eq!(
            choice::<MfaMethod>("m", "sms", "x").unwrap(),
            MfaMethod::Sms
        );
        for bad in ["", "carrier pigeon", "ＳＭＳ", "sms\0", &"s".repeat(5000)] {
            let Err(Failure::Auth(err)) = choice::<MfaMethod>("m", bad, "totp, sms") else {
                panic!("{bad:.10} accepted")
            };
            let errors = err.field_errors();
            assert_eq!(errors.len(), 1);
            assert_eq!(
                (errors[0].field.as_str(), errors[0].code.as_str()),
                ("m", "invalid_choice")
            );
            assert!(errors[0].message.contains("totp, sms"));
        }
    }

    #[test]
    fn string_arrays_are_typed() {
        let body = optional_json(
            &request(
                Some("application/json"),
                r#"{"a":["x","ÿ"],"b":[1],"c":"x","e":[]}"#,
            ),
            1024,
        )
        .unwrap()
        .unwrap();
        let mut f = body.fields();
        assert_eq!(f.strings("a"), ["x", "ÿ"]);
        assert!(f.strings("e").is_empty());
        f.strings("b");
        f.strings("c");
        f.strings("d");
        let Err(Failure::Auth(err)) = f.finish() else {
            panic!("expected errors")
        };
        let codes: Vec<_> = err.field_errors().iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["invalid_type", "invalid_type", "required"]);
    }

    #[test]
    fn forms_are_read_as_string_fields() {
        let form = "application/x-www-form-urlencoded";
        for ct in [form, "application/x-www-form-urlencoded; charset=UTF-8"] {
            let body = json_or_form(
                &request(Some(ct), "token=a%2Bb+c&token_type_hint=refresh_token&x="),
                1024,
            )
            .unwrap();
            let mut f = body.fields();
            assert_eq!(f.string("token"), "a+b c");
            assert_eq!(f.optional("token_type_hint").unwrap(), "refresh_token");
            assert_eq!(f.optional("x").unwrap(), "");
            f.finish().unwrap();
        }
        // JSON still works; other types do not.
        let body =
            json_or_form(&request(Some("application/json"), r#"{"token":"t"}"#), 64).unwrap();
        assert_eq!(body.fields().string("token"), "t");
        let status = |r: Result<JsonBody, Failure>| r.unwrap_err().into_response().status();
        assert_eq!(
            status(json_or_form(&request(Some("text/plain"), "token=t"), 64)),
            415
        );
        assert_eq!(status(json_or_form(&request(None, "token=t"), 64)), 415);
        // Repeated fields, empty and oversized bodies.
        assert_eq!(
            status(json_or_form(&request(Some(form), "token=a&token=b"), 64)),
            400
        );
        assert_eq!(status(json_or_form(&request(Some(form), ""), 64)), 400);
        let huge = format!("token={}", "x".repeat(64));
        assert_eq!(status(json_or_form(&request(Some(form), &huge), 64)), 413);
        // Missing fields and invalid UTF-8 (replaced, never a panic).
        let body = json_or_form(&request(Some(form), "other=1&%FF=%FE"), 64).unwrap();
        let mut f = body.fields();
        f.string("token");
        assert!(f.finish().is_err());
    }

    #[test]
    fn unicode_survives() {
        let body = optional_json(
            &request(Some("application/json"), r#"{"p":"pässwörd 🔑\u0000"}"#),
            1024,
        )
        .unwrap()
        .unwrap();
        let mut f = body.fields();
        assert_eq!(f.string("p"), "pässwörd 🔑\0");
    }
}
