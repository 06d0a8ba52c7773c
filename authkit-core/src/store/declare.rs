//! [`store_trait!`]: the one place a store method's signature is written.
//!
//! Each store trait is declared through this macro, which emits the trait
//! itself and the two decorators every store call passes through, so that
//! neither restates a signature:
//!
//! - [`Timed`] times each call into the `authkit_store_call_duration_seconds`
//!   histogram, labelled `<group>.<method>` and `ok`/`error` (see
//!   [`crate::telemetry`]); [`Store::new`](super::Store::new) applies it to
//!   every trait of the bundle.
//! - `Watched` (the account cache's) records, after a method marked
//!   `=> changes(account)`, that the account changed, so a cached `/me` or
//!   refresh view is dropped on every instance (see `auth::account_cache`).
//!
//! Without a metrics recorder timing costs two clock reads per call.

use std::sync::Arc;

/// One store, timed: each call is recorded in the
/// `authkit_store_call_duration_seconds` histogram.
pub(crate) struct Timed<T: ?Sized>(pub(crate) Arc<T>);

/// Declares a store trait (object-safe, `Send + Sync`, methods through
/// `async_trait`) and implements it for [`Timed`] and for the account
/// cache's `Watched`.
///
/// ```text
/// store_trait! {
///     /// Accounts.
///     pub trait UserStore: "users" {
///         /// Applies one update.
///         async fn update_user(&self, user_id: Uuid, update: &UserUpdate) -> AuthResult<bool>
///             => changes(user_id);
///     }
/// }
/// ```
///
/// `"users"` is the metric label's group; `=> changes(expr)` names the
/// account whose cached views the write invalidates.
macro_rules! store_trait {
    (
        $(#[$attr:meta])*
        pub trait $trait:ident: $group:literal {
            $(
                $(#[$mattr:meta])*
                async fn $method:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty
                    $(=> changes($account:expr))?;
            )*
        }
    ) => {
        $(#[$attr])*
        #[async_trait::async_trait]
        pub trait $trait: Send + Sync {
            $(
                $(#[$mattr])*
                async fn $method(&self $(, $arg: $ty)*) -> $ret;
            )*
        }

        #[async_trait::async_trait]
        impl $trait for $crate::store::declare::Timed<dyn $trait> {
            $(
                async fn $method(&self $(, $arg: $ty)*) -> $ret {
                    let started = std::time::Instant::now();
                    let result = self.0.$method($($arg),*).await;
                    $crate::telemetry::store_call(
                        concat!($group, ".", stringify!($method)),
                        started,
                        &result,
                    );
                    result
                }
            )*
        }

        #[async_trait::async_trait]
        impl $trait for $crate::auth::account_cache::Watched<dyn $trait> {
            $(
                async fn $method(&self $(, $arg: $ty)*) -> $ret {
                    let result = self.inner().$method($($arg),*).await;
                    $(self.changed($account).await;)?
                    result
                }
            )*
        }
    };
}

pub(crate) use store_trait;
