//! A hand-written SVG: instances Ready over time, and the operator's memory over the whole run.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::metrics::ProcSample;

pub(crate) const W: f64 = 860.0;
pub(crate) const H: f64 = 260.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 40.0;

/// A named, coloured line of (x, y) points.
pub(crate) type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

/// A step line of `points` (x, y) in a panel at vertical offset `y0`.
pub(crate) fn panel(
    out: &mut String,
    y0: f64,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    marks: &[(String, f64)],
) {
    let x_max = series
        .iter()
        .flat_map(|s| s.2.iter().map(|p| p.0))
        .chain(marks.iter().map(|m| m.1))
        .fold(1.0f64, f64::max);
    let y_max = series
        .iter()
        .flat_map(|s| s.2.iter().map(|p| p.1))
        .fold(1.0f64, f64::max)
        * 1.1;
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let sx = |x: f64| LEFT + x / x_max * pw;
    let sy = |y: f64| y0 + TOP + ph - y / y_max * ph;
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{}" font-size="14" font-weight="bold">{title}</text>"#,
        y0 + 18.0
    );
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>"##,
        y0 + TOP
    );
    for i in 0..=5 {
        let f = i as f64 / 5.0;
        let (x, y) = (sx(f * x_max), sy(f * y_max));
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{:.0}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            f * y_max
        );
        let _ = writeln!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle">{:.1}</text>"#,
            y0 + TOP + ph + 15.0,
            f * x_max
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{x_label}</text>"#,
        LEFT + pw / 2.0,
        y0 + H - 5.0
    );
    let _ = writeln!(
        out,
        r#"<text x="14" y="{:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 14 {:.1})">{y_label}</text>"#,
        y0 + TOP + ph / 2.0,
        y0 + TOP + ph / 2.0
    );
    for (name, x) in marks {
        let _ = writeln!(
            out,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#999" stroke-dasharray="3,3"/><text x="{3:.1}" y="{4:.1}" font-size="10" fill="#666">{name}</text>"##,
            sx(*x),
            y0 + TOP,
            y0 + TOP + ph,
            sx(*x) + 3.0,
            y0 + TOP + 12.0
        );
    }
    for (i, (name, colour, points)) in series.iter().enumerate() {
        let mut d = String::new();
        for (j, (x, y)) in points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1} ",
                if j == 0 { "M" } else { "L" },
                sx(*x),
                sy(*y)
            );
        }
        let _ = writeln!(
            out,
            r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"/>"#
        );
        let ly = y0 + TOP + 16.0 + 16.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="12" height="3" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="11">{name}</text>"#,
            LEFT + pw - 170.0,
            ly - 4.0,
            LEFT + pw - 153.0,
            ly
        );
    }
}

/// Cumulative count over sorted times, as (t, n) steps.
pub(crate) fn cumulative(times: &[f64]) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, 0.0)];
    for (i, t) in times.iter().enumerate() {
        out.push((*t, i as f64));
        out.push((*t, i as f64 + 1.0));
    }
    out
}

pub(crate) fn svg(
    samples: &[ProcSample],
    ready: &[f64],
    created: &[f64],
    _inst_start: f64,
    phases: &BTreeMap<&str, f64>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{}" font-family="sans-serif">"#,
        2.0 * H + 10.0
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    panel(
        &mut out,
        0.0,
        "Instances created and Ready (state ACTIVE)",
        "seconds since the first instance create",
        "instances",
        &[
            ("created", "#1f77b4", cumulative(created)),
            ("Ready", "#2ca02c", cumulative(ready)),
        ],
        &[],
    );
    let mem: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| (s.t, s.rss_kib as f64 / 1024.0))
        .collect();
    let marks: Vec<(String, f64)> = phases
        .iter()
        .map(|(k, v)| (k.replace('_', " "), *v))
        .collect();
    panel(
        &mut out,
        H + 10.0,
        "Operator memory (RSS, sampled every 500 ms)",
        "seconds since the bench started",
        "MiB",
        &[("RSS", "#d62728", mem)],
        &marks,
    );
    out.push_str("</svg>\n");
    out
}
