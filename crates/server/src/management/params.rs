//! Query string parameters of the users endpoints.
//!
//! Auth0 validates query strings against a schema: an unknown parameter, a repeated one or a
//! value of the wrong form is rejected with `400 invalid_query_string` rather than ignored,
//! and so is a `q` outside the supported Lucene subset.

use std::cmp::Ordering;
use std::collections::HashMap;

use authbridge_core::query::{self, Query};
use serde_json::Value;

use super::error::{MAX_PAGED_RESULTS, ManagementError};
use super::render::FieldSelection;

/// Default and maximum `per_page` of `GET /api/v2/users`.
const DEFAULT_PER_PAGE: usize = 50;
const MAX_PER_PAGE: usize = 100;

/// The parameters of one request, by name, checked against the names an endpoint accepts.
pub(super) struct QueryParams(HashMap<String, String>);

impl QueryParams {
    /// Parses a raw query string, rejecting names outside `accepted` and repeated names.
    pub(super) fn parse(raw: Option<&str>, accepted: &[&str]) -> Result<Self, ManagementError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default())
            .map_err(|_| ManagementError::invalid_query("the query string is not URL-encoded"))?;

        let mut params = HashMap::new();
        for (name, value) in pairs {
            if !accepted.contains(&name.as_str()) {
                return Err(ManagementError::invalid_query(format!(
                    "additional property not allowed: {name}"
                )));
            }
            if params.contains_key(&name) {
                return Err(ManagementError::invalid_query(format!(
                    "{name} appears more than once"
                )));
            }
            params.insert(name, value);
        }
        Ok(Self(params))
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Reads a `true` or `false` parameter.
    pub(super) fn flag(&self, name: &str, default: bool) -> Result<bool, ManagementError> {
        match self.get(name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ManagementError::invalid_query(format!(
                "{name} must be true or false, got '{other}'"
            ))),
        }
    }

    /// Reads a non-negative integer parameter no larger than `max`.
    fn integer(&self, name: &str, default: usize, max: usize) -> Result<usize, ManagementError> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        match text.parse::<usize>() {
            Ok(value) if value <= max => Ok(value),
            _ => Err(ManagementError::invalid_query(format!(
                "{name} must be an integer from 0 to {max}, got '{text}'"
            ))),
        }
    }

    /// Reads `fields` and `include_fields`.
    pub(super) fn field_selection(&self) -> Result<FieldSelection, ManagementError> {
        let include = self.flag("include_fields", true)?;
        Ok(FieldSelection::new(self.get("fields"), include))
    }
}

/// Parameters of `GET /api/v2/users`.
pub(super) struct ListParams {
    /// The parsed `q`; `None` matches every user.
    pub(super) query: Option<Query>,
    pub(super) page: usize,
    pub(super) per_page: usize,
    pub(super) include_totals: bool,
    pub(super) sort: Option<Sort>,
    pub(super) fields: FieldSelection,
}

impl ListParams {
    const ACCEPTED: &'static [&'static str] = &[
        "q",
        "search_engine",
        "page",
        "per_page",
        "include_totals",
        "sort",
        "fields",
        "include_fields",
        // Accepted and ignored, as the v3 search engine does not use it.
        "primary_order",
    ];

    pub(super) fn parse(raw: Option<&str>) -> Result<Self, ManagementError> {
        let params = QueryParams::parse(raw, Self::ACCEPTED)?;

        match params.get("search_engine") {
            None | Some("v3") => {}
            Some(engine @ ("v1" | "v2")) => {
                return Err(ManagementError::invalid_query(format!(
                    "search_engine {engine} is no longer available, use search_engine=v3"
                )));
            }
            Some(other) => {
                return Err(ManagementError::invalid_query(format!(
                    "search_engine must be v3, got '{other}'"
                )));
            }
        }

        let query =
            match params.get("q").map(str::trim) {
                None | Some("") => None,
                Some(text) => Some(query::parse(text).map_err(|error| {
                    ManagementError::invalid_query(format!("invalid q: {error}"))
                })?),
            };

        let page = params.integer("page", 0, usize::MAX)?;
        let per_page = params.integer("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)?;
        // NOTE: Auth0 serves only the first 1000 results. Rejecting any page that reaches
        // past them is inferred from its `invalid_paging` error, not measured against Auth0.
        let end = page
            .checked_mul(per_page)
            .and_then(|start| start.checked_add(per_page));
        if end.is_none_or(|end| end > MAX_PAGED_RESULTS) {
            return Err(ManagementError::invalid_paging());
        }

        Ok(Self {
            query,
            page,
            per_page,
            include_totals: params.flag("include_totals", false)?,
            sort: params.get("sort").map(Sort::parse).transpose()?,
            fields: params.field_selection()?,
        })
    }

    /// Index of the first result of the page.
    pub(super) fn start(&self) -> usize {
        self.page * self.per_page
    }
}

/// `sort=field:1` (ascending) or `sort=field:-1` (descending) on a top-level field.
pub(super) struct Sort {
    field: String,
    descending: bool,
}

impl Sort {
    fn parse(text: &str) -> Result<Self, ManagementError> {
        let invalid = || {
            ManagementError::invalid_query(format!(
                "sort must be field:1 or field:-1, got '{text}'"
            ))
        };
        let (field, direction) = text.rsplit_once(':').ok_or_else(invalid)?;
        if field.is_empty() {
            return Err(invalid());
        }
        let descending = match direction {
            "1" => false,
            "-1" => true,
            _ => return Err(invalid()),
        };
        Ok(Self {
            field: field.to_owned(),
            descending,
        })
    }

    /// Orders two rendered users by the sort field. Users without the field come last in
    /// either direction; ties keep the store's order, oldest first.
    pub(super) fn compare(&self, left: &Value, right: &Value) -> Ordering {
        let left = left.get(&self.field).filter(|value| !value.is_null());
        let right = right.get(&self.field).filter(|value| !value.is_null());
        match (left, right) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(left), Some(right)) => {
                let ordering = compare_values(left, right);
                if self.descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            }
        }
    }
}

/// Orders numbers numerically, strings case-insensitively (then by case), booleans with
/// `false` first, and values of different types by type.
fn compare_values(left: &Value, right: &Value) -> Ordering {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => left
            .as_f64()
            .partial_cmp(&right.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(left), Value::String(right)) => left
            .to_lowercase()
            .cmp(&right.to_lowercase())
            .then_with(|| left.cmp(right)),
        (Value::Bool(left), Value::Bool(right)) => left.cmp(right),
        _ => type_rank(left).cmp(&type_rank(right)),
    }
}

fn type_rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}
