//! The account: registration (direct or confirmed by a code), email
//! verification, password login, refresh rotation, logout and sessions,
//! password change and reset, the owner's profile, deactivation, data
//! export, the forgotten-email lookup and token introspection.
//!
//! These are the core flows: they need only the base store contract
//! ([`crate::store`]).

mod config;
mod login;
mod password;
mod profile;
mod reauth;
mod register;
pub(crate) mod routes;

pub use config::AccountConfig;
pub use login::{Credentials, LoginOutcome, Sessions, TokenPair};
pub use password::Passwords;
pub(crate) use password::PendingPassword;
pub(crate) use profile::valid_url;
pub use profile::{
    Account, DataExport, Introspection, Me, MfaSummary, ProfileUpdate, RolePermissions,
    TokenTypeHint,
};
pub(crate) use register::clean_display_name;
pub use register::{EmailVerification, Registered, Registration, RegistrationChallenge, Signup};
