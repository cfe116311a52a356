//! Keeps docs/ true to the code: every RGD example in docs/*.md validates with `kro validate`,
//! every row of the CEL tables in docs/writing-rgds.md evaluates to its documented result, every
//! SimpleSchema marker is documented, and every `kro run` flag is in docs/operations.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use kro_cel::{Activation, CelValue, Environment, Rendered};
use serde_json::Value as Json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn doc(name: &str) -> String {
    std::fs::read_to_string(root().join("docs").join(name))
        .unwrap_or_else(|e| panic!("cannot read docs/{name}: {e}"))
}

fn doc_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

/// Fenced blocks of `text` as (info string, body, line of the opening fence).
fn fenced_blocks(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, usize)> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match current.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    current = Some((info.trim().to_string(), String::new(), n + 1));
                }
            }
            Some((info, mut body, at)) => {
                if trimmed.starts_with("```") {
                    out.push((info, body, at));
                } else {
                    body.push_str(line);
                    body.push('\n');
                    current = Some((info, body, at));
                }
            }
        }
    }
    out
}

/// The RGD examples: ```yaml blocks whose first document is a ResourceGraphDefinition. Only that
/// first document is kept (an instance may follow it in the same block).
fn rgd_examples() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (info, body, line) in fenced_blocks(&text) {
            if info != "yaml" {
                continue;
            }
            let first = body.split("\n---").next().unwrap_or("");
            let is_rgd = first
                .lines()
                .any(|l| l.trim_end() == "kind: ResourceGraphDefinition");
            if is_rgd {
                out.push((format!("{name}:{line}"), first.to_string()));
            }
        }
    }
    out
}

