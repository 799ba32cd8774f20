//! Conversion between JavaScript values and `serde_json` values, through `JSON.stringify` and
//! `JSON.parse` so that the result matches what the value would serialize to in Node.

use rquickjs::{Ctx, Exception, Value};

/// Serializes a JavaScript value. Returns `None` for values `JSON.stringify` skips (`undefined`,
/// functions, symbols). Throws a JavaScript `TypeError` for values it rejects (BigInt, cycles).
pub(crate) fn to_json<'js>(
    ctx: &Ctx<'js>,
    value: Value<'js>,
) -> rquickjs::Result<Option<serde_json::Value>> {
    let Some(text) = ctx.json_stringify(value)? else {
        return Ok(None);
    };
    let text = text.to_string()?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|error| Exception::throw_type(ctx, &format!("value is not valid JSON: {error}")))
}

/// Builds a JavaScript value from JSON.
pub(crate) fn from_json<'js>(
    ctx: &Ctx<'js>,
    value: &serde_json::Value,
) -> rquickjs::Result<Value<'js>> {
    let text = serde_json::to_string(value).map_err(|error| {
        Exception::throw_internal(ctx, &format!("value cannot be serialized: {error}"))
    })?;
    ctx.json_parse(text)
}
