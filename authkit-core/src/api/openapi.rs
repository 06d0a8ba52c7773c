//! The OpenAPI 3.1 document, generated at run time from the features'
//! route tables ([`TABLES`](super::routes::TABLES)) and the request and
//! answer types they name (`ToSchema` derives), with utoipa's builders. A
//! route is documented by its row: nothing here lists routes.
//!
//! Every operation also gets the errors that follow from its row: 429,
//! 500 and 503 for all; 400, 413, 415 and 422 for a route with a body;
//! 401 and 403 for an authenticated one. Errors are problem+json
//! ([`PROBLEM`]'s schema) and each status lists its `code`s.

use http::Method;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::server::Server;
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required, Schema,
};

use super::cookies::ACCESS_COOKIE;
use super::problem::{PROBLEM_JSON, ProblemBody};
use super::routes::{Access, Endpoint, Input, Problem, Route, SchemaFn, Success, named};

/// `malformed_request`.
pub(crate) const BAD_REQUEST: Problem = Problem {
    name: "BadRequest",
    status: 400,
    description: "malformed_request: empty, invalid or non-object JSON body",
};
/// `payload_too_large`.
pub(crate) const PAYLOAD_TOO_LARGE: Problem = Problem {
    name: "PayloadTooLarge",
    status: 413,
    description: "payload_too_large",
};
/// `unsupported_media_type`.
pub(crate) const UNSUPPORTED_MEDIA_TYPE: Problem = Problem {
    name: "UnsupportedMediaType",
    status: 415,
    description: "unsupported_media_type: the body is not application/json",
};
/// `validation_failed`.
pub(crate) const VALIDATION_FAILED: Problem = Problem {
    name: "ValidationFailed",
    status: 422,
    description: "validation_failed or password_too_weak, with errors[] (field codes such as \
                  required, invalid_type, invalid_choice)",
};
/// The 401 codes.
pub(crate) const UNAUTHORIZED: Problem = Problem {
    name: "Unauthorized",
    status: 401,
    description: "invalid_credentials, token_invalid, token_expired, refresh_token_reused or \
                  mfa_invalid_code",
};
/// The 403 codes.
pub(crate) const FORBIDDEN: Problem = Problem {
    name: "Forbidden",
    status: 403,
    description: "forbidden, email_not_verified, account_locked, account_inactive, \
                  password_change_required or registration_closed",
};
/// `email_taken`.
pub(crate) const EMAIL_TAKEN: Problem = Problem {
    name: "Conflict",
    status: 409,
    description: "email_taken",
};
/// `not_found`.
pub(crate) const NOT_FOUND: Problem = Problem {
    name: "NotFound",
    status: 404,
    description: "not_found",
};
/// `rate_limited`.
pub(crate) const TOO_MANY_REQUESTS: Problem = Problem {
    name: "TooManyRequests",
    status: 429,
    description: "rate_limited; see Retry-After",
};
/// `internal`.
pub(crate) const INTERNAL: Problem = Problem {
    name: "Internal",
    status: 500,
    description: "internal: the request could not be completed",
};
/// `server_busy` and `store_unavailable`.
pub(crate) const SERVER_BUSY: Problem = Problem {
    name: "ServerBusy",
    status: 503,
    description: "server_busy: the password-hash threads and their line are full; refused at \
                  once, without hashing. See Retry-After. store_unavailable: the store \
                  cannot be reached",
};
/// `feature_disabled`.
pub(crate) const FEATURE_DISABLED: Problem = Problem {
    name: "FeatureDisabled",
    status: 404,
    description: "feature_disabled (MFA is off), not_found",
};
/// The organisation conflicts.
pub(crate) const LAST_OWNER: Problem = Problem {
    name: "LastOwner",
    status: 409,
    description: "slug_taken, already_member or last_owner",
};
/// A failing identity provider.
pub(crate) const PROVIDER_ERROR: Problem = Problem {
    name: "ProviderError",
    status: 502,
    description: "oauth_provider_error: the provider failed, timed out or answered an error",
};
/// A bad social-login state.
pub(crate) const OAUTH_STATE: Problem = Problem {
    name: "OAuthStateInvalid",
    status: 400,
    description: "oauth_state_invalid (missing, forged, expired, used, other provider or other \
                  browser) or malformed_request (repeated parameter)",
};
/// A bad ID token.
pub(crate) const OAUTH_TOKEN: Problem = Problem {
    name: "OAuthTokenInvalid",
    status: 401,
    description: "oauth_token_invalid: the ID token failed verification",
};
/// A refused social sign-in.
pub(crate) const OAUTH_DENIED: Problem = Problem {
    name: "OAuthDenied",
    status: 403,
    description: "oauth_denied, oauth_email_missing, registration_closed, email_not_verified, \
                  account_inactive, account_locked",
};
/// A refused link.
pub(crate) const OAUTH_CONFLICT: Problem = Problem {
    name: "OAuthConflict",
    status: 409,
    description: "account_exists_unverified, identity_taken",
};
/// The last way to sign in.
pub(crate) const LAST_SIGN_IN_METHOD: Problem = Problem {
    name: "LastSignInMethod",
    status: 409,
    description: "last_sign_in_method: no password and no other identity; set a password \
                  through the reset flow first",
};

