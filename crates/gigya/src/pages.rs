//! HTML pages: the login form and the error page, rendered from askama templates in
//! `templates/` with HTML autoescaping.
//!
//! The login form is kept simple to parse for headless tests: one
//! `<form method="post" action="…">` holding `<input type="hidden" name="context" value="…">`
//! and the inputs `loginID` and `password`.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    site_name: &'a str,
    action: &'a str,
    context: &'a str,
    login_id: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    site_name: &'a str,
    title: &'a str,
    message: &'a str,
}

/// Content of the login page.
#[derive(Debug)]
pub(crate) struct LoginForm<'a> {
    pub(crate) site_name: &'a str,
    /// The form's action, the path of the `login` endpoint.
    pub(crate) action: &'a str,
    /// The pending authorization's context id.
    pub(crate) context: &'a str,
    /// The loginID to fill in again after a failed attempt.
    pub(crate) login_id: &'a str,
    pub(crate) error: Option<&'a str>,
}

/// Renders the login page with status `200`.
pub(crate) fn login_page(form: &LoginForm<'_>) -> Response {
    let page = LoginPage {
        site_name: form.site_name,
        action: form.action,
        context: form.context,
        login_id: form.login_id,
        error: form.error,
    };
    html_response(StatusCode::OK, page.render())
}

/// Renders the error page with `status`.
pub(crate) fn error_page(
    status: StatusCode,
    site_name: &str,
    title: &str,
    message: &str,
) -> Response {
    let page = ErrorPage {
        site_name,
        title,
        message,
    };
    html_response(status, page.render())
}

fn html_response(status: StatusCode, rendered: askama::Result<String>) -> Response {
    let body = match rendered {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "rendering an HTML page failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Rendering the page failed",
            )
                .into_response();
        }
    };

    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // No form-action directive: browsers apply it to the redirect that follows the login
    // POST, which leads to the relying party's origin.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn login_page_escapes_values() {
        let page = LoginPage {
            site_name: "Site <b>",
            action: "/oidc/op/v1.0/k/login",
            context: "ctx",
            login_id: "\"><script>",
            error: Some("<i>bad</i>"),
        };
        let html = page.render().unwrap();
        assert!(html.contains(r#"<form method="post" action="/oidc/op/v1.0/k/login">"#));
        assert!(html.contains(r#"<input type="hidden" name="context" value="ctx">"#));
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<i>bad</i>"));
        assert!(!html.contains("Site <b>"));
    }

    #[test]
    fn login_page_without_error_has_no_alert() {
        let page = LoginPage {
            site_name: "Site",
            action: "/login",
            context: "ctx",
            login_id: "",
            error: None,
        };
        assert!(!page.render().unwrap().contains("role=\"alert\""));
    }
}
