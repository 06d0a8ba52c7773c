//! The end-to-end suite against the actix-web adapter.
//!
//! The server is spawned on the case's tokio runtime: actix-web runs its
//! workers on threads of their own, and dropping the spawned server (when
//! the case's runtime shuts down) stops them and releases the port.
#![allow(clippy::expect_used)]

use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use authkit_core::api::Api;
use authkit_e2e::{Factory, HOST_ROUTE};

fn actix_server() -> Factory {
    Arc::new(|auth, config| {
        Box::pin(async move {
            let api = Api::new(auth, config).expect("valid api config");
            let listener =
                std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
            let addr = listener.local_addr().expect("bound address");
            let server = HttpServer::new(move || {
                App::new()
                    .service(
                        web::resource(HOST_ROUTE)
                            .wrap(authkit_actix::AuthMiddleware::new(api.clone()))
                            .route(web::get().to(whoami)),
                    )
                    .configure(authkit_actix::configure(api.clone()))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .expect("listen on the bound socket")
            .run();
            tokio::spawn(server);
            addr
        })
    })
}

/// The host's own route: the caller's user id.
async fn whoami(authkit_actix::AuthUser(user): authkit_actix::AuthUser) -> String {
    user.user_id.to_string()
}

authkit_e2e::e2e_tests!(actix_server());