/// The schema name of error bodies.
pub(crate) const PROBLEM: &str = "Problem";

/// The document's own route.
pub(crate) static ROUTES: &[Route] = &[Route::new(
    Method::GET,
    "/openapi.json",
    Endpoint::OpenApi,
    "meta",
    "This document",
)
.answers(&[Success::json(200, "OpenAPI 3.1", any_object)])];

/// A JSON object of any shape.
fn any_object(_: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Object).into()
}

/// The document of the routes in `tables`, served under `mount`.
pub(crate) fn document(tables: &[&[Route]], mount: &str) -> OpenApi {
    let mut schemas = Vec::new();
    let mut problems: Vec<Problem> = Vec::new();
    let mut paths = Paths::new();
    for route in tables.iter().flat_map(|table| table.iter()) {
        let operation = operation(route, &mut schemas, &mut problems);
        paths.add_path_operation(route.path, vec![http_method(&route.method)], operation);
    }
    paths.add_path_operation(
        super::routes::JWKS_PATH,
        vec![HttpMethod::Get],
        OperationBuilder::new()
            .tag("meta")
            .summary(Some(
                "Published verification keys (served at the host root, outside the mount \
                 point)",
            ))
            .servers(Some([Server::new("/")]))
            .response(
                "200",
                ResponseBuilder::new().description("JWKS").content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(
                            ObjectBuilder::new()
                                .property(
                                    "keys",
                                    ObjectBuilder::new()
                                        .schema_type(Type::Object)
                                        .to_array_builder(),
                                )
                                .required("keys"),
                        ))
                        .build(),
                ),
            ),
    );
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        )
        .security_scheme(
            "accessCookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(ACCESS_COOKIE))),
        )
        .security_scheme(
            "introspectionClient",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "The introspection client configured by AUTHKIT_INTROSPECTION_CLIENT_ID \
                         and AUTHKIT_INTROSPECTION_CLIENT_SECRET.",
                    ))
                    .build(),
            ),
        );
    named::<ProblemBody>(&mut schemas);
    for problem in &problems {
        components = components.response(problem.name, problem_response(problem));
    }
    for (name, schema) in dedup(schemas) {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("authkit HTTP API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Routes are relative to the mount point. Errors are RFC 9457 \
                     problem+json with a stable `code`. Authenticated routes take \
                     `Authorization: Bearer <access token>` or, in cookie mode, the \
                     `__Host-authkit_access` cookie (state-changing cookie requests need an \
                     allowed Origin or Referer).",
                )),
        )
        .servers(Some([Server::new(if mount.is_empty() {
            "/"
        } else {
            mount
        })]))
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

