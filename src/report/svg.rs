//! Charts as inline SVG for the HTML report: horizontal (stacked) bars, a line
//! chart over days and a dot plot of percentiles. Pure string building with no
//! fonts, images or scripts: the browser lays out the text. Values arrive as
//! `f64` for drawing only; every number printed beside a chart comes from the
//! exact `Money` values.

use std::fmt::Write as _;

/// Okabe-Ito colours (told apart by people with colour-blindness); grey last,
/// for "other".
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#7F7F7F",
];

const WIDTH: f64 = 960.0;
/// Width of one character of the 12 px labels, to size the label column.
const CHAR_PX: f64 = 7.0;
const ROW_PX: f64 = 28.0;
const TITLE_PX: f64 = 34.0;
const AXIS_PX: f64 = 48.0;
const LEGEND_PX: f64 = 26.0;
const RIGHT_PX: f64 = 110.0;
/// Room right of a line chart for its end labels.
const END_LABELS_PX: f64 = 190.0;
/// The plot height of one panel of a line chart, and the room above it for its name.
const PANEL_PX: f64 = 130.0;
const PANEL_TITLE_PX: f64 = 30.0;

/// Horizontal bars, one row per label; with several series the segments of a
/// row are stacked (positive ones rightwards from zero, negative leftwards).
pub struct Bars<'a> {
    pub title: &'a str,
    pub axis_label: &'a str,
    pub series: &'a [String],
    /// Name the series above the chart (always, when there are several).
    pub legend: bool,
    /// (row label, one value per series, the text printed after the bar).
    pub rows: &'a [(String, Vec<f64>, String)],
}

/// Small multiples: one panel per series over the same x labels (days),
/// each on its own USD axis that need not start at zero, so a move of a few
/// percent is seen whatever the other series cost and no two lines cross.
/// A panel's axis spans its values and at least 5% either side of its first
/// value (drawn dashed, the baseline), so noise does not look like a cliff.
/// `None` is a gap.
pub struct Lines<'a> {
    pub title: &'a str,
    pub x_labels: &'a [String],
    pub series: &'a [(String, Vec<Option<f64>>)],
    /// Per series, the text beside its line's last point (its last value
    /// and change, in words).
    pub end_labels: &'a [String],
}

/// One row per label with a marker per series (p50, p95, ...) on a shared axis.
pub struct Dots<'a> {
    pub title: &'a str,
    pub axis_label: &'a str,
    pub series: &'a [String],
    pub rows: &'a [(String, Vec<f64>)],
}

/// Escapes text for SVG and HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// A USD value axis from `lo` to `hi` with "nice" ticks (1, 2, 2.5 or 5 times a power of ten).
struct Scale {
    start: f64,
    end: f64,
    step: f64,
    x0: f64,
    x1: f64,
}

impl Scale {
    fn new(lo: f64, hi: f64, x0: f64, x1: f64) -> Scale {
        Scale::spanning(lo.min(0.0), hi.max(0.0), x0, x1)
    }

    /// From `lo` to `hi` whether or not that includes zero.
    fn spanning(lo: f64, hi: f64, x0: f64, x1: f64) -> Scale {
        let span = if hi - lo > 0.0 { hi - lo } else { 1.0 };
        let raw = span / 5.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = magnitude
            * match raw / magnitude {
                n if n <= 1.0 => 1.0,
                n if n <= 2.0 => 2.0,
                n if n <= 2.5 => 2.5,
                n if n <= 5.0 => 5.0,
                _ => 10.0,
            };
        let start = (lo / step).floor() * step;
        Scale {
            start,
            end: ((hi / step).ceil() * step).max(start + step),
            step,
            x0,
            x1,
        }
    }

    fn at(&self, value: f64) -> f64 {
        self.x0 + (value - self.start) / (self.end - self.start) * (self.x1 - self.x0)
    }

    fn ticks(&self) -> Vec<f64> {
        let n = ((self.end - self.start) / self.step).round() as i64;
        (0..=n).map(|i| self.start + i as f64 * self.step).collect()
    }

