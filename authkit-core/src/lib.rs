//! authkit-core: the domain of authkit.
#![forbid(unsafe_code)]

pub mod audit;
pub mod clock;
pub mod config;
pub mod email;
pub mod error;
pub mod mail;
pub mod one_time;
pub mod password;
pub mod principal;
pub mod rate_limit;
pub mod roles;
pub mod secret;
mod service;
pub mod session;
pub mod store;
pub mod token;
pub mod user;

pub use audit::RequestMeta;
pub use config::{AuthConfig, AuthConfigBuilder, ConfigError};
pub use error::{AuthError, AuthResult, FieldError};
pub use principal::{Principal, require_all, require_any, require_permission};
pub use service::{
    Auth, AuthBuilder, Credentials, DataExport, EventHook, Introspection, LoginOutcome, Me,
    ProfileUpdate, Registered, Registration, RegistrationChallenge, TokenPair,
};
