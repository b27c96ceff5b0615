//! The documentation cannot drift from the API description, nor point outside the repository.
//!
//! `docs/api.md` carries three machine-readable tables (routes, list query parameters, error
//! codes) that must say what `openapi.yaml` says: the same routes and scopes, the same query
//! parameters with the same bounds, enums and defaults, the same error codes and statuses. A
//! change to either side without the other fails here. And no tracked file may refer to a
//! sibling checkout or a machine path, nor a document to an issue number: the repository has
//! to stand alone on a fresh clone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const API_DOC: &str = "docs/api.md";
const ROUTE_HEADER: [&str; 3] = ["Method", "Path", "Scope"];
const PARAMETER_HEADER: [&str; 4] = ["Parameter", "Type", "Accepted", "Default"];
const ERROR_HEADER: [&str; 3] = ["Code", "Status", "When"];
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// The repository root: the parent of the tests crate.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the repository")
        .to_path_buf()
}

fn read(name: &str) -> String {
    let path = root().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `openapi.yaml` as JSON values (it has no YAML tags, and every mapping key is a string).
fn openapi() -> Value {
    serde_norway::from_str(&read("openapi.yaml")).expect("openapi.yaml is valid YAML")
}

/// Follows local `$ref`s until a value without one.
fn resolve<'a>(spec: &'a Value, mut v: &'a Value) -> &'a Value {
    while let Some(reference) = v["$ref"].as_str() {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("openapi.yaml: only local references, got {reference}"));
        v = spec
            .pointer(pointer)
            .unwrap_or_else(|| panic!("openapi.yaml: dangling reference {reference}"));
    }
    v
}

/// The cells of a Markdown table row, trimmed; `\|` inside a cell is a literal bar.
fn cells(line: &str) -> Option<Vec<String>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(cell) = out.last_mut() {
                    cell.push('|');
                }
            }
            '|' => out.push(String::new()),
            _ => {
                if let Some(cell) = out.last_mut() {
                    cell.push(c);
                }
            }
        }
    }
    Some(out.into_iter().map(|c| c.trim().to_string()).collect())
}

/// The body rows of the one table in `markdown` whose header is exactly `header`.
fn table(markdown: &str, header: &[&str]) -> Vec<Vec<String>> {
    let lines: Vec<&str> = markdown.lines().collect();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| cells(lines[i]).is_some_and(|c| c == header))
        .collect();
    assert_eq!(
        starts.len(),
        1,
        "{API_DOC} must hold exactly one table headed | {} |",
        header.join(" | ")
    );
    let start = starts[0];
    let separator = cells(lines.get(start + 1).copied().unwrap_or_default());
    assert!(
        separator.is_some_and(|s| s
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| "-:".contains(ch)))),
        "{API_DOC}: the table headed | {} | has no separator row",
        header.join(" | ")
    );
    let rows: Vec<Vec<String>> = lines[start + 2..]
        .iter()
        .map_while(|line| cells(line))
        .collect();
    for row in &rows {
        assert_eq!(
            row.len(),
            header.len(),
            "{API_DOC}: a row of the table headed | {} | has {} cells: {row:?}",
            header.join(" | "),
            row.len()
        );
    }
    assert!(
        !rows.is_empty(),
        "{API_DOC}: the table headed | {} | is empty",
        header.join(" | ")
    );
    rows
}

/// The contents of the `code spans` of a Markdown cell, in order.
fn code_spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The one code span a cell must consist of.
fn only_code_span(cell: &str, what: &str) -> String {
    match code_spans(cell).as_slice() {
        [one] => one.clone(),
        other => {
            panic!("{API_DOC}: the {what} cell {cell:?} must hold one `code span`, has {other:?}")
        }
    }
}

/// Asserts two sets are equal, naming what each side lacks.
fn assert_same<T: Ord + std::fmt::Debug>(docs: &BTreeSet<T>, spec: &BTreeSet<T>, what: &str) {
    let only_docs: Vec<&T> = docs.difference(spec).collect();
    let only_spec: Vec<&T> = spec.difference(docs).collect();
    assert!(
        only_docs.is_empty() && only_spec.is_empty(),
        "{what} differ: only in {API_DOC}: {only_docs:?}; only in openapi.yaml: {only_spec:?}"
    );
}