    /// A tick's text: as many decimals as the step needs.
    fn label(&self, value: f64) -> String {
        let mut places = 0;
        while places < 10 {
            let scaled = self.step * 10f64.powi(places);
            if (scaled - scaled.round()).abs() < 1e-6 {
                break;
            }
            places += 1;
        }
        if places == 1 {
            places = 2; // cents, not dimes
        }
        let text = group_thousands(&format!("{:.*}", places as usize, value.abs()));
        let sign = if value < 0.0 { "-" } else { "" };
        format!("{sign}${text}")
    }
}

/// `1234567.5` as `1,234,567.5` (digits of a formatted non-negative number).
pub fn group_thousands(number: &str) -> String {
    let (whole, fraction) = number
        .split_once('.')
        .map_or((number, None), |(w, f)| (w, Some(f)));
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = fraction {
        out.push('.');
        out.push_str(f);
    }
    out
}

fn open(out: &mut String, title: &str, height: f64) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img"><title>{t}</title><text class="chart-title" x="0" y="20">{t}</text>"#,
        t = escape(title)
    );
}

/// The value axis along the bottom: grid lines, tick labels and the axis label.
fn value_axis(out: &mut String, scale: &Scale, top: f64, bottom: f64, label: &str) {
    for tick in scale.ticks() {
        let x = scale.at(tick);
        let class = if tick == 0.0 { "zero" } else { "grid" };
        let _ = write!(
            out,
            r#"<line class="{class}" x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 16.0,
            escape(&scale.label(tick))
        );
    }
    let _ = write!(
        out,
        r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        (scale.x0 + scale.x1) / 2.0,
        bottom + 36.0,
        escape(label)
    );
}

/// A row of coloured swatches naming the series.
fn legend(out: &mut String, names: &[String], y: f64, markers: bool) {
    let mut x = 0.0;
    for (i, name) in names.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        if markers {
            marker(out, i, x + 6.0, y - 4.0, colour);
        } else {
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{colour}"/>"#,
                y - 10.0
            );
        }
        let _ = write!(
            out,
            r#"<text class="legend" x="{:.1}" y="{y:.1}">{}</text>"#,
            x + 17.0,
            escape(name)
        );
        x += 17.0 + name.chars().count() as f64 * CHAR_PX + 18.0;
    }
}

/// A point marker whose shape differs by series (circle, square, diamond, triangle).
fn marker(out: &mut String, series: usize, x: f64, y: f64, colour: &str) {
    let _ = match series % 4 {
        0 => write!(
            out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="5" fill="{colour}"/>"#
        ),
        1 => write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="9" height="9" fill="{colour}"/>"#,
            x - 4.5,
            y - 4.5
        ),
        2 => write!(
            out,
            r#"<path d="M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z" fill="{colour}"/>"#,
            y - 6.0,
            x + 6.0,
            y + 6.0,
            x - 6.0
        ),
        _ => write!(
            out,
            r#"<path d="M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z" fill="{colour}"/>"#,
            y - 6.0,
            x + 6.0,
            y + 5.0,
            x - 6.0,
            y + 5.0
        ),
    };
}

fn label_width<'a>(labels: impl Iterator<Item = &'a String>) -> f64 {
    labels
        .map(|l| l.chars().count() as f64 * CHAR_PX + 12.0)
        .fold(60.0, f64::max)
}

