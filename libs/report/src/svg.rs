//! Inline SVG charts: linear scales, "nice" axis ticks, min/max downsampling
//! of long series, and the chart kinds of the reports (time-series lines with
//! optional buy/sell markers, bar charts, heatmaps).
//!
//! Every chart is an `<svg class="chart" data-chart="NAME" data-points="N">`
//! where N is the number of drawn data elements (line vertices, markers, bars
//! or cells); the data elements sit in a `<g class="data">`. The output is
//! deterministic: the same input gives the same bytes. Coordinates are `f64`
//! (drawing only; nothing here feeds back into trading).

use std::fmt::Write as _;

use crate::html::escape;

/// Default width of a chart, in pixels.
pub const WIDTH: f64 = 960.0;
/// At most this many vertices are drawn per series (see [`downsample`]).
pub const MAX_POINTS: usize = 2000;
/// At most this many buy/sell markers are drawn per chart.
pub const MAX_MARKERS: usize = 2000;

const LEFT: f64 = 86.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 34.0;

/// A linear map from a data interval onto a pixel interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    /// Maps `[d0, d1]` onto `[r0, r1]`; an empty data interval is widened so
    /// that its single value lands in the middle of the range.
    pub fn new(d0: f64, d1: f64, r0: f64, r1: f64) -> Scale {
        let (d0, d1) = if d1 > d0 {
            (d0, d1)
        } else {
            let pad = if d0 == 0.0 { 1.0 } else { d0.abs() * 0.01 };
            (d0 - pad, d0 + pad)
        };
        Scale { d0, d1, r0, r1 }
    }

    /// Pixel of data value `v`.
    pub fn map(&self, v: f64) -> f64 {
        self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }

    /// The (possibly widened) data interval.
    pub fn domain(&self) -> (f64, f64) {
        (self.d0, self.d1)
    }
}

/// Reduces a series to at most `max` points (`max` ≥ 4) keeping its shape:
/// the first and last points, and for each of `(max - 2) / 2` equal buckets of
/// the points between them, the lowest and the highest point in their
/// original order, so spikes stay visible. Shorter series are returned whole.
pub fn downsample(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    let max = max.max(4);
    let n = points.len();
    if n <= max {
        return points.to_vec();
    }
    let inner = &points[1..n - 1];
    let buckets = (max - 2) / 2;
    let mut out = Vec::with_capacity(max);
    out.push(points[0]);
    for b in 0..buckets {
        let lo = b * inner.len() / buckets;
        let hi = (b + 1) * inner.len() / buckets;
        if lo >= hi {
            continue;
        }
        let (mut imin, mut imax) = (lo, lo);
        for i in lo..hi {
            if inner[i].1 < inner[imin].1 {
                imin = i;
            }
            if inner[i].1 > inner[imax].1 {
                imax = i;
            }
        }
        let (a, c) = (imin.min(imax), imin.max(imax));
        out.push(inner[a]);
        if c != a {
            out.push(inner[c]);
        }
    }
    out.push(points[n - 1]);
    out
}

/// Turns a series of values that hold until the next point into a drawable
/// step line (a horizontal then a vertical segment between points).
pub fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, p) in points.iter().enumerate() {
        if i > 0 {
            out.push((p.0, points[i - 1].1));
        }
        out.push(*p);
    }
    out
}

/// About `n` round tick values (1, 2 or 5 × 10^k apart) covering `[lo, hi]`,
/// and the step between them.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> (Vec<f64>, f64) {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater)
        || !lo.is_finite()
        || !hi.is_finite()
    {
        return (vec![lo], 1.0);
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let step = mag
        * if f <= 1.0 {
            1.0
        } else if f <= 2.0 {
            2.0
        } else if f <= 5.0 {
            5.0
        } else {
            10.0
        };
    let mut out = Vec::new();
    let mut k = (lo / step).ceil();
    while k * step <= hi + step * 1e-9 && out.len() < 100 {
        let v = k * step;
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        k += 1.0;
    }
    (out, step)
}

