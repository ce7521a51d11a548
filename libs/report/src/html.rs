//! HTML building blocks of the reports: escaping of every piece of text that
//! comes from a file, the page shell with its inline style sheet (no scripts,
//! no external resources), key/value and column tables, and the generic
//! rendering of a JSON value (the analytics statistics) as tables.

use std::fmt::Write as _;

use serde_json::Value;

/// Escapes text for HTML element content and double- or single-quoted
/// attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1000px;color:#1f2937;padding:0 12px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}\
h3{font-size:15px;margin:18px 0 6px}.sub{color:#6b7280;margin:0 0 12px}\
table{border-collapse:collapse;margin:4px 0 12px;font-variant-numeric:tabular-nums}\
td,th{border:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f9fafb}\
td.n{text-align:right;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}\
pre{background:#f9fafb;border:1px solid #e5e7eb;padding:8px;overflow:auto}\
.note{color:#6b7280;font-size:12px}.empty{color:#9ca3af;font-style:italic}\
svg.chart{display:block;max-width:100%;height:auto;margin:6px 0 14px;font-size:11px}\
svg.chart text{fill:#374151}svg.chart .title{font-weight:600;font-size:13px}\
svg.chart .grid{stroke:#eef0f3}svg.chart .tick{stroke:#9ca3af}svg.chart .zero{stroke:#6b7280}\
svg.chart .frame{fill:none;stroke:#d1d5db}svg.chart .buy{fill:#15803d}svg.chart .sell{fill:#b91c1c}\
svg.chart .pos{fill:#16a34a}svg.chart .neg{fill:#dc2626}svg.chart .cell{stroke:#fff}\
.scroll{max-height:420px;overflow:auto}";

/// Wraps a body into a complete page.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n",
        escape(title)
    )
}

/// Whether text looks like a number (right-aligned in tables).
fn numeric(s: &str) -> bool {
    !s.is_empty() && s.parse::<f64>().is_ok()
}

fn cell(out: &mut String, text: &str) {
    if numeric(text) {
        let _ = write!(out, "<td class=\"n\">{}</td>", escape(text));
    } else {
        let _ = write!(out, "<td>{}</td>", escape(text));
    }
}

/// A two-column table of already-escaped-free text pairs.
pub fn kv_table(rows: &[(String, String)]) -> String {
    let mut out = String::from("<table class=\"kv\">");
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{}</th>", escape(k));
        cell(&mut out, v);
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

/// A table with a header row; cells are escaped.
pub fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            cell(&mut out, c);
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

/// Formats a JSON number for a table: integers as they are, other numbers with
/// six significant digits (no exponent for ordinary magnitudes).
pub fn fmt_json_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let v = n.as_f64().unwrap_or(f64::NAN);
    fmt_float(v)
}

/// Six significant digits, trailing zeros trimmed.
pub fn fmt_float(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-6..=12).contains(&mag) {
        return format!("{v:.5e}");
    }
    let decimals = (5 - mag).clamp(0, 12) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Text of a scalar JSON value (`None` for objects and arrays).
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("–".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(fmt_json_number(n)),
        Value::String(s) => Some(s.clone()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Turns a key like `max_drawdown_duration_secs` into `max drawdown duration secs`.
pub fn label(key: &str) -> String {
    key.replace('_', " ")
}

/// At most this many rows of an array are shown in a generic table.
pub const MAX_ROWS: usize = 200;

/// Renders any JSON value as HTML tables: an object's scalar fields as one
/// key/value table, each nested object or array under its own heading
/// (`depth` sets the heading level, starting at h3), arrays of objects as a
/// table with one column per key, arrays of scalars joined with commas.
pub fn json_tables(v: &Value, depth: usize) -> String {
    let mut out = String::new();
    match v {
        Value::Object(map) => {
            let rows: Vec<(String, String)> = map
                .iter()
                .filter_map(|(k, v)| scalar_text(v).map(|t| (label(k), t)))
                .collect();
            if !rows.is_empty() {
                out.push_str(&kv_table(&rows));
            }
            let h = (depth + 3).min(6);
            for (k, v) in map {
                if matches!(v, Value::Object(_) | Value::Array(_)) {
                    let _ = write!(out, "<h{h}>{}</h{h}>", escape(&label(k)));
                    out.push_str(&json_tables(v, depth + 1));
                }
            }
        }
        Value::Array(items) => out.push_str(&array_table(items)),
        other => {
            let _ = write!(
                out,
                "<p>{}</p>",
                escape(&scalar_text(other).unwrap_or_default())
            );
        }
    }
    out
}

fn array_table(items: &[Value]) -> String {
    if items.is_empty() {
        return "<p class=\"empty\">none</p>".into();
    }
    let shown = &items[..items.len().min(MAX_ROWS)];
    let more = items.len() - shown.len();
    let note = if more > 0 {
        format!("<p class=\"note\">{} more rows not shown</p>", more)
    } else {
        String::new()
    };
    if shown.iter().all(|v| v.is_object()) {
        let mut cols: Vec<String> = Vec::new();
        for v in shown {
            if let Value::Object(m) = v {
                for k in m.keys() {
                    if !cols.contains(k) {
                        cols.push(k.clone());
                    }
                }
            }
        }
        let rows: Vec<Vec<String>> = shown
            .iter()
            .map(|v| {
                cols.iter()
                    .map(|c| match v.get(c) {
                        Some(x) => scalar_text(x).unwrap_or_else(|| compact(x)),
                        None => String::new(),
                    })
                    .collect()
            })
            .collect();
        let header: Vec<String> = cols.iter().map(|c| label(c)).collect();
        return format!(
            "<div class=\"scroll\">{}</div>{note}",
            table(&header, &rows)
        );
    }
    if shown.iter().all(|v| v.is_array()) {
        let width = shown
            .iter()
            .filter_map(|v| v.as_array())
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        let header: Vec<String> = (1..=width).map(|i| format!("#{i}")).collect();
        let rows: Vec<Vec<String>> = shown
            .iter()
            .filter_map(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .map(|x| scalar_text(x).unwrap_or_else(|| compact(x)))
                    .collect()
            })
            .collect();
        return format!(
            "<div class=\"scroll\">{}</div>{note}",
            table(&header, &rows)
        );
    }
    let text: Vec<String> = shown
        .iter()
        .map(|x| scalar_text(x).unwrap_or_else(|| compact(x)))
        .collect();
    format!("<p>{}</p>{note}", escape(&text.join(", ")))
}

/// Compact one-line text of a nested value.
fn compact(v: &Value) -> String {
    match v {
        Value::Array(a) => {
            let parts: Vec<String> = a
                .iter()
                .map(|x| scalar_text(x).unwrap_or_else(|| compact(x)))
                .collect();
            parts.join(" / ")
        }
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, x)| format!("{k}: {}", scalar_text(x).unwrap_or_else(|| compact(x))))
                .collect();
            parts.join("; ")
        }
        other => scalar_text(other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x&y')</script>\""),
            "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;&quot;"
        );
        assert_eq!(escape("plain 1.5"), "plain 1.5");
    }

    #[test]
    fn floats_have_six_significant_digits() {
        assert_eq!(fmt_float(1.234_567_89), "1.23457");
        assert_eq!(fmt_float(-0.000_123_456_7), "-0.000123457");
        assert_eq!(fmt_float(12_345_678.9), "12345679");
        assert_eq!(fmt_float(2.5), "2.5");
        assert_eq!(fmt_float(0.0), "0");
        assert_eq!(fmt_float(1e-9), "1.00000e-9");
    }

    #[test]
    fn json_renders_generically_and_safely() {
        let v = json!({
            "sharpe": 1.234_567_8,
            "trades": 3,
            "net": "-2.5",
            "name": "<b>",
            "decomposition": {"fees": "1.0"},
            "markouts": [{"horizon_secs": 1.0, "mean": null}, {"horizon_secs": 5.0, "mean": 0.25}],
            "max_position": [["BTC", "0.01"]],
            "tags": ["a", "b"],
        });
        let s = json_tables(&v, 0);
        assert!(
            s.contains("<th>sharpe</th><td class=\"n\">1.23457</td>"),
            "{s}"
        );
        assert!(s.contains("<td class=\"n\">-2.5</td>"));
        assert!(s.contains("&lt;b&gt;") && !s.contains("<b>"));
        assert!(s.contains("<h3>decomposition</h3>"));
        assert!(s.contains("<th>horizon secs</th><th>mean</th>"), "{s}");
        assert!(s.contains("<td>BTC</td><td class=\"n\">0.01</td>"), "{s}");
        assert!(s.contains("<p>a, b</p>"));
        let page = page("t<", &s);
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<title>t&lt;</title>"));
        assert!(
            !page.contains("<script") && !page.contains("http://") && !page.contains("https://")
        );
    }
}