pub fn bars(chart: &Bars) -> String {
    let left = label_width(chart.rows.iter().map(|r| &r.0));
    let legend_shown = chart.legend || chart.series.len() > 1;
    let top = TITLE_PX + if legend_shown { LEGEND_PX } else { 0.0 };
    let bottom = top + chart.rows.len() as f64 * ROW_PX;
    let height = bottom + AXIS_PX;
    let sums = |values: &[f64], positive: bool| -> f64 {
        values.iter().filter(|v| (**v > 0.0) == positive).sum()
    };
    let lo = chart
        .rows
        .iter()
        .map(|r| sums(&r.1, false))
        .fold(0.0, f64::min);
    let hi = chart
        .rows
        .iter()
        .map(|r| sums(&r.1, true))
        .fold(0.0, f64::max);
    let scale = Scale::new(lo, hi, left, WIDTH - RIGHT_PX);
    let mut out = String::new();
    open(&mut out, chart.title, height);
    if legend_shown {
        legend(&mut out, chart.series, TITLE_PX + 10.0, false);
    }
    value_axis(&mut out, &scale, top, bottom, chart.axis_label);
    for (row, (label, values, text)) in chart.rows.iter().enumerate() {
        let y = top + row as f64 * ROW_PX;
        let _ = write!(
            out,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + ROW_PX / 2.0 + 4.0,
            escape(label)
        );
        let (mut right, mut left_end) = (0.0, 0.0);
        for (i, &value) in values.iter().enumerate() {
            if value == 0.0 || !value.is_finite() {
                continue;
            }
            let (from, to) = if value > 0.0 {
                right += value;
                (right - value, right)
            } else {
                left_end += value;
                (left_end, left_end - value)
            };
            let (x0, x1) = (scale.at(from), scale.at(to));
            let name = chart.series.get(i).map_or("", String::as_str);
            let _ = write!(
                out,
                r#"<rect x="{x0:.2}" y="{:.1}" width="{:.2}" height="{:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                y + 5.0,
                (x1 - x0).max(0.5),
                ROW_PX - 10.0,
                PALETTE[i % PALETTE.len()],
                escape(label),
                escape(name)
            );
        }
        let _ = write!(
            out,
            r#"<text class="value" x="{:.1}" y="{:.1}">{}</text>"#,
            scale.at(right.max(0.0)) + 6.0,
            y + ROW_PX / 2.0 + 4.0,
            escape(text)
        );
    }
    out.push_str("</svg>");
    out
}

pub fn lines(chart: &Lines) -> String {
    let left = 90.0;
    let panels = chart.series.len().max(1) as f64;
    let height = TITLE_PX + panels * (PANEL_TITLE_PX + PANEL_PX) + AXIS_PX;
    let n = chart.x_labels.len().max(1);
    let x_at = |i: usize| -> f64 {
        let (x0, x1) = (left + 20.0, WIDTH - END_LABELS_PX);
        if n == 1 {
            (x0 + x1) / 2.0
        } else {
            x0 + i as f64 * (x1 - x0) / (n - 1) as f64
        }
    };
    let mut out = String::new();
    open(&mut out, chart.title, height);
    for (s, (name, points)) in chart.series.iter().enumerate() {
        let top = TITLE_PX + s as f64 * (PANEL_TITLE_PX + PANEL_PX) + PANEL_TITLE_PX;
        let label = chart.end_labels.get(s).map_or("", String::as_str);
        panel(
            &mut out,
            s,
            (name, points),
            label,
            (top, top + PANEL_PX),
            (left, &x_at),
        );
    }
    let bottom = TITLE_PX + panels * (PANEL_TITLE_PX + PANEL_PX);
    let every = n.div_ceil(10);
    for (i, label) in chart.x_labels.iter().enumerate() {
        if i % every == 0 || i + 1 == n {
            let _ = write!(
                out,
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x_at(i),
                bottom + 16.0,
                escape(label)
            );
        }
    }
    let _ = write!(
        out,
        r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle">day</text>"#,
        (left + WIDTH - END_LABELS_PX) / 2.0,
        bottom + 36.0
    );
    out.push_str("</svg>");
    out
}