/// Round time ticks (UTC-aligned multiples of 1 s … 30 days) inside
/// `[t0, t1]` (epoch seconds), at most about `n` of them, and their step.
pub fn time_ticks(t0: f64, t1: f64, n: usize) -> (Vec<f64>, f64) {
    const STEPS: [f64; 22] = [
        1.0,
        2.0,
        5.0,
        10.0,
        15.0,
        30.0,
        60.0,
        120.0,
        300.0,
        600.0,
        900.0,
        1800.0,
        3600.0,
        7200.0,
        10_800.0,
        21_600.0,
        43_200.0,
        86_400.0,
        172_800.0,
        604_800.0,
        1_209_600.0,
        2_592_000.0,
    ];
    let span = t1 - t0;
    if span.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !span.is_finite() {
        return (vec![t0], 1.0);
    }
    let step = STEPS
        .iter()
        .copied()
        .find(|s| span / s <= n as f64)
        .unwrap_or_else(|| (span / n as f64 / 2_592_000.0).ceil() * 2_592_000.0);
    let mut out = Vec::new();
    let mut t = (t0 / step).ceil() * step;
    while t <= t1 && out.len() < 64 {
        out.push(t);
        t += step;
    }
    (out, step)
}

/// Formats a number for a label with `decimals` fraction digits.
pub fn fmt_num(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].bytes().all(|c| c == b'0' || c == b'.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Fraction digits needed to tell ticks `step` apart (0..=8).
fn decimals_for(step: f64) -> usize {
    if step >= 1.0 || step <= 0.0 {
        0
    } else {
        ((-step.log10()).ceil() as usize).min(8)
    }
}

/// How the values of an axis are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain numbers.
    Plain,
    /// Fractions shown as percentages.
    Percent,
}

/// One line of a time-series chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend text.
    pub name: String,
    /// CSS colour.
    pub color: &'static str,
    /// `(epoch seconds, value)` points, in time order.
    pub points: Vec<(f64, f64)>,
    /// Draw as a step line (value holds until the next point).
    pub step: bool,
    /// Fill the area between the line and zero.
    pub area: bool,
}

/// A trade marker on a price chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Marker {
    /// Epoch seconds.
    pub t: f64,
    /// Price.
    pub y: f64,
    /// Buy (up triangle) or sell (down triangle).
    pub buy: bool,
}

/// A time-series chart: lines plus optional buy/sell markers.
#[derive(Debug, Clone)]
pub struct TimeChart {
    /// `data-chart` name (stable, for tests).
    pub id: String,
    /// Title drawn above the plot.
    pub title: String,
    /// Lines.
    pub lines: Vec<Line>,
    /// Markers.
    pub markers: Vec<Marker>,
    /// Value format of the y axis.
    pub format: Format,
    /// Height in pixels.
    pub height: f64,
}

fn push_path(out: &mut String, pts: &[(f64, f64)], xs: &Scale, ys: &Scale) {
    for (i, (x, y)) in pts.iter().enumerate() {
        let _ = write!(
            out,
            "{}{:.1},{:.1}",
            if i == 0 { "M" } else { "L" },
            xs.map(*x),
            ys.map(*y)
        );
    }
}

fn open_svg(out: &mut String, id: &str, title: &str, points: usize, w: f64, h: f64) {
    let _ = write!(
        out,
        "<svg class=\"chart\" data-chart=\"{}\" data-points=\"{points}\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">\
         <text class=\"title\" x=\"{LEFT}\" y=\"16\">{}</text>",
        escape(id),
        escape(title),
        escape(title)
    );
}