/// A scalar of openapi.yaml as the documentation writes it.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

type Route = (String, String);

/// (METHOD, path) → the scopes any of whose `security` alternatives names.
fn spec_routes(spec: &Value) -> BTreeMap<Route, BTreeSet<String>> {
    let mut routes = BTreeMap::new();
    let paths = spec["paths"].as_object().expect("openapi.yaml has paths");
    for (path, item) in paths {
        for method in METHODS {
            let op = &item[method];
            if !op.is_object() {
                continue;
            }
            let scopes: BTreeSet<String> = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(|requirement| requirement.values())
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            routes.insert((method.to_uppercase(), path.clone()), scopes);
        }
    }
    routes
}

fn doc_routes(markdown: &str) -> BTreeMap<Route, BTreeSet<String>> {
    let mut routes = BTreeMap::new();
    for row in table(markdown, &ROUTE_HEADER) {
        let method = only_code_span(&row[0], "Method").to_uppercase();
        let path = only_code_span(&row[1], "Path");
        let scopes: BTreeSet<String> = code_spans(&row[2]).into_iter().collect();
        let key = (method, path);
        assert!(
            routes.insert(key.clone(), scopes).is_none(),
            "{API_DOC}: route {key:?} is listed twice"
        );
    }
    routes
}

#[test]
fn the_route_table_lists_exactly_the_routes_and_scopes_of_openapi() {
    let spec = spec_routes(&openapi());
    let docs = doc_routes(&read(API_DOC));
    assert!(!spec.is_empty(), "openapi.yaml has no operations");
    assert_same(
        &docs.keys().cloned().collect(),
        &spec.keys().cloned().collect(),
        "The routes (method, path)",
    );
    for (route, scopes) in &spec {
        // Only the Shared Signals transmitter's discovery document and keys are public.
        let public = ["/.well-known/ssf-configuration", "/ssf/jwks"].contains(&route.1.as_str());
        assert!(
            !scopes.is_empty() || public,
            "openapi.yaml: {route:?} names no scope"
        );
        assert_same(&docs[route], scopes, &format!("The scopes of {route:?}"));
    }
}

/// The query parameters of openapi's list operation (path-level ones included), by name.
fn list_query_parameters(spec: &Value) -> BTreeMap<String, Value> {
    let paths = spec["paths"].as_object().expect("openapi.yaml has paths");
    let mut found = None;
    for item in paths.values() {
        for method in METHODS {
            if item[method]["operationId"] == "listSessions" {
                assert!(
                    found.is_none(),
                    "openapi.yaml: two operations named listSessions"
                );
                found = Some((item, &item[method]));
            }
        }
    }
    let (item, op) = found.expect("openapi.yaml has a listSessions operation");
    let mut params = BTreeMap::new();
    for list in [&item["parameters"], &op["parameters"]] {
        for p in list.as_array().into_iter().flatten() {
            let p = resolve(spec, p);
            if p["in"] == "query" {
                let name = p["name"].as_str().expect("a parameter has a name");
                params.insert(name.to_string(), p.clone());
            }
        }
    }
    assert!(
        !params.is_empty(),
        "openapi.yaml: listSessions has no query parameter"
    );
    params
}

