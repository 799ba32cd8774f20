//! The subset of the Lucene query syntax that `GET /api/v2/users?q=` accepts.
//!
//! [`parse`] turns a query string into a [`Query`], and [`Query::matches`] evaluates it against
//! a user rendered as the Management API returns it, so field names are exactly the keys a
//! client sees in that JSON: `email`, `app_metadata.plan`, `identities.connection`.
//!
//! The syntax covered is what Auth0's user search (search engine v3) documents and clients use:
//!
//! - `field:value`, `field:"quoted phrase"`, `field:(a OR b)` with the field applying to the
//!   bare terms inside the parentheses;
//! - a trailing `*` wildcard (`email:ada*`), and `field:*` for any value;
//! - ranges `field:[a TO b]` (inclusive) and `field:{a TO b}` (exclusive), `*` for an open end;
//! - `_exists_:field`, and `*:*` for every user;
//! - `AND`, `OR`, `NOT` (upper case, also `&&`, `||`, `!`), the prefixes `-` (not) and `+`
//!   (required), parentheses, and an implicit `AND` between terms. `AND` binds tighter than
//!   `OR`;
//! - dotted paths into objects (`user_metadata.address.city`); a path crossing an array
//!   matches any of its elements;
//! - bare terms without a field, which search `email`, `name`, `nickname` and `user_id` and
//!   match the whole value or any whitespace-separated word of it.
//!
//! A term matches a string case-insensitively and as a whole, a number by numeric value and a
//! boolean by `true` or `false`. NOTE: Auth0 matches metadata values case-sensitively and
//! only the normalized profile fields without case, so a query here may find more users. Fuzzy (`~`), boosts (`^`), `?` and leading or inner
//! wildcards are rejected with a [`QueryError`] instead of being silently ignored.
//!
//! The parser is written by hand because a rejected query must report what is wrong and where:
//! `tantivy-query-grammar` (0.25), the maintained Rust parser of this syntax, reports a bare
//! `Error` without reason or position, and it joins terms with OR by default where Auth0's
//! search joins them with AND.

use serde_json::Value;

/// Maximum nesting of parentheses and `NOT`s, which bounds the parser's recursion.
pub const MAX_DEPTH: usize = 32;

/// Fields a term without a field name searches.
pub const BARE_TERM_FIELDS: [&str; 4] = ["email", "name", "nickname", "user_id"];

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Matches when every part matches.
    And(Vec<Query>),
    /// Matches when any part matches.
    Or(Vec<Query>),
    Not(Box<Query>),
    /// Matches when the field has a value other than `null`.
    Exists(FieldPath),
    /// Matches when a value at `field` matches `pattern`; without a field, the values of
    /// [`BARE_TERM_FIELDS`] and their words are tried.
    Term {
        field: Option<FieldPath>,
        pattern: Pattern,
    },
}

/// A dotted field name, split into its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(Vec<String>);

impl FieldPath {
    /// Returns the path's segments, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.0
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// The value, prefix or range a term compares a field with.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// The whole value, from a word or a quoted phrase.
    Exact(String),
    /// A value starting with this text, from a word ending in `*`.
    Prefix(String),
    /// Any value other than `null`, from a lone `*`.
    Any,
    Range {
        lower: Bound,
        upper: Bound,
    },
}

/// One end of a range.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// `*`: no limit on this side.
    Unbounded,
    Inclusive(String),
    Exclusive(String),
}

/// A query string that is not valid in the supported syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at character {position}")]
pub struct QueryError {
    /// The problem, worded for the client.
    pub reason: String,
    /// The 1-based character position where the problem was found.
    pub position: usize,
}

/// Parses `input` into a [`Query`].
pub fn parse(input: &str) -> Result<Query, QueryError> {
    let mut parser = Parser {
        chars: input.chars().collect(),
        pos: 0,
        depth: 0,
    };
    parser.skip_whitespace();
    if parser.at_end() {
        return Err(parser.error("the query is empty"));
    }

    let query = parser.parse_or(None)?;

    parser.skip_whitespace();
    match parser.peek() {
        None => Ok(query),
        Some(')') => Err(parser.error("unbalanced ')'")),
        Some(other) => Err(parser.error(format!("unexpected '{other}'"))),
    }
}

