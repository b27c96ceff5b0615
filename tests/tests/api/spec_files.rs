//! The project's declarative files, read as data for the tests that hold them to the code:
//! `template.yaml` (CloudFormation short tags turned into their JSON forms), `openapi.yaml`,
//! and the `cargo lambda watch` router of the root `Cargo.toml`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

pub fn workspace_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn read(name: &str) -> String {
    let path = workspace_root().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `template.yaml` as CloudFormation reads it: `!Ref X` is `{"Ref": "X"}`, `!GetAtt A.B` is
/// `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` is `{"Fn::Sub": s}`, and so on.
pub fn template() -> Value {
    yaml_to_json(&read("template.yaml"))
}

pub fn openapi() -> Value {
    yaml_to_json(&read("openapi.yaml"))
}

pub fn yaml_to_json(text: &str) -> Value {
    let yaml: serde_norway::Value = serde_norway::from_str(text).expect("valid YAML");
    convert(yaml)
}

fn convert(yaml: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64())
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(convert).collect()),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match convert(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, convert(v));
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!').to_string();
            let value = convert(tagged.value);
            match name.as_str() {
                "Ref" | "Condition" => json!({ name: value }),
                // `!GetAtt Resource.Attribute`: the short form is one dotted string.
                "GetAtt" => match value {
                    Value::String(s) => {
                        let (resource, attribute) = s.split_once('.').unwrap_or((&s, ""));
                        json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                _ => json!({ format!("Fn::{name}"): value }),
            }
        }
    }
}

/// A route as API Gateway and the router name it: (method, path).
pub type MethodPath = (String, String);

/// The `cargo lambda watch` router of the root `Cargo.toml`: route → function (binary) name.
pub fn watch_router() -> BTreeMap<MethodPath, String> {
    let doc: toml_edit::DocumentMut = read("Cargo.toml").parse().expect("Cargo.toml is TOML");
    let router = doc["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table_like()
        .expect("[workspace.metadata.lambda.watch.router]");
    let mut routes = BTreeMap::new();
    for (path, handlers) in router.iter() {
        let handlers = handlers.as_array().expect("a list of {method, function}");
        for handler in handlers.iter() {
            let handler = handler.as_inline_table().expect("{ method, function }");
            let field = |k: &str| {
                handler
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_else(|| panic!("router entry for {path} has no {k}"))
                    .to_string()
            };
            routes.insert((field("method"), path.to_string()), field("function"));
        }
    }
    routes
}

/// The workspace's Lambda function packages: the members under `functions/`, by package name.
pub fn function_packages() -> Vec<String> {
    let doc: toml_edit::DocumentMut = read("Cargo.toml").parse().expect("Cargo.toml is TOML");
    let members = doc["workspace"]["members"]
        .as_array()
        .expect("workspace.members");
    let mut names: Vec<String> = members
        .iter()
        .filter_map(|m| m.as_str())
        .filter(|m| m.starts_with("functions/"))
        .map(|dir| {
            let manifest: toml_edit::DocumentMut = read(&format!("{dir}/Cargo.toml"))
                .parse()
                .expect("a function's Cargo.toml");
            manifest["package"]["name"]
                .as_str()
                .expect("package.name")
                .to_string()
        })
        .collect();
    names.sort();
    names
}

/// The serverless functions of the template, by logical id.
pub fn functions(template: &Value) -> BTreeMap<String, Value> {
    resources_of_type(template, "AWS::Serverless::Function")
}

pub fn resources_of_type(template: &Value, kind: &str) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.clone(), r.clone()))
        .collect()
}

/// Every HttpApi route of the template: route → (function logical id, its event).
pub fn template_routes(template: &Value) -> BTreeMap<MethodPath, (String, Value)> {
    let mut routes = BTreeMap::new();
    for (id, function) in functions(template) {
        let events = function["Properties"]["Events"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (_, event) in events {
            if event["Type"] != "HttpApi" {
                continue;
            }
            let p = &event["Properties"];
            let route = (
                p["Method"].as_str().expect("Method").to_uppercase(),
                p["Path"].as_str().expect("Path").to_string(),
            );
            let previous = routes.insert(route.clone(), (id.clone(), event.clone()));
            assert!(previous.is_none(), "route {route:?} is declared twice");
        }
    }
    routes
}

/// Strings as a sorted list, from a JSON array of strings.
pub fn strings(value: &Value) -> Vec<String> {
    let mut out: Vec<String> = value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, got {value}"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("expected a string, got {v}"))
                .to_string()
        })
        .collect();
    out.sort();
    out
}

/// One value or a list of them, as IAM allows for `Action` and `Resource`.
pub fn one_or_many(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}