/// One panel of [`lines`]: its name, its own axis (baseline dashed at the
/// first value), the line with its markers, and its end label.
fn panel(
    out: &mut String,
    s: usize,
    (name, points): (&str, &[Option<f64>]),
    end_label: &str,
    (top, bottom): (f64, f64),
    (left, x_at): (f64, &dyn Fn(usize) -> f64),
) {
    let colour = PALETTE[s % PALETTE.len()];
    let _ = write!(
        out,
        r#"<text class="panel-title" x="0" y="{:.1}">{}</text>"#,
        top - 10.0,
        escape(name)
    );
    let first = points.iter().flatten().next().copied();
    let base = first.unwrap_or(0.0);
    let margin = base.abs() * 0.05;
    let (lo, hi) = (points.iter().flatten()).fold((base - margin, base + margin), |(lo, hi), v| {
        (lo.min(*v), hi.max(*v))
    });
    let scale = Scale::spanning(lo, hi, bottom, top);
    let ticks = scale.ticks();
    let every = ticks.len().div_ceil(4);
    for (i, tick) in ticks.iter().enumerate() {
        let y = scale.at(*tick);
        let class = if *tick == 0.0 { "zero" } else { "grid" };
        let _ = write!(
            out,
            r#"<line class="{class}" x1="{left:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/>"#,
            x_at(points.len().max(1) - 1) + 4.0
        );
        if i % every == 0 {
            let _ = write!(
                out,
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                left - 6.0,
                y + 4.0,
                escape(&scale.label(*tick))
            );
        }
    }
    if let Some(first) = first {
        let y = scale.at(first);
        let _ = write!(
            out,
            r#"<line class="baseline" x1="{left:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"><title>first day: {}</title></line>"#,
            x_at(points.len().max(1) - 1),
            escape(&scale.label(first))
        );
    }
    let mut path = String::new();
    let mut pen_down = false;
    for (i, point) in points.iter().enumerate() {
        match point {
            Some(v) => {
                let op = if pen_down { "L" } else { "M" };
                let _ = write!(path, "{op}{:.1} {:.1}", x_at(i), scale.at(*v));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let _ = write!(
        out,
        r#"<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"><title>{}</title></path>"#,
        escape(name)
    );
    for (i, point) in points.iter().enumerate() {
        if let Some(v) = point {
            marker(out, s, x_at(i), scale.at(*v), colour);
        }
    }
    if let Some((i, last)) = points
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, p)| Some((i, (*p)?)))
    {
        let _ = write!(
            out,
            r#"<text class="end-label" x="{:.1}" y="{:.1}">{}</text>"#,
            x_at(i) + 12.0,
            scale.at(last) + 4.0,
            escape(end_label)
        );
    }
}

pub fn dots(chart: &Dots) -> String {
    let left = label_width(chart.rows.iter().map(|r| &r.0));
    let top = TITLE_PX + LEGEND_PX;
    let bottom = top + chart.rows.len() as f64 * ROW_PX;
    let height = bottom + AXIS_PX;
    let values = chart.rows.iter().flat_map(|r| r.1.iter());
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let scale = Scale::new(lo, hi, left, WIDTH - 40.0);
    let mut out = String::new();
    open(&mut out, chart.title, height);
    legend(&mut out, chart.series, TITLE_PX + 10.0, true);
    value_axis(&mut out, &scale, top, bottom, chart.axis_label);
    for (row, (label, values)) in chart.rows.iter().enumerate() {
        let y = top + row as f64 * ROW_PX + ROW_PX / 2.0;
        let _ = write!(
            out,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + 4.0,
            escape(label)
        );
        let (min, max) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
        if min <= max {
            let _ = write!(
                out,
                r#"<line class="range" x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/>"#,
                scale.at(min),
                scale.at(max)
            );
        }
        for (i, v) in values.iter().enumerate() {
            marker(&mut out, i, scale.at(*v), y, PALETTE[i % PALETTE.len()]);
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_values() {
        let s = Scale::new(0.0, 0.0409, 0.0, 100.0);
        assert_eq!((s.start, s.step), (0.0, 0.01));
        assert!(s.end >= 0.0409 && s.end < 0.06);
        assert_eq!(s.label(0.03), "$0.03");
        let s = Scale::new(-3.0, 1234.0, 0.0, 100.0);
        assert_eq!(s.step, 250.0);
        assert_eq!(s.start, -250.0);
        assert_eq!(s.label(1000.0), "$1,000");
        assert_eq!(s.label(-250.0), "-$250");
    }

    #[test]
    fn text_is_escaped() {
        let svg = bars(&Bars {
            title: "a<b",
            axis_label: "USD",
            series: &["x".into()],
            legend: false,
            rows: &[("r&d".into(), vec![1.0], "\"1\"".into())],
        });
        assert!(svg.contains("a&lt;b") && svg.contains("r&amp;d") && svg.contains("&quot;1&quot;"));
        assert!(!svg.contains("a<b") && !svg.contains("r&d"));
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands("1234567.891"), "1,234,567.891");
        assert_eq!(group_thousands("999"), "999");
        assert_eq!(group_thousands("1000"), "1,000");
    }
}