impl TimeChart {
    /// Renders the chart; `None` when there is nothing to draw.
    pub fn render(&self) -> Option<String> {
        let lines: Vec<(&Line, Vec<(f64, f64)>)> = self
            .lines
            .iter()
            .filter(|l| !l.points.is_empty())
            .map(|l| {
                let pts = if l.step {
                    steps(&l.points)
                } else {
                    l.points.clone()
                };
                (l, downsample(&pts, MAX_POINTS))
            })
            .collect();
        if lines.is_empty() {
            return None;
        }
        let all = || lines.iter().flat_map(|(_, p)| p.iter());
        let (mut t0, mut t1) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
        for (t, y) in all() {
            t0 = t0.min(*t);
            t1 = t1.max(*t);
            y0 = y0.min(*y);
            y1 = y1.max(*y);
        }
        for m in &self.markers {
            t0 = t0.min(m.t);
            t1 = t1.max(m.t);
            y0 = y0.min(m.y);
            y1 = y1.max(m.y);
        }
        if lines.iter().any(|(l, _)| l.area) {
            y0 = y0.min(0.0);
            y1 = y1.max(0.0);
        }
        let (w, h) = (WIDTH, self.height);
        let pad = (y1 - y0) * 0.05;
        let ys = Scale::new(y0 - pad, y1 + pad, h - BOTTOM, TOP);
        let xs = Scale::new(t0, t1, LEFT, w - RIGHT);
        // markers: one per pixel cell and side
        let mut seen = std::collections::BTreeSet::new();
        let mut marks = Vec::new();
        for m in &self.markers {
            let (px, py) = (xs.map(m.t), ys.map(m.y));
            if seen.insert((px.round() as i64, py.round() as i64, m.buy)) {
                marks.push((px, py, m.buy));
            }
        }
        if marks.len() > MAX_MARKERS {
            let n = marks.len();
            marks = (0..MAX_MARKERS)
                .map(|i| marks[i * n / MAX_MARKERS])
                .collect();
        }
        let points: usize = lines.iter().map(|(_, p)| p.len()).sum::<usize>() + marks.len();
        let mut out = String::new();
        open_svg(&mut out, &self.id, &self.title, points, w, h);
        // axes
        let (yd0, yd1) = ys.domain();
        let (ticks, step) = nice_ticks(yd0, yd1, 5);
        out.push_str("<g class=\"axis\">");
        for v in ticks {
            let py = ys.map(v);
            let label = match self.format {
                Format::Plain => fmt_num(v, decimals_for(step)),
                Format::Percent => format!("{}%", fmt_num(v * 100.0, decimals_for(step * 100.0))),
            };
            let _ = write!(
                out,
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
                w - RIGHT,
                LEFT - 6.0,
                py + 4.0
            );
        }
        let (tticks, tstep) = time_ticks(t0, t1, 7);
        for t in tticks {
            let px = xs.map(t);
            let label = crate::data::format_time(t, tstep < 86_400.0, tstep < 60.0);
            let _ = write!(
                out,
                "<line class=\"tick\" x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
                 <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                h - BOTTOM,
                h - BOTTOM + 4.0,
                h - BOTTOM + 16.0,
                escape(&label)
            );
        }
        let _ = write!(
            out,
            "<rect class=\"frame\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\"/></g>",
            w - RIGHT - LEFT,
            h - BOTTOM - TOP
        );
        out.push_str("<g class=\"data\">");
        for (l, pts) in &lines {
            if l.area {
                let zero = ys.map(0.0);
                let mut d = String::new();
                push_path(&mut d, pts, &xs, &ys);
                let _ = write!(
                    d,
                    "L{:.1},{zero:.1}L{:.1},{zero:.1}Z",
                    xs.map(pts[pts.len() - 1].0),
                    xs.map(pts[0].0)
                );
                let _ = write!(
                    out,
                    "<path class=\"area\" d=\"{d}\" fill=\"{}\" fill-opacity=\"0.18\" stroke=\"none\"/>",
                    l.color
                );
            }
            let mut d = String::new();
            push_path(&mut d, pts, &xs, &ys);
            if pts.len() == 1 {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                    xs.map(pts[0].0),
                    ys.map(pts[0].1),
                    l.color
                );
            } else {
                let _ = write!(
                    out,
                    "<path class=\"line\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.4\"/>",
                    l.color
                );
            }
        }
        for (px, py, buy) in &marks {
            let d = if *buy {
                format!("M{:.1},{:.1}l4,7h-8z", px, py - 3.5)
            } else {
                format!("M{:.1},{:.1}l4,-7h-8z", px, py + 3.5)
            };
            let _ = write!(
                out,
                "<path class=\"{}\" d=\"{d}\"/>",
                if *buy { "buy" } else { "sell" }
            );
        }
        out.push_str("</g>");
        // legend
        let mut lx = LEFT + 8.0;
        let mut legend: Vec<(String, &str)> = lines
            .iter()
            .map(|(l, _)| (l.name.clone(), l.color))
            .collect();
        if marks.iter().any(|m| m.2) {
            legend.push(("buy".into(), "#15803d"));
        }
        if marks.iter().any(|m| !m.2) {
            legend.push(("sell".into(), "#b91c1c"));
        }
        out.push_str("<g class=\"legend\">");
        for (name, color) in legend {
            let _ = write!(
                out,
                "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{color}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                TOP + 6.0,
                lx + 14.0,
                TOP + 15.0,
                escape(&name)
            );
            lx += 24.0 + 7.0 * name.chars().count() as f64;
        }
        out.push_str("</g></svg>");
        Some(out)
    }
}

