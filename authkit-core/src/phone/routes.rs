//! The phone routes (`/phone/verify/...`): their request types and table.
//! The handlers are in the api layer (`api/handlers.rs`).

use http::Method;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::account::routes::{Accepted, UserAnswer};
use crate::api::routes::{Access, Endpoint, Input, Route, Success, named};

/// `POST /phone/verify/start`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct PhoneRequest {
    /// The phone number (E.164); unverified if it changed.
    pub(crate) phone: String,
}

/// `POST /phone/verify/confirm`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct PhoneCode {
    /// The texted 6-digit code.
    pub(crate) code: String,
}

/// The routes of the phone feature.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        Method::POST,
        "/phone/verify/start",
        Endpoint::PhoneVerifyStart,
        "account",
        "Set the caller's phone (E.164; unverified if it changed) and text it a 6-digit code",
    )
    .access(Access::Signed)
    .input(Input::Json(named::<PhoneRequest>))
    .answers(&[Success::json(202, "Code sent", named::<Accepted>)]),
    Route::new(
        Method::POST,
        "/phone/verify/confirm",
        Endpoint::PhoneVerifyConfirm,
        "account",
        "Prove the phone with the texted code (wrong code: 401 mfa_invalid_code)",
    )
    .access(Access::Signed)
    .input(Input::Json(named::<PhoneCode>))
    .answers(&[Success::json(200, "Phone verified", named::<UserAnswer>)]),
];
