//! Every answer the suite receives, checked against the server's own
//! OpenAPI document: the operation of its path and method must document
//! its status, and its body must be of the documented content type and
//! match the documented schema (JSON Schema 2020-12, formats checked).
//! Requests to paths or methods the document does not have (the 404 and
//! 405 probes of the suite) have nothing to be checked against.

use std::collections::HashMap;
use std::sync::Mutex;

use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

/// The document of one server, and the validators built from it.
pub struct Contract {
    doc: Value,
    validators: Mutex<HashMap<String, std::sync::Arc<Validator>>>,
}

impl Contract {
    /// The contract of `doc` (an OpenAPI 3.1 document).
    pub fn new(doc: Value) -> Self {
        Self {
            doc,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// Checks one answer: `path` is without the query, relative to the
    /// document's server (the mount point), or with `at_root` relative to
    /// the host's root (where operations with their own `/` server, the
    /// JWKS, are served).
    ///
    /// # Errors
    /// What does not match, for the test's failure message.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        at_root: bool,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), String> {
        let Some((template, item)) = self.path_item(path) else {
            return Ok(());
        };
        let Some(operation) = item.get(method.to_ascii_lowercase()) else {
            return Ok(());
        };
        let served_at_root = operation["servers"][0]["url"] == "/";
        if served_at_root != at_root {
            return Ok(());
        }
        let at = format!("{method} {path} ({template}) answered {status}");
        let response = operation["responses"]
            .get(status.to_string())
            .ok_or_else(|| format!("{at}: the status is not documented"))?;
        let response = self.resolve(response);
        let content = response.get("content").and_then(Value::as_object);
        let Some(content) = content.filter(|c| !c.is_empty()) else {
            return if body.is_empty() {
                Ok(())
            } else {
                Err(format!("{at}: a body where none is documented"))
            };
        };
        let essence = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|ct| ct.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("{at}: no content type"))?;
        let media = content.get(&essence).ok_or_else(|| {
            format!(
                "{at}: content type {essence} is not one of {:?}",
                content.keys().collect::<Vec<_>>()
            )
        })?;
        let instance: Value = serde_json::from_slice(body)
            .map_err(|e| format!("{at}: the body is not JSON ({e})"))?;
        let Some(schema) = media.get("schema") else {
            return Ok(());
        };
        let key = format!("{method} {template} {status} {essence}");
        let validator = self.validator(&key, schema)?;
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{at}: {}\nbody: {instance}", errors.join("; ")))
        }
    }

    /// The document's path template `path` falls under, and its item.
    fn path_item(&self, path: &str) -> Option<(&str, &Value)> {
        self.doc["paths"]
            .as_object()?
            .iter()
            .find(|(template, _)| fits(template, path))
            .map(|(template, item)| (template.as_str(), item))
    }

    /// `value`, or what its `$ref` points to.
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        value
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| self.doc.pointer(pointer))
            .unwrap_or(value)
    }

    /// The validator of `schema`, whose `#/components/...` references
    /// resolve against the document's components.
    fn validator(&self, key: &str, schema: &Value) -> Result<std::sync::Arc<Validator>, String> {
        let mut validators = self
            .validators
            .lock()
            .map_err(|_| "a check panicked".to_owned())?;
        if let Some(validator) = validators.get(key) {
            return Ok(validator.clone());
        }
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| format!("{key}: the documented schema does not compile: {e}"))?;
        let validator = std::sync::Arc::new(validator);
        validators.insert(key.to_owned(), validator.clone());
        Ok(validator)
    }
}

/// Whether `path` fits `template` (`{name}` matches one non-empty
/// segment).
fn fits(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(t), Some(p)) if t.starts_with('{') && t.ends_with('}') => {
                if p.is_empty() {
                    return false;
                }
            }
            (Some(t), Some(p)) if t == p => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> Contract {
        Contract::new(json!({
            "paths": {
                "/things/{id}": {"get": {"responses": {
                    "200": {"description": "ok", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "204": {"description": "empty"},
                    "404": {"$ref": "#/components/responses/NotFound"}
                }}}
            },
            "components": {
                "schemas": {
                    "Thing": {"type": "object", "required": ["id"],
                              "properties": {"id": {"type": "string", "format": "uuid"},
                                             "n": {"type": ["integer", "null"]}}},
                    "Problem": {"type": "object", "required": ["code"]}
                },
                "responses": {"NotFound": {"description": "nf", "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}
            }
        }))
    }

    const JSON: Option<&str> = Some("application/json");
    const ID: &str = r#"{"id":"0190b0a4-6c57-7cc2-9b1c-3a6f1b2c3d4e"}"#;

    #[test]
    fn matching_answers_pass() {
        let c = contract();
        assert_eq!(
            c.check("GET", "/things/x", false, 200, JSON, ID.as_bytes()),
            Ok(())
        );
        assert_eq!(c.check("GET", "/things/x", false, 204, None, b""), Ok(()));
        let problem = Some("application/problem+json");
        assert_eq!(
            c.check(
                "GET",
                "/things/x",
                false,
                404,
                problem,
                br#"{"code":"not_found"}"#
            ),
            Ok(())
        );
        // Nothing to check against: another path or method, or a path
        // under the mount that the document serves at the root.
        assert_eq!(c.check("GET", "/things/x", true, 500, None, b"x"), Ok(()));
        assert_eq!(c.check("GET", "/other", false, 500, None, b"x"), Ok(()));
        assert_eq!(c.check("POST", "/things/x", false, 405, None, b"x"), Ok(()));
    }

    #[test]
    fn mismatches_fail() {
        let c = contract();
        for (status, content_type, body) in [
            (200, JSON, &br#"{"n":1}"#[..]),
            (200, JSON, br#"{"id":"not a uuid"}"#),
            (
                200,
                JSON,
                br#"{"id":"0190b0a4-6c57-7cc2-9b1c-3a6f1b2c3d4e","n":"1"}"#,
            ),
            (200, Some("text/plain"), ID.as_bytes()),
            (200, JSON, b""),
            (201, JSON, ID.as_bytes()),
            (204, JSON, ID.as_bytes()),
            (404, JSON, br#"{"code":"x"}"#),
        ] {
            assert!(
                c.check("GET", "/things/x", false, status, content_type, body)
                    .is_err(),
                "{status} {}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