#[test]
fn the_parameter_table_gives_the_list_parameters_bounds_enums_and_defaults_of_openapi() {
    let spec = openapi();
    let params = list_query_parameters(&spec);
    let rows: BTreeMap<String, Vec<String>> = table(&read(API_DOC), &PARAMETER_HEADER)
        .into_iter()
        .map(|row| (only_code_span(&row[0], "Parameter"), row))
        .collect();
    assert_same(
        &rows.keys().cloned().collect(),
        &params.keys().cloned().collect(),
        "The list operation's query parameters",
    );

    for (name, param) in &params {
        let schema = resolve(&spec, &param["schema"]);
        let row = &rows[name];
        let (kind, accepted, default) = (&row[1], &row[2], &row[3]);
        let accepted_spans: BTreeSet<String> = code_spans(accepted).into_iter().collect();

        let ty = schema["type"]
            .as_str()
            .unwrap_or_else(|| panic!("openapi.yaml: {name} has no single type"));
        assert!(
            kind.contains(ty),
            "{API_DOC}: {name} is typed {kind:?}, openapi.yaml says {ty}"
        );

        for bound in ["minimum", "maximum", "minLength", "maxLength"] {
            if let Some(value) = schema.get(bound) {
                let value = scalar(value);
                assert!(
                    accepted_spans.contains(&value),
                    "{API_DOC}: the Accepted cell of {name} lacks `{value}` (its {bound} in openapi.yaml): {accepted:?}"
                );
            }
        }

        if let Some(values) = schema["enum"].as_array() {
            let spec_values: BTreeSet<String> = values.iter().map(scalar).collect();
            let doc_values: BTreeSet<String> = accepted_spans
                .iter()
                .filter(|s| s.parse::<f64>().is_err())
                .cloned()
                .collect();
            assert_same(&doc_values, &spec_values, &format!("The values of {name}"));
        }
        if ty == "boolean" {
            let both: BTreeSet<String> = ["false", "true"].map(String::from).into();
            assert_same(&accepted_spans, &both, &format!("The values of {name}"));
        }

        let doc_default = code_spans(default);
        match schema.get("default") {
            Some(value) => assert_eq!(
                doc_default,
                [scalar(value)],
                "{API_DOC}: the default of {name} differs from openapi.yaml"
            ),
            None => assert!(
                doc_default.is_empty(),
                "{API_DOC}: {name} has a default {doc_default:?}, openapi.yaml has none"
            ),
        }
    }
}

#[test]
fn the_error_table_lists_exactly_the_error_codes_and_statuses_of_openapi() {
    let spec = openapi();
    let error = resolve(&spec, &spec["components"]["schemas"]["Error"]);
    let enum_of = |field: &str| -> BTreeSet<String> {
        let values = error["properties"][field]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("openapi.yaml: the Error schema has no enum of {field}"));
        values.iter().map(scalar).collect()
    };
    let (spec_codes, spec_statuses) = (enum_of("code"), enum_of("statusCode"));
    assert!(
        !spec_codes.is_empty(),
        "openapi.yaml: the Error code enum is empty"
    );

    let mut doc_codes = BTreeSet::new();
    let mut doc_statuses = BTreeSet::new();
    for row in table(&read(API_DOC), &ERROR_HEADER) {
        let code = only_code_span(&row[0], "Code");
        let status = row[1].trim_matches('`').to_string();
        assert!(
            status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit()),
            "{API_DOC}: the status of {code} is {status:?}, not an HTTP status"
        );
        assert!(
            !row[2].is_empty(),
            "{API_DOC}: the error {code} does not say when it happens"
        );
        assert!(
            doc_codes.insert(code.clone()),
            "{API_DOC}: {code} is listed twice"
        );
        doc_statuses.insert(status);
    }
    assert_same(&doc_codes, &spec_codes, "The error codes");
    assert_same(&doc_statuses, &spec_statuses, "The error statuses");
}

/// Outside a git checkout, the directories whose files count: not build output, and no
/// dot-directory (virtualenv, local state) but `.ci`.
fn keep_dir(name: &str) -> bool {
    name != "target" && (name == ".ci" || !name.starts_with('.'))
}

/// Every file git tracks, or, outside a git checkout, every file under [`keep_dir`]s.
fn repository_files() -> Vec<PathBuf> {
    let root = root();
    let listed = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["ls-files", "-z"])
        .output()
        .ok()
        .filter(|out| out.status.success());
    if let Some(out) = listed {
        return out
            .stdout
            .split(|&b| b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| root.join(String::from_utf8_lossy(name).as_ref()))
            .collect();
    }
    let mut files = Vec::new();
    let mut pending = vec![root];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            match entry.file_type() {
                Ok(t) if t.is_dir() && keep_dir(&name) => pending.push(path),
                Ok(t) if t.is_file() => files.push(path),
                _ => {}
            }
        }
    }
    files
}

