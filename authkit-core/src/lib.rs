//! authkit-core: the domain of authkit.
#![forbid(unsafe_code)]

pub mod audit;
pub mod clock;
pub mod email;
pub mod error;
pub mod mail;
pub mod one_time;
pub mod password;
pub mod rate_limit;
pub mod secret;
pub mod session;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;
pub mod user;

pub use error::{AuthError, AuthResult, FieldError};
