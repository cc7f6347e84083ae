//! One parsed input row and typed access to its fields, with errors that name the field.

use serde_json::{Map, Value};

/// A problem with one row, before the file and line are attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The field (`<line>` when the whole line is bad).
    pub field: String,
    /// What was expected and what was found.
    pub message: String,
}

impl RowError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        RowError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A short reason used to group skipped rows (`field: message` without values).
    pub fn reason(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}

/// Name of a JSON value's type, for messages.
pub use crate::util::schema::type_name;

/// Parses one line as a JSON object.
pub fn parse_object(line: &str) -> Result<Map<String, Value>, RowError> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(RowError::new(
            "<line>",
            format!("expected a JSON object, found {}", type_name(&other)),
        )),
        Err(e) => Err(RowError::new("<line>", format!("malformed JSON: {e}"))),
    }
}

/// The field `name`, which must be present.
pub fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a Value, RowError> {
    obj.get(name)
        .ok_or_else(|| RowError::new(name, "missing field"))
}

/// The string field `name`.
pub fn str_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, RowError> {
    match field(obj, name)? {
        Value::String(s) => Ok(s),
        other => Err(RowError::new(
            name,
            format!("expected a string, found {}", type_name(other)),
        )),
    }
}

/// The boolean field `name`.
pub fn bool_field(obj: &Map<String, Value>, name: &str) -> Result<bool, RowError> {
    match field(obj, name)? {
        Value::Bool(b) => Ok(*b),
        other => Err(RowError::new(
            name,
            format!("expected a boolean, found {}", type_name(other)),
        )),
    }
}

/// The integer field `name`.
pub fn int_field(obj: &Map<String, Value>, name: &str) -> Result<i64, RowError> {
    match field(obj, name)? {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| RowError::new(name, format!("expected an integer, found {n}"))),
        other => Err(RowError::new(
            name,
            format!("expected an integer, found {}", type_name(other)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field_and_the_found_type() {
        let o = parse_object(r#"{"a": 1, "b": "x"}"#).unwrap();
        assert_eq!(str_field(&o, "b").unwrap(), "x");
        let e = str_field(&o, "a").unwrap_err();
        assert_eq!(e.field, "a");
        assert!(e.message.contains("found number"), "{}", e.message);
        assert_eq!(str_field(&o, "c").unwrap_err().message, "missing field");
        assert_eq!(parse_object("[1]").unwrap_err().field, "<line>");
        assert!(
            parse_object("{\"a\":")
                .unwrap_err()
                .message
                .starts_with("malformed JSON")
        );
        assert_eq!(int_field(&o, "a").unwrap(), 1);
        assert!(bool_field(&o, "a").is_err());
    }
}