impl Query {
    /// Tells whether `document`, a user as the Management API renders it, matches the query.
    pub fn matches(&self, document: &Value) -> bool {
        match self {
            Query::And(parts) => parts.iter().all(|part| part.matches(document)),
            Query::Or(parts) => parts.iter().any(|part| part.matches(document)),
            Query::Not(inner) => !inner.matches(document),
            Query::Exists(field) => values_at(document, field.segments())
                .iter()
                .any(|value| !value.is_null()),
            Query::Term {
                field: Some(field),
                pattern,
            } => values_at(document, field.segments())
                .iter()
                .any(|value| pattern.matches(value)),
            Query::Term {
                field: None,
                pattern,
            } => BARE_TERM_FIELDS.iter().any(|name| {
                document
                    .get(*name)
                    .is_some_and(|value| pattern.matches_value_or_word(value))
            }),
        }
    }
}

impl Pattern {
    /// Tells whether one value (never an array: arrays are flattened before) matches.
    fn matches(&self, value: &Value) -> bool {
        match self {
            Pattern::Any => !value.is_null(),
            Pattern::Exact(expected) => match value {
                Value::String(text) => text.to_lowercase() == expected.to_lowercase(),
                Value::Number(number) => expected
                    .parse::<f64>()
                    .is_ok_and(|expected| number.as_f64() == Some(expected)),
                Value::Bool(flag) => expected.eq_ignore_ascii_case(&flag.to_string()),
                Value::Null | Value::Array(_) | Value::Object(_) => false,
            },
            Pattern::Prefix(prefix) => scalar_text(value)
                .is_some_and(|text| text.to_lowercase().starts_with(&prefix.to_lowercase())),
            Pattern::Range { lower, upper } => {
                lower.admits(value, std::cmp::Ordering::Greater)
                    && upper.admits(value, std::cmp::Ordering::Less)
            }
        }
    }

    /// Matches a bare term: the whole value, or for a string any whitespace-separated word.
    fn matches_value_or_word(&self, value: &Value) -> bool {
        if self.matches(value) {
            return true;
        }
        match value {
            Value::String(text) => text
                .split_whitespace()
                .any(|word| self.matches(&Value::String(word.to_owned()))),
            _ => false,
        }
    }
}

impl Bound {
    /// Tells whether `value` lies on the admitted side of this bound, `side` being the
    /// ordering the value must have against the bound (`Greater` for a lower bound).
    fn admits(&self, value: &Value, side: std::cmp::Ordering) -> bool {
        let (limit, inclusive) = match self {
            Bound::Unbounded => return !value.is_null(),
            Bound::Inclusive(limit) => (limit, true),
            Bound::Exclusive(limit) => (limit, false),
        };
        let Some(ordering) = compare_with(value, limit) else {
            return false;
        };
        ordering == side || (inclusive && ordering == std::cmp::Ordering::Equal)
    }
}

/// Orders `value` against a range limit: numbers numerically when the limit is a number,
/// strings case-insensitively by code point, which orders ISO 8601 timestamps by time.
fn compare_with(value: &Value, limit: &str) -> Option<std::cmp::Ordering> {
    match value {
        Value::Number(number) => {
            let limit = limit.parse::<f64>().ok()?;
            number.as_f64()?.partial_cmp(&limit)
        }
        Value::String(text) => Some(text.to_lowercase().cmp(&limit.to_lowercase())),
        _ => None,
    }
}

/// Returns the text of a string, number or boolean.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Collects the values at `path` below `document`, descending into every element of the
/// arrays met on the way and flattening arrays found at the end.
fn values_at<'a>(document: &'a Value, path: &[String]) -> Vec<&'a Value> {
    let mut found = Vec::new();
    collect_values(document, path, &mut found);
    found
}

fn collect_values<'a>(value: &'a Value, path: &[String], found: &mut Vec<&'a Value>) {
    if let Value::Array(items) = value {
        for item in items {
            collect_values(item, path, found);
        }
        return;
    }
    let Some((segment, rest)) = path.split_first() else {
        found.push(value);
        return;
    };
    if let Some(child) = value.as_object().and_then(|object| object.get(segment)) {
        collect_values(child, rest, found);
    }
}

/// A character of a word and whether it was escaped with a backslash.
type WordChar = (char, bool);

