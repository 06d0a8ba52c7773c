//! Request bodies: size, media type, JSON, and the route's request type.
//!
//! Bodies are JSON objects; the routes of OAuth-family standards
//! (introspection) also read `application/x-www-form-urlencoded`, whose
//! fields are strings. Unknown fields are ignored. A field of the wrong type
//! or a missing required field answers 422 `validation_failed` naming every
//! such field at once.
//!
//! Each route reads one request type (`Deserialize` + `ToSchema`). A valid
//! body is deserialized in one pass, straight into that type. serde stops
//! at the first error, so a body it refuses is read again as a JSON object
//! and checked against the type's generated schema ([`check`]): every
//! property the schema lists is checked (`required`, `invalid_type`), in
//! declaration order. The schema that documents a route is thus the one
//! that validates it.

use std::str::FromStr;

use bytes::Bytes;
use http::Request;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Schema, SchemaType, Type};

use super::problem::Failure;
use crate::error::{AuthError, FieldError};

/// `value` of `field` parsed as one of a fixed set of names (`expected`
/// lists them for the message); anything else is a 422 with an
/// `invalid_choice` field error. Read after the body's type is read, so a
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

/// Reads the body of `request` as `T`: `None` when it is empty. One pass
/// for a valid body; see the module docs for an invalid one.
pub(crate) fn optional_typed<T: DeserializeOwned + ToSchema>(
    request: &Request<Bytes>,
    limit: usize,
) -> Result<Option<T>, Failure> {
    let Some(body) = sized_body(request, limit)? else {
        return Ok(None);
    };
    if !is_json(request) {
        return Err(Failure::UnsupportedMediaType);
    }
    // Only an object: serde would also read a struct from an array.
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if object && let Ok(value) = serde_json::from_slice::<T>(body) {
        return Ok(Some(value));
    }
    parse_object(body)?.typed().map(Some)
}

/// Reads a body of type `T` that must be there.
pub(crate) fn typed<T: DeserializeOwned + ToSchema>(
    request: &Request<Bytes>,
    limit: usize,
) -> Result<T, Failure> {
    optional_typed(request, limit)?.ok_or(Failure::Malformed("A JSON body is required."))
}

/// Reads the body of `request` as a JSON object, for routes whose request
/// type depends on which fields are present: `None` when it is empty.
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
    parse_object(body).map(Some)
}

/// The JSON object of `body`.
fn parse_object(body: &[u8]) -> Result<JsonBody, Failure> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(JsonBody(map)),
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
    /// Whether `field` is present and not `null`.
    pub(crate) fn has(&self, field: &str) -> bool {
        self.0.get(field).is_some_and(|v| !v.is_null())
    }

    /// The body as `T`, after [`check`] found every field fine.
    pub(crate) fn typed<T: DeserializeOwned + ToSchema>(self) -> Result<T, Failure> {
        check::<T>(&self.0)?;
        // Only a field the schema does not describe could still fail here.
        T::deserialize(Value::Object(self.0))
            .map_err(|_| Failure::Malformed("The body does not fit this route."))
    }
}

/// What a property of a request type holds, as its schema says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string (also an enumeration, or a reference).
    String,
    /// An array of strings.
    Strings,
    /// `true` or `false`.
    Boolean,
    /// An integer.
    Integer,
}

impl Kind {
    fn of(schema: &RefOr<Schema>) -> Self {
        let schema_type = match schema {
            RefOr::T(Schema::Array(_)) => return Self::Strings,
            RefOr::T(Schema::Object(object)) => &object.schema_type,
            _ => return Self::String,
        };
        let is = |t: Type| match schema_type {
            SchemaType::Type(own) => *own == t,
            SchemaType::Array(types) => types.contains(&t),
            SchemaType::AnyValue => false,
        };
        if is(Type::Array) {
            Self::Strings
        } else if is(Type::Boolean) {
            Self::Boolean
        } else if is(Type::Integer) {
            Self::Integer
        } else {
            Self::String
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Strings => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            Self::Boolean => value.is_boolean(),
            Self::Integer => value.is_i64() || value.is_u64(),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Self::String => "Expected a string.",
            Self::Strings => "Expected an array of strings.",
            Self::Boolean => "Expected true or false.",
            Self::Integer => "Expected an integer.",
        }
    }
}

