//! The end-to-end suite against the axum adapter.
#![allow(clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use authkit_core::api::Api;
use authkit_e2e::{Factory, HOST_ROUTE};

fn axum_server() -> Factory {
    Arc::new(|auth, config| {
        Box::pin(async move {
            let mount = config.mount_path.clone();
            let api = Api::new(auth, config).expect("valid api config");
            let host = axum::Router::new()
                .route(HOST_ROUTE, axum::routing::get(whoami))
                .layer(authkit_axum::AuthLayer::new(api.clone()));
            let app: axum::Router = axum::Router::new()
                .nest(&mount, authkit_axum::router(api.clone()))
                .merge(host)
                .merge(authkit_axum::well_known(api));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind a loopback port");
            let addr = listener.local_addr().expect("bound address");
            tokio::spawn(async move {
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await
            });
            addr
        })
    })
}

/// The host's own route: the caller's user id.
async fn whoami(authkit_axum::AuthUser(user): authkit_axum::AuthUser) -> String {
    user.user_id.to_string()
}

authkit_e2e::e2e_tests!(axum_server());