/// The boolean operators, by their spelled-out and symbolic forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    And,
    Or,
    Not,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn parse_or(&mut self, field: Option<&FieldPath>) -> Result<Query, QueryError> {
        let mut parts = vec![self.parse_and(field)?];
        loop {
            self.skip_whitespace();
            if self.peek_keyword() != Some(Keyword::Or) {
                break;
            }
            self.consume_keyword();
            self.skip_whitespace();
            if self.at_end_of_group() {
                return Err(self.error("expected a term after OR"));
            }
            parts.push(self.parse_and(field)?);
        }
        Ok(combine(parts, Query::Or))
    }

    fn parse_and(&mut self, field: Option<&FieldPath>) -> Result<Query, QueryError> {
        let mut parts = vec![self.parse_unary(field)?];
        loop {
            self.skip_whitespace();
            if self.at_end_of_group() {
                break;
            }
            match self.peek_keyword() {
                Some(Keyword::Or) => break,
                Some(Keyword::And) => {
                    self.consume_keyword();
                    self.skip_whitespace();
                    if self.at_end_of_group() {
                        return Err(self.error("expected a term after AND"));
                    }
                }
                Some(Keyword::Not) | None => {}
            }
            parts.push(self.parse_unary(field)?);
        }
        Ok(combine(parts, Query::And))
    }

    fn parse_unary(&mut self, field: Option<&FieldPath>) -> Result<Query, QueryError> {
        self.skip_whitespace();
        let negated = if self.peek_keyword() == Some(Keyword::Not) {
            self.consume_keyword();
            true
        } else if matches!(self.peek(), Some('-' | '!')) && self.next_starts_term() {
            self.pos += 1;
            true
        } else {
            if self.peek() == Some('+') && self.next_starts_term() {
                self.pos += 1;
            }
            false
        };
        if !negated {
            return self.parse_primary(field);
        }

        self.enter()?;
        self.skip_whitespace();
        if self.at_end_of_group() {
            return Err(self.error("expected a term after NOT"));
        }
        let inner = self.parse_unary(field)?;
        self.depth -= 1;
        Ok(Query::Not(Box::new(inner)))
    }

    fn parse_primary(&mut self, field: Option<&FieldPath>) -> Result<Query, QueryError> {
        match self.peek() {
            Some('(') => self.parse_group(field),
            Some('"') => Ok(Query::Term {
                field: field.cloned(),
                pattern: Pattern::Exact(self.parse_phrase()?),
            }),
            Some('[' | '{') => match field {
                Some(field) => self.parse_range(field),
                None => Err(self.error("a range needs a field name, as in field:[a TO b]")),
            },
            Some(')') => Err(self.error("unbalanced ')'")),
            Some(other @ (']' | '}' | ':')) => Err(self.error(format!("unexpected '{other}'"))),
            Some(_) => self.parse_word_term(field),
            None => Err(self.error("the query ends where a term was expected")),
        }
    }

    /// Parses a term that starts with a word: `field:value`, `_exists_:field` or a bare term.
    fn parse_word_term(&mut self, field: Option<&FieldPath>) -> Result<Query, QueryError> {
        let start = self.pos;
        if let Some(keyword) = self.peek_keyword() {
            return Err(self.error(format!("unexpected {}", keyword_name(keyword))));
        }
        let word = self.read_word(false)?;
        if self.peek() != Some(':') {
            return Ok(Query::Term {
                field: field.cloned(),
                pattern: self.pattern_from(&word, start)?,
            });
        }

        if field.is_some() {
            return Err(self.error("a field name cannot appear inside a field group"));
        }
        if word == [('*', false)] && self.chars.get(self.pos + 1) == Some(&'*') {
            // `*:*` is Lucene's query for every document.
            self.pos += 2;
            return Ok(Query::And(Vec::new()));
        }
        let name = field_path(&word).map_err(|reason| QueryError {
            reason,
            position: start + 1,
        })?;
        self.pos += 1;
        self.skip_whitespace();
        if name.segments() == ["_exists_"] {
            return self.parse_exists();
        }
        self.parse_value(&name)
    }

    /// Parses what follows `field:`.
    fn parse_value(&mut self, field: &FieldPath) -> Result<Query, QueryError> {
        match self.peek() {
            Some('(') => self.parse_group(Some(field)),
            Some('"') => Ok(Query::Term {
                field: Some(field.clone()),
                pattern: Pattern::Exact(self.parse_phrase()?),
            }),
            Some('[' | '{') => self.parse_range(field),
            Some(character) if !is_structural(character) => {
                let start = self.pos;
                let word = self.read_word(true)?;
                Ok(Query::Term {
                    field: Some(field.clone()),
                    pattern: self.pattern_from(&word, start)?,
                })
            }
            _ => Err(self.error(format!("expected a value after '{field}:'"))),
        }
    }

    fn parse_exists(&mut self) -> Result<Query, QueryError> {
        let start = self.pos;
        match self.peek() {
            Some(character) if !is_structural(character) => {}
            _ => return Err(self.error("expected a field name after '_exists_:'")),
        }
        let word = self.read_word(true)?;
        let field = field_path(&word).map_err(|reason| QueryError {
            reason,
            position: start + 1,
        })?;
        Ok(Query::Exists(field))
    }

    fn parse_group(&mut self, field: Option<&FieldPath>) -> Result<Query, QueryError> {
        self.enter()?;
        self.pos += 1;
        self.skip_whitespace();
        if self.peek() == Some(')') {
            return Err(self.error("empty parentheses"));
        }
        let inner = self.parse_or(field)?;
        self.skip_whitespace();
        if self.peek() != Some(')') {
            return Err(self.error("missing ')'"));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(inner)
    }

    /// Parses a quoted phrase, in which `\"` and `\\` are escapes and `*` is literal.
    fn parse_phrase(&mut self) -> Result<String, QueryError> {
        let start = self.pos;
        self.pos += 1;
        let mut phrase = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(QueryError {
                        reason: "unterminated quoted phrase".into(),
                        position: start + 1,
                    });
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(phrase);
                }
                Some('\\') => {
                    self.pos += 1;
                    let escaped = self
                        .peek()
                        .ok_or_else(|| self.error("the query ends with an escape character"))?;
                    phrase.push(escaped);
                    self.pos += 1;
                }
                Some(character) => {
                    phrase.push(character);
                    self.pos += 1;
                }
            }
        }
    }

    /// Parses `[a TO b]`, `{a TO b}` or a mix of the two brackets.
    fn parse_range(&mut self, field: &FieldPath) -> Result<Query, QueryError> {
        let lower_inclusive = self.peek() == Some('[');
        self.pos += 1;
        self.skip_whitespace();
        let lower = self.parse_bound()?;

        self.skip_whitespace();
        let to_start = self.pos;
        let separator = if self
            .peek()
            .is_some_and(|character| !is_structural(character))
        {
            self.read_word(true)?
        } else {
            Vec::new()
        };
        if plain_text(&separator) != "TO" {
            return Err(QueryError {
                reason: "expected TO between the ends of a range".into(),
                position: to_start + 1,
            });
        }

        self.skip_whitespace();
        let upper = self.parse_bound()?;
        self.skip_whitespace();
        let upper_inclusive = match self.peek() {
            Some(']') => true,
            Some('}') => false,
            _ => return Err(self.error("expected ']' or '}' to close the range")),
        };
        self.pos += 1;

        Ok(Query::Term {
            field: Some(field.clone()),
            pattern: Pattern::Range {
                lower: bound(lower, lower_inclusive),
                upper: bound(upper, upper_inclusive),
            },
        })
    }

    /// Parses one end of a range: its text, or `None` for `*`.
    fn parse_bound(&mut self) -> Result<Option<String>, QueryError> {
        match self.peek() {
            Some('"') => self.parse_phrase().map(Some),
            Some(character) if !is_structural(character) => {
                let word = self.read_word(true)?;
                if word == [('*', false)] {
                    return Ok(None);
                }
                Ok(Some(plain_text(&word)))
            }
            _ => Err(self.error("expected a value or '*' as the end of a range")),
        }
    }

    /// Turns a word into a pattern: a lone `*` is any value, a trailing `*` a prefix.
    fn pattern_from(&self, word: &[WordChar], start: usize) -> Result<Pattern, QueryError> {
        if word == [('*', false)] {
            return Ok(Pattern::Any);
        }
        let (body, prefix) = match word.split_last() {
            Some((('*', false), body)) => (body, true),
            _ => (word, false),
        };
        for (offset, (character, escaped)) in body.iter().enumerate() {
            if *escaped {
                continue;
            }
            let reason = match character {
                '*' => "a wildcard is supported only at the end of a term",
                '?' => "the '?' wildcard is not supported",
                '~' => "fuzzy and proximity searches ('~') are not supported",
                '^' => "boosts ('^') are not supported",
                _ => continue,
            };
            return Err(QueryError {
                reason: reason.into(),
                position: start + offset + 1,
            });
        }
        let text = plain_text(body);
        Ok(if prefix {
            Pattern::Prefix(text)
        } else {
            Pattern::Exact(text)
        })
    }

    /// Reads a word up to whitespace or a structural character, resolving backslash escapes.
    /// A colon ends the word unless `in_value`, so values such as URLs need no escaping.
    fn read_word(&mut self, in_value: bool) -> Result<Vec<WordChar>, QueryError> {
        let mut word = Vec::new();
        while let Some(character) = self.peek() {
            if character == '\\' {
                self.pos += 1;
                let escaped = self
                    .peek()
                    .ok_or_else(|| self.error("the query ends with an escape character"))?;
                word.push((escaped, true));
                self.pos += 1;
                continue;
            }
            if character.is_whitespace()
                || is_structural(character)
                || (character == ':' && !in_value)
            {
                break;
            }
            word.push((character, false));
            self.pos += 1;
        }
        Ok(word)
    }

    /// Returns the operator the next word spells, if the word is only the operator.
    fn peek_keyword(&self) -> Option<Keyword> {
        let mut end = self.pos;
        while let Some(&character) = self.chars.get(end) {
            if character.is_whitespace() || is_structural(character) || character == ':' {
                break;
            }
            end += 1;
        }
        let word: String = self.chars.get(self.pos..end)?.iter().collect();
        // A keyword followed by ':' is a field name, as in `NOT:x`.
        if self.chars.get(end) == Some(&':') {
            return None;
        }
        match word.as_str() {
            "AND" | "&&" => Some(Keyword::And),
            "OR" | "||" => Some(Keyword::Or),
            "NOT" => Some(Keyword::Not),
            _ => None,
        }
    }

    fn consume_keyword(&mut self) {
        while let Some(character) = self.peek() {
            if character.is_whitespace() || is_structural(character) || character == ':' {
                break;
            }
            self.pos += 1;
        }
    }

    /// Tells whether the character after a `-`, `!` or `+` prefix starts a term.
    fn next_starts_term(&self) -> bool {
        self.chars
            .get(self.pos + 1)
            .is_some_and(|next| !next.is_whitespace() && *next != ')')
    }

    fn enter(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("the query nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn at_end_of_group(&self) -> bool {
        matches!(self.peek(), None | Some(')'))
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn error(&self, reason: impl Into<String>) -> QueryError {
        QueryError {
            reason: reason.into(),
            position: self.pos + 1,
        }
    }
}

/// Characters that end a word wherever they appear unescaped.
fn is_structural(character: char) -> bool {
    matches!(character, '(' | ')' | '"' | '[' | ']' | '{' | '}')
}

fn bound(text: Option<String>, inclusive: bool) -> Bound {
    match text {
        None => Bound::Unbounded,
        Some(text) if inclusive => Bound::Inclusive(text),
        Some(text) => Bound::Exclusive(text),
    }
}

fn keyword_name(keyword: Keyword) -> &'static str {
    match keyword {
        Keyword::And => "AND",
        Keyword::Or => "OR",
        Keyword::Not => "NOT",
    }
}

fn plain_text(word: &[WordChar]) -> String {
    word.iter().map(|(character, _)| character).collect()
}

/// Splits a field name on its unescaped dots.
fn field_path(word: &[WordChar]) -> Result<FieldPath, String> {
    let mut segments = vec![String::new()];
    for (character, escaped) in word {
        if *character == '.' && !escaped {
            segments.push(String::new());
            continue;
        }
        if matches!(character, '*' | '?') && !escaped {
            return Err("wildcards in field names are not supported".into());
        }
        if let Some(segment) = segments.last_mut() {
            segment.push(*character);
        }
    }
    if segments.iter().any(String::is_empty) {
        return Err(format!("'{}' is not a valid field name", plain_text(word)));
    }
    Ok(FieldPath(segments))
}

/// Returns the single part itself, or the parts joined by `join`.
fn combine(mut parts: Vec<Query>, join: fn(Vec<Query>) -> Query) -> Query {
    if parts.len() == 1
        && let Some(only) = parts.pop()
    {
        return only;
    }
    join(parts)
}

#[cfg(test)]
mod tests;