#[test]
fn every_rgd_example_in_the_docs_validates() {
    let examples = rgd_examples();
    assert!(
        examples.len() >= 7,
        "expected the docs to hold RGD examples, found {}",
        examples.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, (at, body)) in examples.iter().enumerate() {
        let path = dir.path().join(format!("example-{i}.yaml"));
        std::fs::write(&path, format!("# {at}\n{body}")).unwrap();
        files.push((at.clone(), path));
    }
    // All together, as chained RGDs may use each other's kinds.
    let out = Command::new(env!("CARGO_BIN_EXE_kro"))
        .arg("validate")
        .args(files.iter().map(|(_, p)| p))
        .output()
        .expect("run kro validate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut failures = Vec::new();
    for (at, path) in &files {
        let prefix = format!("{}: ", path.display());
        let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with(&prefix)).collect();
        if !lines.iter().any(|l| l.contains(": valid (")) {
            failures.push(format!("{at}:\n  {}", lines.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty() && out.status.success(),
        "RGD examples in docs/ that do not validate:\n{}\n\nfull output:\n{stdout}{}",
        failures.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Splits a Markdown table row into cells, honouring `\|` escapes.
fn cells(row: &str) -> Vec<String> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let row = row.strip_suffix('|').unwrap_or(row);
    let mut out = vec![String::new()];
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

fn code(cell: &str) -> Option<&str> {
    cell.strip_prefix('`')?.strip_suffix('`')
}

/// Rows of every `| Expression | Result |` table: (line, expression, result text).
fn cel_rows(text: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut in_table = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if !t.starts_with('|') {
            in_table = false;
            continue;
        }
        let c = cells(t);
        if c.len() == 2 && c[0] == "Expression" && c[1] == "Result" {
            in_table = true;
            continue;
        }
        if !in_table || c.iter().all(|x| x.chars().all(|ch| ch == '-' || ch == ':')) {
            continue;
        }
        assert_eq!(c.len(), 2, "line {}: a CEL row has two cells: {t}", n + 1);
        let expr = code(&c[0]).unwrap_or_else(|| panic!("line {}: expression in `...`", n + 1));
        let result = code(&c[1]).unwrap_or_else(|| panic!("line {}: result in `...`", n + 1));
        out.push((n + 1, expr.to_string(), result.to_string()));
    }
    out
}

/// The ```json cel-fixture block of writing-rgds.md, bound as the examples' variables.
fn fixture(text: &str) -> Activation {
    let (_, body, _) = fenced_blocks(text)
        .into_iter()
        .find(|(info, _, _)| info == "json cel-fixture")
        .expect("docs/writing-rgds.md has a ```json cel-fixture block");
    let f: Json = serde_json::from_str(&body).expect("the fixture is JSON");
    let mut a = Activation::new();
    for var in ["schema", "deployment", "config"] {
        a.bind(var, CelValue::from_json(&f[var]));
    }
    let conditions = f["instanceConditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    a.bind_runtime(conditions);
    a
}

#[test]
fn every_cel_example_in_writing_rgds_evaluates_to_its_documented_result() {
    let text = doc("writing-rgds.md");
    let activation = fixture(&text);
    let rows = cel_rows(&text);
    assert!(rows.len() > 150, "only {} CEL rows found", rows.len());
    let env = Environment::new();
    let mut failures = Vec::new();
    for (line, expr, want) in &rows {
        let got = env.compile(expr).and_then(|p| p.eval_json(&activation));
        let ok = match (&got, want.as_str()) {
            (Ok(Rendered::Omit), "(omitted)") => true,
            (Ok(Rendered::Value(v)), w) => match serde_json::from_str::<Json>(w) {
                Ok(w) => *v == w,
                Err(e) => {
                    failures.push(format!("line {line}: result {w:?} is not JSON: {e}"));
                    continue;
                }
            },
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "line {line}: {expr}\n    documented {want}\n    got        {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} CEL examples in docs/writing-rgds.md are wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_simpleschema_marker_is_documented() {
    let text = doc("writing-rgds.md");
    let missing: Vec<&str> = kro_schema::markers::MARKER_NAMES
        .iter()
        .copied()
        .filter(|m| !text.contains(&format!("| `{m}` |")) || !text.contains(&format!("{m}=")))
        .collect();
    assert!(
        missing.is_empty(),
        "markers without a row and an example in docs/writing-rgds.md: {missing:?}"
    );
}

/// The long flags of `kro <args> --help`.
fn flags(args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_kro"))
        .args(args)
        .arg("--help")
        .output()
        .expect("run kro --help");
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut flags: Vec<String> = help
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("-h, ").unwrap_or(l);
            let flag = l.strip_prefix("--")?;
            let name: String = flag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (!name.is_empty() && name != "help").then(|| format!("--{name}"))
        })
        .collect();
    flags.dedup();
    flags
}

#[test]
fn every_kro_run_flag_is_in_operations_md() {
    let text = doc("operations.md");
    let flags = flags(&["run"]);
    assert!(flags.len() > 20, "{flags:?}");
    let missing: Vec<&String> = flags
        .iter()
        .filter(|f| !text.contains(&format!("`{f}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "`kro run` flags missing from docs/operations.md: {missing:?}"
    );
}

#[test]
fn every_subcommand_flag_is_in_cli_md() {
    let text = doc("cli.md");
    let mut missing = Vec::new();
    for sub in [
        "validate",
        "render",
        "graph",
        "crds",
        "generate crd",
        "generate instance",
    ] {
        assert!(
            text.contains(&format!("## kro {sub}")),
            "no section for {sub}"
        );
        let args: Vec<&str> = sub.split(' ').collect();
        for f in flags(&args) {
            if !text.contains(&format!("`{f}")) {
                missing.push(format!("kro {sub} {f}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "flags missing from docs/cli.md: {missing:?}"
    );
}

/// Names of every CEL function and macro kro-cel declares: the checker signatures of the `cel`
/// crate's functions (`BUILTIN_SIGNATURES`), of kro-cel's own overloads, and its macros.
fn cel_function_names() -> Vec<String> {
    let dir = root().join("operator/cel/src/library");
    let mut names = std::collections::BTreeSet::new();
    let mut add = |sig: &str| {
        let sig = sig.trim().trim_start_matches('"');
        let rest = match sig.strip_prefix('<') {
            // `<receiver type>.name(...)`: skip the (possibly nested) receiver type.
            Some(_) => match sig.find(">.") {
                Some(i) => &sig[i + 2..],
                None => return,
            },
            None => sig,
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        if !name.is_empty() && rest[name.len()..].starts_with('(') && !name.starts_with('_') {
            names.insert(name);
        }
    };
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if let Some(start) = text.find("BUILTIN_SIGNATURES: &str = r#\"") {
            let block = &text[start..];
            let block = &block[..block.find("\"#;").unwrap()];
            for line in block.lines().skip(1) {
                add(line);
            }
        }
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('"') && t.contains(") -> ") {
                add(t);
            }
            for prefix in ["Macro::receiver(\"", "Macro::global(\""] {
                if let Some(i) = t.find(prefix) {
                    let rest = &t[i + prefix.len()..];
                    add(&format!("{}()", &rest[..rest.find('"').unwrap()]));
                }
            }
        }
    }
    names.into_iter().collect()
}

#[test]
fn every_cel_function_has_an_example_in_writing_rgds() {
    let text = doc("writing-rgds.md");
    let examples: String = cel_rows(&text)
        .into_iter()
        .map(|(_, expr, _)| expr)
        .collect::<Vec<_>>()
        .join("\n");
    let names = cel_function_names();
    assert!(names.len() > 100, "{names:?}");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !examples.contains(&format!("{n}(")))
        .collect();
    assert!(
        missing.is_empty(),
        "CEL functions without an example row in docs/writing-rgds.md: {missing:?}"
    );
}

/// Every metric family kro-controller can serve (kro's list less what it does not serve, and
/// its own); its unit test checks that this is exactly what a scrape shows.
fn registered_metrics() -> Vec<String> {
    kro_controller::metrics::served_families()
}

#[test]
fn every_metric_is_in_operations_md() {
    let text = doc("operations.md");
    let names = registered_metrics();
    assert!(names.len() > 15, "{names:?}");
    // prometheus-client appends `_total` to counters.
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| {
            !text.contains(&format!("| `{n}` |")) && !text.contains(&format!("| `{n}_total` |"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "metrics without a row in docs/operations.md: {missing:?}"
    );
}

#[test]
fn every_kro_metric_not_served_is_in_compatibility_md() {
    let text = doc("compatibility.md");
    let section = text
        .split("### Metrics")
        .nth(1)
        .expect("compatibility.md has a Metrics section");
    let missing: Vec<&str> = kro_controller::metrics::NOT_SERVED
        .iter()
        .map(|(name, _)| name.trim_end_matches('*'))
        .filter(|name| !section.contains(&format!("`{name}")))
        .collect();
    assert!(
        missing.is_empty(),
        "kro metrics kro-rs does not serve, without a row in docs/compatibility.md: {missing:?}"
    );
}