/// A bar chart of named values (positive green, negative red).
pub fn bar_chart(id: &str, title: &str, bars: &[(String, f64, String)]) -> Option<String> {
    if bars.is_empty() {
        return None;
    }
    let (w, h) = (WIDTH, 300.0);
    let lo = bars.iter().map(|b| b.1).fold(0.0, f64::min);
    let hi = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let pad = (hi - lo) * 0.12;
    let ys = Scale::new(lo - pad, hi + pad, h - BOTTOM, TOP);
    let mut out = String::new();
    open_svg(&mut out, id, title, bars.len(), w, h);
    let (yd0, yd1) = ys.domain();
    let (ticks, step) = nice_ticks(yd0, yd1, 5);
    out.push_str("<g class=\"axis\">");
    for v in ticks {
        let py = ys.map(v);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            w - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            fmt_num(v, decimals_for(step))
        );
    }
    let zero = ys.map(0.0);
    let _ = write!(
        out,
        "<line class=\"zero\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{zero:.1}\" y2=\"{zero:.1}\"/></g><g class=\"data\">",
        w - RIGHT
    );
    let slot = (w - LEFT - RIGHT) / bars.len() as f64;
    for (i, (name, v, label)) in bars.iter().enumerate() {
        let x = LEFT + slot * i as f64 + slot * 0.2;
        let py = ys.map(*v);
        let (top, height) = if py < zero {
            (py, zero - py)
        } else {
            (zero, py - zero)
        };
        let _ = write!(
            out,
            "<rect class=\"{}\" x=\"{x:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}: {}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            if *v < 0.0 { "neg" } else { "pos" },
            slot * 0.6,
            height.max(1.0),
            escape(name),
            escape(label),
            x + slot * 0.3,
            if *v < 0.0 { top + height + 14.0 } else { top - 4.0 },
            escape(label),
            x + slot * 0.3,
            h - BOTTOM + 16.0,
            escape(name)
        );
    }
    out.push_str("</g></svg>");
    Some(out)
}

/// A heatmap: `cells[y][x]` values over two parameter axes.
#[derive(Debug, Clone)]
pub struct Heatmap {
    /// `data-chart` name.
    pub id: String,
    /// Title.
    pub title: String,
    /// Name of the x parameter.
    pub x_name: String,
    /// Name of the y parameter.
    pub y_name: String,
    /// Column labels.
    pub x_labels: Vec<String>,
    /// Row labels.
    pub y_labels: Vec<String>,
    /// Values (`None`: no run with that pair), with the text shown in a cell.
    pub cells: Vec<Vec<Option<(f64, String)>>>,
}

/// Fill colour of a heatmap value: diverging red–white–green around zero when
/// the values have both signs, else a light-to-dark blue ramp.
pub fn heat_color(v: f64, lo: f64, hi: f64) -> String {
    let mix = |a: (f64, f64, f64), b: (f64, f64, f64), t: f64| {
        let t = t.clamp(0.0, 1.0);
        format!(
            "rgb({},{},{})",
            (a.0 + (b.0 - a.0) * t).round(),
            (a.1 + (b.1 - a.1) * t).round(),
            (a.2 + (b.2 - a.2) * t).round()
        )
    };
    let white = (247.0, 247.0, 247.0);
    if lo < 0.0 && hi > 0.0 {
        let m = lo.abs().max(hi.abs());
        if v >= 0.0 {
            mix(white, (26.0, 152.0, 80.0), v / m)
        } else {
            mix(white, (215.0, 48.0, 39.0), -v / m)
        }
    } else if hi > lo {
        mix(
            (222.0, 235.0, 247.0),
            (8.0, 81.0, 156.0),
            (v - lo) / (hi - lo),
        )
    } else {
        mix((222.0, 235.0, 247.0), (8.0, 81.0, 156.0), 0.5)
    }
}