/// `path`'s lines that contain any of `needles`, as `path:line: text`.
fn lines_containing(path: &Path, needles: &[&str]) -> Vec<String> {
    // A file listed by git but deleted in the work tree (a move in progress) has nothing to say.
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let shown = path
        .strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string();
    text.lines()
        .enumerate()
        .filter(|(_, line)| needles.iter().any(|n| line.contains(n)))
        .map(|(i, line)| format!("{shown}:{}: {}", i + 1, line.trim()))
        .collect()
}

#[test]
fn no_file_points_at_a_sibling_checkout_or_a_machine_path() {
    // Spelled in pieces, so that this file does not contain what it looks for.
    let needles = [concat!("..", "/shared/"), concat!("/wo", "rk/")];
    let files = repository_files();
    assert!(
        files.iter().any(|f| f.ends_with("openapi.yaml")),
        "the repository's files were not found"
    );
    let hits: Vec<String> = files
        .iter()
        .flat_map(|f| lines_containing(f, &needles))
        .collect();
    assert!(
        hits.is_empty(),
        "the repository must stand alone; these lines point outside it:\n{}",
        hits.join("\n")
    );
}

/// Where `line` cites a tracker entry by number: the word for one followed by digits (with or
/// without `#`), or `#` and digits starting a word (not a key such as `SESSION#4444`).
fn issue_reference(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    for (i, _) in lower.match_indices("issue") {
        let rest = lower[i + "issue".len()..].trim_start_matches(&[' ', '#'][..]);
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if starts_word && rest.starts_with(|c: char| c.is_ascii_digit()) {
            return Some(line[i..].chars().take(16).collect());
        }
    }
    for (i, _) in lower.match_indices('#') {
        let digits = lower[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        let after = lower[i + 1 + digits..].chars().next();
        let starts_token = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if starts_token && digits > 0 && !after.is_some_and(|c| c.is_ascii_alphanumeric()) {
            return Some(line[i..i + 1 + digits].to_string());
        }
    }
    None
}

#[test]
fn no_document_refers_to_an_issue_by_number() {
    let mut documents = vec![root().join("README.md"), root().join("openapi.yaml")];
    let docs = root().join("docs");
    for entry in std::fs::read_dir(&docs).unwrap_or_else(|e| panic!("{}: {e}", docs.display())) {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            documents.push(path);
        }
    }
    let mut hits = Vec::new();
    for path in &documents {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (i, line) in text.lines().enumerate() {
            if let Some(found) = issue_reference(line) {
                hits.push(format!("{}:{}: {found}", path.display(), i + 1));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "documents must be read without an issue tracker; these lines cite issue numbers:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_helpers_read_tables_and_issue_numbers_as_intended() {
    let doc = "x\n\n| A | B |\n| --- | --- |\n| `a` \\| `b` | c |\n| `d` | e |\n\nafter\n";
    assert_eq!(
        table(doc, &["A", "B"]),
        [["`a` | `b`", "c"], ["`d`", "e"]].map(|r| r.map(String::from).to_vec())
    );
    assert_eq!(code_spans("`1` to `200`, digits"), ["1", "200"]);
    // Built here rather than written out, so this file does not cite what it looks for.
    let word = ["iss", "ue"].concat();
    let capital = ["Iss", "ue"].concat();
    for cited in [
        format!("see {word} 6"),
        format!("{capital} #12 says"),
        "fixed in #7.".to_string(),
        "(#42)".to_string(),
    ] {
        assert!(issue_reference(&cited).is_some(), "{cited}");
    }
    for fine in [
        "ORG#0b7e",
        "SESSION#4444…",
        "## 1. Heading",
        "https://github.com/o/r/issues/1101",
        "`#[test]`",
    ] {
        assert_eq!(issue_reference(fine), None, "{fine}");
    }
    let inside_a_word = format!("t{word} 5");
    assert_eq!(issue_reference(&inside_a_word), None, "{inside_a_word}");
}
