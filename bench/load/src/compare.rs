//! `kro-bench-load compare`: several runs' result.json side by side, the first one the
//! reference (kro-rs), as one Markdown table with the ratios and one SVG with every run's
//! instances-Ready and memory curves.

use std::fmt::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::plot;

/// Flags of `kro-bench-load compare`.
#[derive(Debug, clap::Parser)]
#[command(about = "Puts load-bench results side by side: compare.md and compare.svg")]
pub(crate) struct CompareArgs {
    /// Directory for compare.md and compare.svg.
    #[arg(long)]
    out: PathBuf,
    /// Runs as `LABEL=path/to/result.json`; the first is the reference the ratios are of.
    #[arg(required = true, num_args = 2..)]
    runs: Vec<String>,
}

/// Whether a larger figure is better.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
}

/// A row of the table: its name, where it is in result.json, its unit, which way is better.
struct Row {
    name: &'static str,
    path: &'static [&'static str],
    unit: &'static str,
    better: Better,
}

const ROWS: &[Row] = &[
    row(
        "time to all Ready",
        &["instances", "all_ready_seconds"],
        "s",
        Better::Lower,
    ),
    row(
        "instances/s",
        &["instances", "instances_per_second"],
        "",
        Better::Higher,
    ),
    row(
        "ready p50",
        &["instances", "ready_p50_seconds"],
        "s",
        Better::Lower,
    ),
    row(
        "ready p99",
        &["instances", "ready_p99_seconds"],
        "s",
        Better::Lower,
    ),
    row(
        "peak RSS",
        &["operator", "peak_rss_mib"],
        "MiB",
        Better::Lower,
    ),
    row(
        "operator CPU per instance",
        &["instances", "operator_cpu_ms_per_instance"],
        "ms",
        Better::Lower,
    ),
    row(
        "API requests per instance",
        &["instances", "operator_requests_per_instance"],
        "",
        Better::Lower,
    ),
    row(
        "writes while idle (the operator's, counted by its client)",
        &["idle", "client_counted", "writes"],
        "",
        Better::Lower,
    ),
    row(
        "writes while idle (at the apiserver, leases excluded)",
        &["idle", "writes_excluding_leases"],
        "",
        Better::Lower,
    ),
    row(
        "deletion (instances gone)",
        &["delete", "instances_gone_seconds"],
        "s",
        Better::Lower,
    ),
    row(
        "RGDs Active",
        &["rgds", "all_active_seconds"],
        "s",
        Better::Lower,
    ),
    row(
        "RGD change rolled out (`--rollout`)",
        &["rollout", "seconds"],
        "s",
        Better::Lower,
    ),
    row(
        "API requests for the rollout",
        &["rollout", "operator_requests"],
        "",
        Better::Lower,
    ),
];

const fn row(
    name: &'static str,
    path: &'static [&'static str],
    unit: &'static str,
    better: Better,
) -> Row {
    Row {
        name,
        path,
        unit,
        better,
    }
}

/// One run: its label and result.
struct Run {
    label: String,
    result: Value,
}

impl Run {
    fn figure(&self, path: &[&str]) -> Option<f64> {
        path.iter()
            .try_fold(&self.result, |v, key| v.get(key))
            .and_then(Value::as_f64)
    }

