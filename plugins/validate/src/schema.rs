//! JSON Schema compilation, once per instance, and validation of a parsed
//! body. The draft comes from the schema's `$schema`, else from settings
//! (draft 2020-12 by default; draft-04 is what AWS API Gateway models use).

use jsonschema::{Draft, Validator};
use serde_json::Value;

use crate::retriever::DirectoryRetriever;
use crate::violation::{Violation, clip};

/// How schemas are compiled.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// The draft for schemas without `$schema`.
    pub draft: Option<Draft>,
    /// Whether `format` asserts (it is an annotation by default in 2019-09+).
    pub validate_formats: bool,
    /// Where `$ref`s to other documents are read from.
    pub retriever: DirectoryRetriever,
    /// The URI a schema without `$id` is known by, so relative `$ref`s resolve.
    pub base_uri: Option<String>,
}

/// A compiled schema.
pub struct Schema {
    validator: Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("draft", &self.validator.draft())
            .finish()
    }
}

/// Parse a draft name as settings give it.
pub fn parse_draft(name: &str) -> Result<Draft, String> {
    match name.trim_start_matches("draft").trim_start_matches('-') {
        "4" | "04" => Ok(Draft::Draft4),
        "6" | "06" => Ok(Draft::Draft6),
        "7" | "07" => Ok(Draft::Draft7),
        "2019-09" => Ok(Draft::Draft201909),
        "2020-12" => Ok(Draft::Draft202012),
        _ => Err(format!(
            "unknown draft `{name}` (expected 4, 6, 7, 2019-09 or 2020-12)"
        )),
    }
}

impl Schema {
    /// Compile `schema`; an invalid schema or an unresolvable `$ref` is an
    /// error saying why.
    pub fn compile(schema: &Value, options: &CompileOptions) -> Result<Self, String> {
        let mut builder = jsonschema::options()
            .should_validate_formats(options.validate_formats)
            .with_retriever(options.retriever.clone());
        // `$schema` wins; the setting only fills in for schemas without one.
        let declares_draft = schema.get("$schema").is_some_and(Value::is_string);
        if let (Some(draft), false) = (options.draft, declares_draft) {
            builder = builder.with_draft(draft);
        }
        if let Some(base) = &options.base_uri {
            builder = builder.with_base_uri(base.clone());
        }
        let validator = builder
            .build(schema)
            .map_err(|e| clip(&e.to_string(), 300))?;
        Ok(Self { validator })
    }

    /// Whether `instance` is valid.
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }

    /// The first way `instance` breaks the schema, reported at `location`
    /// with field names prefixed by `prefix` (a parameter's name, or empty
    /// for the body's JSON pointer).
    pub fn check(
        &self,
        instance: &Value,
        location: &'static str,
        prefix: &str,
    ) -> Result<(), Violation> {
        // The boolean check short-circuits and builds no errors: most
        // requests are valid, so only failures pay for the report.
        if self.validator.is_valid(instance) {
            return Ok(());
        }
        let Some(error) = self.validator.iter_errors(instance).next() else {
            return Ok(());
        };
        let field = format!("{prefix}{}", error.instance_path().as_str());
        let rule = error.kind().keyword().to_string();
        let message = error.masked_with("the value").to_string();
        let what = if location == "body" {
            "the request body"
        } else {
            "a request parameter"
        };
        Err(Violation::invalid(
            location,
            field,
            rule,
            format!("{what} does not match its schema: {}", clip(&message, 200)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{CompileOptions, Schema, parse_draft};
    use serde_json::json;

    #[test]
    fn a_failing_body_names_the_pointer_and_keyword_without_the_value() {
        let schema = json!({
            "type": "object",
            "properties": {"items": {"type": "array", "items": {
                "type": "object", "properties": {"qty": {"type": "integer", "minimum": 1}}}}}
        });
        let schema = Schema::compile(&schema, &CompileOptions::default()).expect("compiles");
        let error = schema
            .check(&json!({"items": [{"qty": 3}, {"qty": -7}]}), "body", "")
            .expect_err("invalid");
        assert_eq!(error.field, "/items/1/qty");
        assert_eq!(error.rule, "minimum");
        assert!(!error.error.contains("-7"), "{}", error.error);
    }

    #[test]
    fn draft_four_reads_exclusive_minimum_as_a_boolean() {
        let schema = json!({"type": "number", "minimum": 5, "exclusiveMinimum": true});
        let options = CompileOptions {
            draft: Some(parse_draft("4").expect("draft")),
            ..Default::default()
        };
        let schema = Schema::compile(&schema, &options).expect("compiles");
        assert!(!schema.is_valid(&json!(5)));
        assert!(schema.is_valid(&json!(6)));
    }

    #[test]
    fn an_invalid_schema_fails_to_compile() {
        let error =
            Schema::compile(&json!({"type": 12}), &CompileOptions::default()).expect_err("invalid");
        assert!(!error.is_empty());
    }
}
