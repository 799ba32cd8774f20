//! HTML pages the broker shows: errors it cannot send back to a client, the connection
//! chooser, and the auto-submitting form of `response_mode=form_post`.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// A page for errors that cannot be redirected to a client: unknown client or redirect URI,
/// a callback with no valid login state.
pub(crate) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &ErrorPage { title, message })
}

/// One connection offered on the chooser page.
pub(crate) struct ConnectionLink {
    pub(crate) name: String,
    pub(crate) href: String,
}

#[derive(Template)]
#[template(path = "connections.html")]
struct ConnectionsPage<'a> {
    client_name: &'a str,
    connections: &'a [ConnectionLink],
}

/// Renders the page that lets the user pick one of several enabled connections.
pub(crate) fn connection_chooser(client_name: &str, connections: &[ConnectionLink]) -> Response {
    render(
        StatusCode::OK,
        &ConnectionsPage {
            client_name,
            connections,
        },
    )
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    action: &'a str,
    fields: &'a [(String, String)],
}

/// Renders the self-submitting form that delivers an authorization response with `form_post`.
pub(crate) fn form_post(action: &str, fields: &[(String, String)]) -> Response {
    render(StatusCode::OK, &FormPostPage { action, fields })
}

fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered.",
            )
                .into_response()
        }
    }
}
