//! HTML output: a builder that escapes every value it is given, the page layout, and the
//! server-side SVG charts.
//!
//! Markup goes in through [`Html::raw`], which takes only `&'static str` literals; anything
//! that comes from a database, a request or a number goes through [`Html::text`] or
//! [`Html::attr`], which escape it. A function name or an error message holding `<script>`
//! is therefore shown as text.

use std::fmt::Write as _;

/// Escapes `s` for HTML text and double- or single-quoted attribute values.
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

/// Percent-encodes `s` for a URL query value or path segment.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An HTML document being written.
#[derive(Debug, Default)]
pub struct Html {
    out: String,
}

impl Html {
    /// Markup: literals only.
    pub fn raw(&mut self, s: &'static str) -> &mut Self {
        self.out.push_str(s);
        self
    }

    /// Text, escaped.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.out.push_str(&escape(s));
        self
    }

    /// ` name="value"`, the value escaped.
    pub fn attr(&mut self, name: &'static str, value: &str) -> &mut Self {
        let _ = write!(self.out, " {name}=\"{}\"", escape(value));
        self
    }

    /// `<tag>text</tag>` for a literal tag, the text escaped.
    pub fn el(&mut self, tag: &'static str, text: &str) -> &mut Self {
        let _ = write!(self.out, "<{tag}>{}</{tag}>", escape(text));
        self
    }

    /// `<a href="href">text</a>`, both escaped.
    pub fn link(&mut self, href: &str, text: &str) -> &mut Self {
        let _ = write!(
            self.out,
            "<a href=\"{}\">{}</a>",
            escape(href),
            escape(text)
        );
        self
    }

    /// A hidden form field.
    pub fn hidden(&mut self, name: &'static str, value: &str) -> &mut Self {
        self.raw("<input type=\"hidden\"")
            .attr("name", name)
            .attr("value", value)
            .raw(">")
    }

    /// An SVG chart made by [`chart`] (its text is escaped there).
    pub fn svg(&mut self, chart: Svg) -> &mut Self {
        self.out.push_str(&chart.0);
        self
    }

    /// The document so far.
    pub fn finish(self) -> String {
        self.out
    }
}