/// Every bad field of `body` against `T`'s generated schema, at once: a
/// required property absent or `null` (`required`), a property of another
/// type (`invalid_type`). Unknown fields are ignored.
pub(crate) fn check<T: ToSchema>(body: &Map<String, Value>) -> Result<(), Failure> {
    let RefOr::T(Schema::Object(schema)) = T::schema() else {
        return Ok(());
    };
    let mut errors = Vec::new();
    for (name, property) in &schema.properties {
        match body.get(name) {
            None | Some(Value::Null) => {
                if schema.required.iter().any(|r| r == name) {
                    errors.push(FieldError::new(name, "required", "This field is required."));
                }
            }
            Some(value) => {
                let kind = Kind::of(property);
                if !kind.accepts(value) {
                    errors.push(FieldError::new(name, "invalid_type", kind.expected()));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::Auth(AuthError::Validation(errors)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, ToSchema)]
    struct Login {
        email: String,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    #[allow(dead_code)]
    struct Sample {
        email: String,
        password: String,
        name: Option<String>,
        n: Option<String>,
        phone: Option<String>,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    #[allow(dead_code)]
    struct Arrays {
        a: Vec<String>,
        e: Vec<String>,
        b: Vec<String>,
        c: Vec<String>,
        d: Vec<String>,
    }

    #[derive(Debug, Deserialize, ToSchema)]
    struct Form {
        token: String,
        token_type_hint: Option<String>,
        x: Option<String>,
    }

    fn codes(failure: Failure) -> Vec<(String, String)> {
        let Failure::Auth(err) = failure else {
            panic!("expected field errors")
        };
        err.field_errors()
            .iter()
            .map(|e| (e.field.clone(), e.code.clone()))
            .collect()
    }

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
            let r = request(Some(ct), r#"{"email":"a@b.c","extra":[1]}"#);
            assert_eq!(typed::<Login>(&r, 1024).unwrap().email, "a@b.c");
            // The slow path (a JSON object read first) agrees.
            let body = optional_json(&r, 1024).unwrap().unwrap();
            assert_eq!(body.typed::<Login>().unwrap().email, "a@b.c");
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
        let r = request(
            Some("application/json"),
            r#"{"email":5,"name":null,"phone":["x"],"n":"ok"}"#,
        );
        let expected = [
            ("email", "invalid_type"),
            ("password", "required"),
            ("phone", "invalid_type"),
        ]
        .map(|(f, c)| (f.to_owned(), c.to_owned()));
        assert_eq!(codes(typed::<Sample>(&r, 1024).unwrap_err()), expected);
        let body = optional_json(&r, 1024).unwrap().unwrap();
        assert!(body.has("email") && !body.has("name") && !body.has("absent"));
        assert_eq!(codes(body.typed::<Sample>().unwrap_err()), expected);
    }

    #[test]
    fn valid_bodies_read_the_same_on_both_paths() {
        // Repeated keys: the last one wins, as in a JSON object.
        let r = request(Some("application/json"), r#"{"email":"a","email":"b"}"#);
        assert_eq!(typed::<Login>(&r, 64).unwrap().email, "b");
        // `null` for an optional field is absent; a struct is never read
        // from an array.
        let r = request(
            Some("application/json"),
            r#"{"email":"e","password":"p","name":null}"#,
        );
        assert_eq!(typed::<Sample>(&r, 1024).unwrap().name, None);
        let r = request(Some("application/json"), r#"["a@b.c"]"#);
        assert_eq!(
            typed::<Login>(&r, 64).unwrap_err().into_response().status(),
            400
        );
        assert!(
            optional_typed::<Login>(&request(None, " "), 64)
                .unwrap()
                .is_none()
        );
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
        let codes: Vec<_> = codes(body.typed::<Arrays>().unwrap_err())
            .into_iter()
            .map(|(field, code)| format!("{field}:{code}"))
            .collect();
        assert_eq!(codes, ["b:invalid_type", "c:invalid_type", "d:required"]);
        let r = request(
            Some("application/json"),
            r#"{"a":["x","ÿ"],"b":[],"c":[],"d":[],"e":[]}"#,
        );
        let arrays = typed::<Arrays>(&r, 1024).unwrap();
        assert_eq!(arrays.a, ["x", "ÿ"]);
        assert!(arrays.e.is_empty());
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
            let form = body.typed::<Form>().unwrap();
            assert_eq!(form.token, "a+b c");
            assert_eq!(form.token_type_hint.unwrap(), "refresh_token");
            assert_eq!(form.x.unwrap(), "");
        }
        // JSON still works; other types do not.
        let body =
            json_or_form(&request(Some("application/json"), r#"{"token":"t"}"#), 64).unwrap();
        assert_eq!(body.typed::<Form>().unwrap().token, "t");
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
        assert!(body.typed::<Form>().is_err());
    }

    #[test]
    fn unicode_survives() {
        let r = request(Some("application/json"), r#"{"email":"pässwörd 🔑\u0000"}"#);
        assert_eq!(typed::<Login>(&r, 1024).unwrap().email, "pässwörd 🔑\0");
    }
}