    fn series(&self, key: &str) -> Vec<Value> {
        self.result["series"][key]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

fn load(spec: &str) -> Result<Run> {
    let Some((label, path)) = spec.split_once('=') else {
        bail!("run {spec:?}: write it as LABEL=path/to/result.json");
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let result = serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
    Ok(Run {
        label: label.to_string(),
        result,
    })
}

/// How many times better the reference is than `other` (above 1: the reference is better).
fn advantage(better: Better, reference: f64, other: f64) -> String {
    let (num, den) = match better {
        Better::Higher => (reference, other),
        Better::Lower => (other, reference),
    };
    if den == 0.0 {
        return if num == 0.0 {
            "same".into()
        } else {
            "∞".into()
        };
    }
    format!("{:.2}×", num / den)
}

fn figure_text(value: Option<f64>, unit: &str) -> String {
    match value {
        None => "–".into(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e9 => format!("{v:.0}{}", space(unit)),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}{}", space(unit)),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}{}", space(unit)),
        Some(v) => format!("{v:.2}{}", space(unit)),
    }
}

fn space(unit: &str) -> String {
    if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    }
}

/// The table: one column per run, then one "reference vs run" column per other run.
fn table(runs: &[Run]) -> String {
    let reference = &runs[0];
    let mut out = String::new();
    let _ = write!(out, "| |");
    for run in runs {
        let _ = write!(out, " {} |", run.label);
    }
    for run in &runs[1..] {
        let _ = write!(out, " {} vs {} |", reference.label, run.label);
    }
    out.push('\n');
    let _ = writeln!(out, "|---|{}", "---|".repeat(2 * runs.len() - 1));
    for row in ROWS {
        let _ = write!(out, "| {} |", row.name);
        for run in runs {
            let _ = write!(out, " {} |", figure_text(run.figure(row.path), row.unit));
        }
        let mine = reference.figure(row.path);
        for run in &runs[1..] {
            let cell = match (mine, run.figure(row.path)) {
                (Some(a), Some(b)) => advantage(row.better, a, b),
                _ => "–".into(),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\nA ratio above 1× means {} is better by that factor (faster, or less).",
        reference.label
    );
    out
}

const COLOURS: &[&str] = &["#2ca02c", "#d62728", "#ff7f0e", "#1f77b4", "#9467bd"];

/// Instances Ready over time and memory over time, one curve per run.
fn svg(runs: &[Run]) -> String {
    let ready: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|run| {
            let mut times: Vec<f64> = run
                .series("ready_at_seconds")
                .iter()
                .filter_map(Value::as_f64)
                .collect();
            times.sort_by(f64::total_cmp);
            plot::cumulative(&times)
        })
        .collect();
    let memory: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|run| {
            run.series("memory")
                .iter()
                .filter_map(|sample| {
                    Some((sample.get(0)?.as_f64()?, sample.get(1)?.as_f64()? / 1024.0))
                })
                .collect()
        })
        .collect();
    let series = |curves: &[Vec<(f64, f64)>]| -> Vec<plot::Series<'_>> {
        runs.iter()
            .zip(curves)
            .enumerate()
            .map(|(i, (run, points))| {
                (
                    run.label.as_str(),
                    COLOURS[i % COLOURS.len()],
                    points.clone(),
                )
            })
            .collect()
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif">"#,
        plot::W,
        2.0 * plot::H + 10.0
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    plot::panel(
        &mut out,
        0.0,
        "Instances Ready (state ACTIVE)",
        "seconds since the first instance create",
        "instances",
        &series(&ready),
        &[],
    );
    plot::panel(
        &mut out,
        plot::H + 10.0,
        "Operator memory (RSS, sampled every 500 ms)",
        "seconds since the bench started",
        "MiB",
        &series(&memory),
        &[],
    );
    out.push_str("</svg>\n");
    out
}

/// Reads the runs and writes compare.md and compare.svg into `--out`.
pub(crate) fn run(args: &CompareArgs) -> Result<()> {
    let runs = args
        .runs
        .iter()
        .map(|spec| load(spec))
        .collect::<Result<Vec<_>>>()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let table = table(&runs);
    let md = args.out.join("compare.md");
    std::fs::write(&md, &table).with_context(|| format!("writing {}", md.display()))?;
    let picture = args.out.join("compare.svg");
    std::fs::write(&picture, svg(&runs))
        .with_context(|| format!("writing {}", picture.display()))?;
    println!("{table}");
    println!("wrote {} and {}", md.display(), picture.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(label: &str, ready: f64, rate: f64, idle: f64) -> Run {
        Run {
            label: label.into(),
            result: json!({
                "instances": {"all_ready_seconds": ready, "instances_per_second": rate},
                "idle": {"writes_excluding_leases": idle + 1.0, "client_counted": {"writes": idle}},
                "series": {"ready_at_seconds": [1.0, 2.0], "memory": [[0.0, 2048.0, 0.1]]},
            }),
        }
    }

    #[test]
    fn ratios_say_how_many_times_better_the_reference_is() {
        let runs = [
            run("kro-rs", 10.0, 100.0, 0.0),
            run("kro", 40.0, 25.0, 12.0),
        ];
        let table = table(&runs);
        assert!(
            table.contains("| kro-rs | kro | kro-rs vs kro |"),
            "{table}"
        );
        assert!(
            table.contains("| time to all Ready | 10 s | 40 s | 4.00× |"),
            "{table}"
        );
        assert!(
            table.contains("| instances/s | 100 | 25 | 4.00× |"),
            "{table}"
        );
        assert!(
            table.contains(
                "| writes while idle (the operator's, counted by its client) | 0 | 12 | ∞ |"
            ),
            "{table}"
        );
        assert!(
            table.contains(
                "| writes while idle (at the apiserver, leases excluded) | 1 | 13 | 13.00× |"
            ),
            "{table}"
        );
        assert!(table.contains("| peak RSS | – | – | – |"), "{table}");
    }

    #[test]
    fn the_picture_has_a_curve_per_run_and_panel() {
        let runs = [run("kro-rs", 1.0, 1.0, 0.0), run("kro", 1.0, 1.0, 0.0)];
        let svg = svg(&runs);
        assert_eq!(svg.matches("<path ").count(), 4, "{svg}");
        assert!(svg.contains(">kro-rs</text>") && svg.contains(">kro</text>"));
    }

    #[test]
    fn a_run_without_a_label_is_refused_by_name() {
        let error = load("result.json").err().unwrap().to_string();
        assert!(error.contains("LABEL=path"), "{error}");
    }
}