const STYLE: &str = "<style>
body{font:14px system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:8px 16px;display:flex;gap:18px;align-items:center}
header a{color:#cfe0ff;text-decoration:none}header b{margin-right:12px}
main{padding:12px 16px}
table{border-collapse:collapse;background:#fff;margin:8px 0}
th,td{border:1px solid #d8dce3;padding:4px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.down{color:#b00020;font-weight:bold}.ok{color:#137333}.warn{color:#b06000}
.note{background:#fff8e1;border:1px solid #f0d58a;padding:6px 10px;margin:8px 0}
.charts{display:flex;gap:16px;flex-wrap:wrap}
pre{white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid #d8dce3;padding:6px;margin:0}
form.inline{display:inline}button{cursor:pointer}
.small{color:#5f6877;font-size:12px}
</style>";

/// Starts a page: head, style, an optional self-refresh and the navigation bar.
pub fn page(title: &str, refresh_secs: u64) -> Html {
    let mut h = Html::default();
    h.raw("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    if refresh_secs > 0 {
        h.raw("<meta http-equiv=\"refresh\"")
            .attr("content", &refresh_secs.to_string())
            .raw(">");
    }
    h.raw("<title>")
        .text(title)
        .raw(" · schwartz</title>")
        .raw(STYLE)
        .raw("</head><body><header><b>schwartz</b>")
        .raw("<a href=\"/\">Overview</a><a href=\"/jobs\">Jobs</a>")
        .raw("<a href=\"/errors\">Errors</a><a href=\"/workers\">Workers</a>")
        .raw("<a href=\"/schedules\">Schedules</a>")
        .raw("<a href=\"/login\">Log in</a></header><main>")
        .el("h1", title);
    h
}

/// Ends a page.
pub fn end(mut h: Html) -> String {
    h.raw("</main></body></html>");
    h.finish()
}

/// An SVG chart, ready to embed.
#[derive(Debug)]
pub struct Svg(String);

/// One line of a chart: its name, colour and points `(unix seconds, value)`.
#[derive(Debug)]
pub struct Series<'a> {
    /// The legend text.
    pub name: &'a str,
    /// A CSS colour literal.
    pub colour: &'static str,
    /// The points, oldest first.
    pub points: Vec<(i64, f64)>,
}

/// A line chart of `series` over `[from, to]` (Unix seconds), `title` above it.
pub fn chart(title: &str, from: i64, to: i64, series: &[Series<'_>]) -> Svg {
    const W: f64 = 520.0;
    const H: f64 = 200.0;
    const L: f64 = 48.0;
    const R: f64 = 10.0;
    const T: f64 = 44.0;
    const B: f64 = 24.0;
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0_f64, f64::max);
    let top = nice_ceiling(max);
    let span = (to - from).max(1) as f64;
    let x = |t: i64| L + (t - from) as f64 / span * (W - L - R);
    let y = |v: f64| T + (1.0 - v / top) * (H - T - B);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" \
         viewBox=\"0 0 {W} {H}\" role=\"img\" style=\"background:#fff;border:1px solid #d8dce3\">\
         <text x=\"{L}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    for i in 0..=4 {
        let v = top * f64::from(i) / 4.0;
        let yy = y(v);
        let _ = write!(
            s,
            "<line x1=\"{L}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e3e6eb\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            W - R,
            L - 4.0,
            yy + 3.0,
            escape(&short_number(v))
        );
    }
    let _ = write!(
        s,
        "<text x=\"{L}\" y=\"{}\" font-size=\"10\">-{}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">now</text>",
        H - 8.0,
        escape(&span_text(to - from)),
        W - R,
        H - 8.0
    );
    let mut legend_x = L;
    for se in series {
        let pts: Vec<String> = se
            .points
            .iter()
            .map(|&(t, v)| format!("{:.1},{:.1}", x(t), y(v)))
            .collect();
        if pts.len() == 1 {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"/>",
                x(se.points[0].0),
                y(se.points[0].1),
                se.colour
            );
        } else if !pts.is_empty() {
            let _ = write!(
                s,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
                se.colour,
                pts.join(" ")
            );
        }
        let _ = write!(
            s,
            "<rect x=\"{legend_x:.0}\" y=\"25\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{:.0}\" y=\"34\" font-size=\"11\">{}</text>",
            se.colour,
            legend_x + 13.0,
            escape(se.name)
        );
        legend_x += 14.0 + 7.0 * se.name.len() as f64 + 10.0;
    }
    if series.iter().all(|se| se.points.is_empty()) {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#5f6877\">\
             no samples yet</text>",
            (L + W - R) / 2.0,
            H / 2.0
        );
    }
    s.push_str("</svg>");
    Svg(s)
}

/// The smallest of 1, 2, 5 × 10^k at or above `v` (at least 1).
fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 1.0 {
        return 1.0;
    }
    let mut step = 1.0;
    loop {
        for m in [1.0, 2.0, 5.0] {
            if m * step >= v {
                return m * step;
            }
        }
        step *= 10.0;
    }
}

/// `90s`, `15m`.
fn span_text(secs: i64) -> String {
    if secs < 120 {
        format!("{secs}s")
    } else {
        format!("{}m", secs / 60)
    }
}

/// `1.5k`, `12`, `0.25`, `0.5`.
fn short_number(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{:.1}M", v / 1_000_000.0)
    } else if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_text_and_attributes() {
        let mut h = Html::default();
        h.raw("<p")
            .attr("title", "a\"b'<")
            .raw(">")
            .text("<script>alert(1)</script>&")
            .raw("</p>");
        assert_eq!(
            h.finish(),
            "<p title=\"a&quot;b&#39;&lt;\">&lt;script&gt;alert(1)&lt;/script&gt;&amp;</p>"
        );
    }

    #[test]
    fn chart_escapes_its_labels_and_scales() {
        let c = chart(
            "<b>",
            0,
            3600,
            &[Series {
                name: "<i>",
                colour: "#000",
                points: vec![(0, 3.0), (3600, 7.0)],
            }],
        );
        assert!(!c.0.contains("<b>") && !c.0.contains("<i>"), "{}", c.0);
        assert!(c.0.contains("&lt;b&gt;") && c.0.contains("<polyline"));
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(url_encode("a b/<"), "a%20b%2F%3C");
    }
}
