//! `/login/callback`: where the upstream provider sends the user back.
//!
//! The broker's own `state` finds the login in progress and is consumed on first use, so a
//! missing, unknown or replayed state ends in an error page without contacting the upstream.
//! From there on the client is known, and every failure is reported to it as an OAuth error
//! with the client's original `state`. The upstream's state and error details stay here.

use std::collections::HashMap;

use authbridge_core::model::LoginTransaction;
use authbridge_federation::FederationError;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::Broker;
use crate::pages;
use crate::respond::ResponseTarget;

pub(crate) async fn callback(
    State(broker): State<Broker>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    handle(broker, params).await
}

pub(crate) async fn callback_form(
    State(broker): State<Broker>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    handle(broker, params).await
}

async fn handle(broker: Broker, params: HashMap<String, String>) -> Response {
    let Some(state) = params.get("state").filter(|state| !state.is_empty()) else {
        tracing::warn!(target: "authbridge::security", "login callback without state");
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid login state",
            "The login response carries no state.",
        );
    };
    let transaction = match broker.store().take_transaction(state).await {
        Ok(Some(transaction)) => transaction,
        Ok(None) => {
            tracing::warn!(target: "authbridge::security", "login callback with unknown or already used state");
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid login state",
                "This login is unknown or was already completed.",
            );
        }
        Err(error) => {
            tracing::error!(%error, "loading a login transaction failed");
            return pages::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Server error",
                "The login could not be completed.",
            );
        }
    };

    let target = ResponseTarget {
        redirect_uri: transaction.request.redirect_uri.clone(),
        mode: transaction.request.response_mode,
        state: transaction.request.state.clone(),
    };
    if broker.inner.clock.now() >= transaction.expires_at {
        return target.error("access_denied", "The login took too long. Start it again.");
    }
    if let Some(error) = params.get("error") {
        return upstream_error(
            &transaction,
            &target,
            error,
            params.get("error_description"),
        );
    }
    let Some(code) = params.get("code").filter(|code| !code.is_empty()) else {
        tracing::warn!(connection = %transaction.connection, "upstream callback without code or error");
        return target.error(
            "server_error",
            "The identity provider returned neither a code nor an error.",
        );
    };

    match exchange(&broker, &transaction, code).await {
        Ok(login) => crate::login::complete(&broker, transaction, login, &target).await,
        Err(response) => response,
    }
}

/// Passes an upstream error on to the client: errors a client can act on keep their code,
/// anything else becomes `access_denied`.
fn upstream_error(
    transaction: &LoginTransaction,
    target: &ResponseTarget,
    error: &str,
    description: Option<&String>,
) -> Response {
    tracing::info!(connection = %transaction.connection, upstream_error = %error, "upstream returned an error");
    let code = match error {
        "login_required"
        | "consent_required"
        | "interaction_required"
        | "temporarily_unavailable" => error,
        _ => "access_denied",
    };
    let description = description
        .map(String::as_str)
        .unwrap_or("The identity provider denied the login.");
    target.error(code, description)
}

async fn exchange(
    broker: &Broker,
    transaction: &LoginTransaction,
    code: &str,
) -> Result<authbridge_federation::UpstreamLogin, Response> {
    let target = ResponseTarget {
        redirect_uri: transaction.request.redirect_uri.clone(),
        mode: transaction.request.response_mode,
        state: transaction.request.state.clone(),
    };
    let connection = match broker.store().connection(&transaction.connection).await {
        Ok(Some(connection)) => connection,
        Ok(None) => {
            tracing::warn!(connection = %transaction.connection, "connection removed during a login");
            return Err(target.error("access_denied", "The connection no longer exists."));
        }
        Err(error) => {
            tracing::error!(%error, "loading a connection failed");
            return Err(target.error("server_error", "The login could not be completed."));
        }
    };

    let federation = &broker.inner.federation;
    let result = async {
        let metadata = federation
            .metadata(&connection.options.discovery_url)
            .await?;
        federation
            .exchange_code(
                &metadata,
                &connection.options,
                code,
                &broker.settings().callback_url(),
                Some(&transaction.upstream_code_verifier),
                &transaction.upstream_nonce,
            )
            .await
    }
    .await;

    result.map_err(|error| {
        tracing::warn!(target: "authbridge::security", connection = %connection.name, %error, "upstream login failed");
        let (code, description) = describe_failure(&error);
        target.error(code, description)
    })
}

/// Maps an upstream failure to the OAuth error and description the client receives. The
/// description names the kind of failure, never upstream detail.
fn describe_failure(error: &FederationError) -> (&'static str, &'static str) {
    match error {
        error if error.is_upstream_unavailable() => (
            "temporarily_unavailable",
            "The identity provider is unavailable. Try again later.",
        ),
        FederationError::TokenRejected { .. } => (
            "access_denied",
            "The identity provider rejected the authorization code.",
        ),
        FederationError::InvalidIdToken(_)
        | FederationError::NonceMismatch
        | FederationError::AccessTokenHashMismatch => (
            "server_error",
            "The identity provider returned an ID token that failed validation.",
        ),
        _ => (
            "server_error",
            "The identity provider returned an invalid response.",
        ),
    }
}