impl Heatmap {
    /// Renders the heatmap; `None` when no cell has a value.
    pub fn render(&self) -> Option<String> {
        let vals: Vec<f64> = self.cells.iter().flatten().flatten().map(|c| c.0).collect();
        if vals.is_empty() {
            return None;
        }
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (nx, ny) = (self.x_labels.len().max(1), self.y_labels.len().max(1));
        let cw = ((WIDTH - 140.0) / nx as f64).clamp(40.0, 120.0);
        let ch = 28.0;
        let (left, top) = (120.0, 30.0);
        let w = left + cw * nx as f64 + 20.0;
        let h = top + ch * ny as f64 + 44.0;
        let mut out = String::new();
        open_svg(&mut out, &self.id, &self.title, vals.len(), w.max(320.0), h);
        out.push_str("<g class=\"data\">");
        for (yi, row) in self.cells.iter().enumerate() {
            for (xi, cell) in row.iter().enumerate() {
                let (x, y) = (left + cw * xi as f64, top + ch * yi as f64);
                if let Some((v, text)) = cell {
                    let fill = heat_color(*v, lo, hi);
                    let dark = if lo < 0.0 && hi > 0.0 {
                        v.abs() / lo.abs().max(hi.abs()) > 0.6
                    } else {
                        hi > lo && (v - lo) / (hi - lo) > 0.6
                    };
                    let _ = write!(
                        out,
                        "<rect class=\"cell\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{cw:.1}\" height=\"{ch:.1}\" fill=\"{fill}\">\
                         <title>{}={}, {}={}: {}</title></rect>\
                         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" style=\"fill:{}\">{}</text>",
                        escape(&self.x_name),
                        escape(self.x_labels.get(xi).map_or("", |s| s)),
                        escape(&self.y_name),
                        escape(self.y_labels.get(yi).map_or("", |s| s)),
                        escape(text),
                        x + cw / 2.0,
                        y + ch / 2.0 + 4.0,
                        if dark { "#fff" } else { "#111" },
                        escape(text)
                    );
                }
            }
        }
        out.push_str("</g><g class=\"axis\">");
        for (xi, l) in self.x_labels.iter().enumerate() {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                left + cw * xi as f64 + cw / 2.0,
                top + ch * ny as f64 + 16.0,
                escape(l)
            );
        }
        for (yi, l) in self.y_labels.iter().enumerate() {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                left - 6.0,
                top + ch * yi as f64 + ch / 2.0 + 4.0,
                escape(l)
            );
        }
        let _ = write!(
            out,
            "<text class=\"name\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text class=\"name\" x=\"8\" y=\"{:.1}\">{}</text></g></svg>",
            left + cw * nx as f64 / 2.0,
            top + ch * ny as f64 + 36.0,
            escape(&self.x_name),
            top - 8.0,
            escape(&self.y_name)
        );
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_maps_ends_and_widens_empty_domains() {
        let s = Scale::new(10.0, 20.0, 100.0, 0.0);
        assert_eq!(s.map(10.0), 100.0);
        assert_eq!(s.map(20.0), 0.0);
        assert_eq!(s.map(15.0), 50.0);
        let s = Scale::new(5.0, 5.0, 0.0, 100.0);
        assert_eq!(s.map(5.0), 50.0);
        let s = Scale::new(0.0, 0.0, 0.0, 100.0);
        assert_eq!(s.domain(), (-1.0, 1.0));
    }

    #[test]
    fn downsample_keeps_ends_and_spikes() {
        let short: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 0.0)).collect();
        assert_eq!(downsample(&short, 100), short);
        let mut pts: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, (i % 7) as f64)).collect();
        pts[4321].1 = 1000.0;
        pts[8765].1 = -1000.0;
        let d = downsample(&pts, 200);
        assert!(d.len() <= 200, "{}", d.len());
        assert!(d.len() >= 190, "{}", d.len());
        assert_eq!(d[0], pts[0]);
        assert_eq!(*d.last().unwrap(), pts[9999]);
        assert!(d.contains(&(4321.0, 1000.0)));
        assert!(d.contains(&(8765.0, -1000.0)));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0), "time order kept");
    }

    #[test]
    fn steps_hold_values() {
        assert_eq!(
            steps(&[(0.0, 1.0), (2.0, 3.0), (5.0, 0.0)]),
            [(0.0, 1.0), (2.0, 1.0), (2.0, 3.0), (5.0, 3.0), (5.0, 0.0)]
        );
    }

    #[test]
    fn ticks_are_round() {
        let (t, step) = nice_ticks(0.0, 100.0, 5);
        assert_eq!(step, 20.0);
        assert_eq!(t, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let (t, step) = nice_ticks(-0.0003, 0.00071, 4);
        assert_eq!(step, 0.0005);
        assert_eq!(t, [0.0, 0.0005]);
        assert_eq!(fmt_num(-0.0000001, 4), "0.0000");
        assert_eq!(decimals_for(0.0005), 4);
    }

    #[test]
    fn time_ticks_are_round() {
        // 23:54:16 .. 00:00:01: every minute
        let (t, step) = time_ticks(1_723_161_256.3, 1_723_161_601.0, 7);
        assert_eq!(step, 60.0);
        assert_eq!(t.len(), 6);
        assert!(t.iter().all(|x| x % 60.0 == 0.0));
        // 89 days: every 14 days, at most 7 ticks
        let (t, step) = time_ticks(0.0, 89.0 * 86_400.0, 7);
        assert_eq!(step, 1_209_600.0);
        assert_eq!(t.len(), 7);
        assert_eq!(t[6], 6.0 * 1_209_600.0);
        assert_eq!(time_ticks(5.0, 5.0, 7).0, [5.0]);
    }

    #[test]
    fn time_chart_counts_points_and_markers() {
        let c = TimeChart {
            id: "price".into(),
            title: "Price <BTC>".into(),
            lines: vec![Line {
                name: "mid".into(),
                color: "#333",
                points: vec![(0.0, 10.0), (60.0, 11.0), (120.0, 9.0)],
                step: false,
                area: false,
            }],
            markers: vec![
                Marker {
                    t: 60.0,
                    y: 11.0,
                    buy: true,
                },
                Marker {
                    t: 60.0,
                    y: 11.0,
                    buy: true,
                },
                Marker {
                    t: 120.0,
                    y: 9.0,
                    buy: false,
                },
            ],
            format: Format::Plain,
            height: 300.0,
        };
        let s = c.render().unwrap();
        assert!(s.contains("data-chart=\"price\" data-points=\"5\""), "{s}");
        assert!(s.contains("Price &lt;BTC&gt;"));
        assert_eq!(s.matches("class=\"buy\"").count(), 1);
        assert_eq!(s.matches("class=\"sell\"").count(), 1);
        let empty = TimeChart {
            lines: vec![],
            markers: vec![],
            ..c
        };
        assert!(empty.render().is_none());
    }

    #[test]
    fn heatmap_cells_and_colors() {
        assert_eq!(heat_color(0.0, -1.0, 1.0), "rgb(247,247,247)");
        assert_eq!(heat_color(1.0, -1.0, 1.0), "rgb(26,152,80)");
        assert_eq!(heat_color(-1.0, -1.0, 1.0), "rgb(215,48,39)");
        assert_eq!(heat_color(2.0, 1.0, 2.0), "rgb(8,81,156)");
        let h = Heatmap {
            id: "heat".into(),
            title: "t".into(),
            x_name: "fast".into(),
            y_name: "slow".into(),
            x_labels: vec!["8".into(), "12".into()],
            y_labels: vec!["26".into()],
            cells: vec![vec![Some((0.5, "0.5".into())), None]],
        };
        let s = h.render().unwrap();
        assert!(s.contains("data-points=\"1\""));
        assert_eq!(s.matches("class=\"cell\"").count(), 1);
    }

    #[test]
    fn bars_are_signed() {
        let s = bar_chart(
            "pnl",
            "PnL",
            &[
                ("fees".into(), -2.0, "-2".into()),
                ("realised".into(), 3.0, "3".into()),
            ],
        )
        .unwrap();
        assert!(s.contains("data-points=\"2\""));
        assert!(s.contains("class=\"neg\"") && s.contains("class=\"pos\""));
        assert!(bar_chart("x", "x", &[]).is_none());
    }
}
