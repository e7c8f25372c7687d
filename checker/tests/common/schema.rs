//! A minimal JSON Schema (draft 2020-12) validator for the checker's own
//! report schema, so a test can hold the real output to the published
//! schema without a validator crate (the ones that exist pull in a regex
//! engine, an HTTP client and more: heavy for one test). It knows the
//! keywords that schema uses: `type`, `required`, `properties`, `items`,
//! `enum`, `const`, `minimum`, `maximum`, `oneOf` and local `$ref`s. Any
//! other keyword fails loudly rather than pass unchecked, but for
//! annotations and `pattern`/`format`, which the tests check by hand.
//! Included with `#[path]` by the test binaries that need it.

use serde_json::Value;

/// Keywords that say nothing checkable here.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$defs",
    "title",
    "description",
    "pattern",
    "format",
];

/// Every way `instance` breaks `root`'s rules, as `path: why`.
pub fn errors(root: &Value, instance: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(root, root, instance, "$", &mut found);
    found
}

fn check(root: &Value, schema: &Value, instance: &Value, at: &str, found: &mut Vec<String>) {
    let Some(rules) = schema.as_object() else {
        panic!("{at}: a schema must be an object, found {schema}");
    };
    for (keyword, rule) in rules {
        match keyword.as_str() {
            "$ref" => {
                let target = resolve(root, rule.as_str().unwrap());
                check(root, target, instance, at, found);
            }
            "type" => {
                let allowed: Vec<&str> = match rule {
                    Value::String(one) => vec![one.as_str()],
                    Value::Array(many) => many.iter().map(|t| t.as_str().unwrap()).collect(),
                    _ => panic!("{at}: `type` must be a string or an array"),
                };
                if !allowed.iter().any(|t| is_type(instance, t)) {
                    found.push(format!("{at}: expected {allowed:?}, found {instance}"));
                }
            }
            "required" => {
                if let Some(object) = instance.as_object() {
                    for name in rule.as_array().unwrap() {
                        let name = name.as_str().unwrap();
                        if !object.contains_key(name) {
                            found.push(format!("{at}: `{name}` is missing"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(object) = instance.as_object() {
                    for (name, property) in rule.as_object().unwrap() {
                        if let Some(value) = object.get(name) {
                            check(root, property, value, &format!("{at}.{name}"), found);
                        }
                    }
                }
            }
            "items" => {
                if let Some(items) = instance.as_array() {
                    for (index, item) in items.iter().enumerate() {
                        check(root, rule, item, &format!("{at}[{index}]"), found);
                    }
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(instance) {
                    found.push(format!("{at}: {instance} is not one of {rule}"));
                }
            }
            "const" => {
                if rule != instance {
                    found.push(format!("{at}: expected {rule}, found {instance}"));
                }
            }
            "minimum" | "maximum" => {
                if let (Some(bound), Some(value)) = (rule.as_f64(), instance.as_f64()) {
                    let below = keyword == "minimum" && value < bound;
                    if below || (keyword == "maximum" && value > bound) {
                        found.push(format!(
                            "{at}: {value} is out of bounds ({keyword} {bound})"
                        ));
                    }
                }
            }
            "oneOf" => {
                let matching = rule
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|branch| {
                        let mut errors = Vec::new();
                        check(root, branch, instance, at, &mut errors);
                        errors.is_empty()
                    })
                    .count();
                if matching != 1 {
                    found.push(format!(
                        "{at}: matches {matching} of the `oneOf` branches, not exactly one"
                    ));
                }
            }
            other if ANNOTATIONS.contains(&other) => {}
            other => panic!("{at}: the test's validator does not know `{other}`: teach it"),
        }
    }
}

/// `#/$defs/name/...`: a JSON pointer into the schema itself.
fn resolve<'a>(root: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local references are known: {reference}"));
    root.pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} points at nothing in the schema"))
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        // JSON Schema: any number with a zero fractional part.
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|n| n.fract() == 0.0)
        }
        other => panic!("unknown type `{other}`"),
    }
}