/// The operation of one row; the errors it answers are added to
/// `problems`.
fn operation(
    route: &Route,
    schemas: &mut Vec<(String, RefOr<Schema>)>,
    problems: &mut Vec<Problem>,
) -> utoipa::openapi::path::Operation {
    let doc = &route.doc;
    let mut operation = OperationBuilder::new()
        .tag(doc.tag)
        .summary(Some(doc.summary))
        .description((!doc.description.is_empty()).then_some(doc.description));
    for name in route
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
    {
        let mut schema = ObjectBuilder::new().schema_type(Type::String);
        if name == "id" || name.ends_with("_id") {
            schema = schema.format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Uuid,
            )));
        }
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema)),
        );
    }
    if let Some(query) = doc.query
        && let RefOr::T(Schema::Object(object)) = query(schemas)
    {
        for (name, schema) in object.properties {
            let required = if object.required.contains(&name) {
                Required::True
            } else {
                Required::False
            };
            operation = operation.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(required)
                    .schema(Some(schema)),
            );
        }
    }
    let mut own: Vec<Problem> = vec![TOO_MANY_REQUESTS, INTERNAL, SERVER_BUSY];
    let body = |schema: SchemaFn, schemas: &mut Vec<_>| {
        ContentBuilder::new().schema(Some(schema(schemas))).build()
    };
    let request = match doc.input {
        Input::None => None,
        Input::Json(schema) => Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", body(schema, schemas)),
        ),
        Input::OptionalJson(schema) => Some(
            RequestBodyBuilder::new()
                .required(Some(Required::False))
                .content("application/json", body(schema, schemas)),
        ),
        Input::JsonOrForm(schema) => {
            let content = body(schema, schemas);
            Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content("application/x-www-form-urlencoded", content.clone())
                    .content("application/json", content),
            )
        }
    };
    if let Some(request) = request {
        operation = operation.request_body(Some(request.build()));
        own.extend([
            BAD_REQUEST,
            PAYLOAD_TOO_LARGE,
            UNSUPPORTED_MEDIA_TYPE,
            VALIDATION_FAILED,
        ]);
    }
    match doc.access {
        Access::Public => {}
        Access::Signed => {
            operation = operation
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .security(SecurityRequirement::new(
                    "accessCookie",
                    Vec::<String>::new(),
                ));
            own.extend([UNAUTHORIZED, FORBIDDEN]);
        }
        Access::Optional => {
            operation = operation
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .security(SecurityRequirement::new(
                    "accessCookie",
                    Vec::<String>::new(),
                ))
                .security(SecurityRequirement::default());
            own.extend([UNAUTHORIZED, FORBIDDEN]);
        }
        Access::Introspection => {
            operation = operation
                .security(SecurityRequirement::new(
                    "introspectionClient",
                    Vec::<String>::new(),
                ))
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .security(SecurityRequirement::new(
                    "accessCookie",
                    Vec::<String>::new(),
                ));
            own.extend([UNAUTHORIZED, FORBIDDEN]);
        }
    }
    for answer in doc.answers {
        let mut response = ResponseBuilder::new().description(answer.description);
        if let Some(schema) = answer.body {
            response = response.content("application/json", body(schema, schemas));
        }
        operation = operation.response(answer.status.to_string(), response);
    }
    // The route's own errors first: they replace the general ones of
    // their status.
    let mut statuses: Vec<Problem> = Vec::new();
    for problem in doc.problems.iter().chain(own.iter()) {
        if statuses.iter().all(|p| p.status != problem.status) {
            statuses.push(*problem);
        }
    }
    statuses.sort_by_key(|p| p.status);
    for problem in statuses {
        operation = operation.response(
            problem.status.to_string(),
            RefOr::Ref(Ref::from_response_name(problem.name)),
        );
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    operation.build()
}

/// The shared response of `problem`.
fn problem_response(problem: &Problem) -> utoipa::openapi::Response {
    let mut response = ResponseBuilder::new()
        .description(problem.description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(PROBLEM)))
                .build(),
        );
    if matches!(problem.status, 429 | 503) {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                .description(Some("Seconds to wait"))
                .build(),
        );
    }
    response.build()
}

/// The first schema of each name.
fn dedup(schemas: Vec<(String, RefOr<Schema>)>) -> Vec<(String, RefOr<Schema>)> {
    let mut seen = std::collections::BTreeSet::new();
    schemas
        .into_iter()
        .filter(|(name, _)| seen.insert(name.clone()))
        .collect()
}

fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}
