//! Charts as inline SVG, drawn with `plotters`' SVG backend: line charts of named series over
//! time, and the HDR percentile plot. Text is written as SVG `<text>` elements (escaped by the
//! backend), so no font is read from the system and the browser draws the letters.

use std::fmt;

use plotters::coord::combinators::IntoLogRange;
use plotters::coord::ranged1d::{AsRangedCoord, DefaultValueFormatOption, ValueFormatter};
use plotters::prelude::*;

/// One named line: `(x, y)` points in x order. Points that are not finite are left out.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
        }
    }
}

/// A chart's words: its title and what each axis shows (with its unit).
#[derive(Clone, Debug, PartialEq)]
pub struct Labels {
    pub title: String,
    pub x: String,
    pub y: String,
}

impl Labels {
    pub fn new(title: impl Into<String>, x: impl Into<String>, y: impl Into<String>) -> Labels {
        Labels {
            title: title.into(),
            x: x.into(),
            y: y.into(),
        }
    }
}

/// SVG markup made by this module: one `<svg>` element, every text in it escaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Svg(String);

impl Svg {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Svg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A chart that could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart `{title}`: {message}")]
pub struct ChartError {
    pub title: String,
    pub message: String,
}

const WIDTH: u32 = 860;
const HEIGHT: u32 = 380;
const FONT: &str = "sans-serif";

/// Distinct colours that stay apart for readers with the common colour-vision deficiencies
/// (Okabe and Ito's palette), then repeated.
const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

fn finite_points(series: &Series) -> impl Iterator<Item = (f64, f64)> + '_ {
    series
        .points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
}

/// `lo..hi` widened so that it is never empty (a single point, or no point at all).
fn span(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        let pad = (lo.abs() * 0.1).max(1.0);
        (lo - pad, hi + pad)
    }
}

/// The bounds of every finite point of every series.
fn bounds(series: &[Series]) -> ((f64, f64), (f64, f64)) {
    let mut x = (f64::INFINITY, f64::NEG_INFINITY);
    let mut y = (f64::INFINITY, f64::NEG_INFINITY);
    for (px, py) in series.iter().flat_map(finite_points) {
        x = (x.0.min(px), x.1.max(px));
        y = (y.0.min(py), y.1.max(py));
    }
    (x, y)
}

/// The y range of a chart whose values are counts or times: from 0 (or below, for negative
/// values) to above the highest point, with room at the top for the legend of `series` lines
/// so that it does not hide the data.
fn y_range(lo: f64, hi: f64, series: usize) -> (f64, f64) {
    let (lo, hi) = span(lo.min(0.0), hi);
    let headroom = 0.08 + 0.09 * series as f64;
    (lo, hi + (hi - lo) * headroom)
}

fn error(title: &str, e: impl fmt::Display) -> ChartError {
    ChartError {
        title: title.to_string(),
        message: e.to_string(),
    }
}

/// A line chart of several series over a shared x axis (time, usually): throughput and
/// errors, latency percentiles, lateness; several runs overlaid are more series.
pub fn line_chart(labels: &Labels, series: &[Series]) -> Result<Svg, ChartError> {
    let ((x_lo, x_hi), (y_lo, y_hi)) = bounds(series);
    let (x_lo, x_hi) = span(x_lo, x_hi);
    let (y_lo, y_hi) = y_range(y_lo, y_hi, series.len());
    draw(
        labels,
        x_lo..x_hi,
        y_lo..y_hi,
        &|v| format_number(*v),
        series,
    )
}

/// Draws `series` on axes `x` (linear or log) by `y`.
fn draw<X>(
    labels: &Labels,
    x: X,
    y: std::ops::Range<f64>,
    x_label: &dyn Fn(&f64) -> String,
    series: &[Series],
) -> Result<Svg, ChartError>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    <X::CoordDescType as Ranged>::FormatOption: DefaultValueFormatOption,
{
    let fail = |e: &dyn fmt::Display| error(&labels.title, e);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&labels.title, (FONT, 24))
            .margin(12)
            .margin_right(36)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(x, y)
            .map_err(|e| fail(&e))?;
        chart
            .configure_mesh()
            .x_desc(labels.x.as_str())
            .y_desc(labels.y.as_str())
            .axis_desc_style((FONT, 18))
            .label_style((FONT, 15))
            .light_line_style(RGBColor(240, 240, 240))
            .max_light_lines(2)
            .x_label_formatter(x_label)
            .y_label_formatter(&|v| format_number(*v))
            .draw()
            .map_err(|e| fail(&e))?;
        for (i, s) in series.iter().enumerate() {
            let style = ShapeStyle::from(colour(i)).stroke_width(2);
            chart
                .draw_series(LineSeries::new(finite_points(s), style))
                .map_err(|e| fail(&e))?
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(Svg(out))
}

/// One distribution for the percentile plot: `(q, value)` with q in [0, 1), as HDR
/// histograms report them (e.g. from `iter_quantiles`). q = 1 (the maximum) has no place on
/// the axis and is left out, as are points that are not finite.
#[derive(Clone, Debug, PartialEq)]
pub struct Distribution {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Distribution {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Distribution {
        Distribution {
            name: name.into(),
            points,
        }
    }

    /// The percentile distribution of an HDR histogram, as HDR's own tools print it: five
    /// points per halving of the distance to 100%, each value divided by `per_unit` (1000 turns
    /// the project's microseconds into milliseconds).
    pub fn from_histogram(
        name: impl Into<String>,
        histogram: &hdrhistogram::Histogram<u64>,
        per_unit: f64,
    ) -> Distribution {
        let points = histogram
            .iter_quantiles(5)
            .map(|v| {
                (
                    v.quantile_iterated_to(),
                    v.value_iterated_to() as f64 / per_unit,
                )
            })
            .collect();
        Distribution::new(name, points)
    }
}

/// Where the percentile plot puts quantile `q`: 1 / (1 − q), so that 90%, 99% and 99.9% are
/// evenly spaced on a log scale.
pub fn percentile_position(q: f64) -> f64 {
    1.0 / (1.0 - q)
}

/// The percentile a position stands for, as an axis label: `50%`, `99%`, `99.99%`.
pub fn percentile_label(position: f64) -> String {
    let percent = (1.0 - 1.0 / position) * 100.0;
    // As many decimals as the nines need, without float noise (99.9 not 99.900000001).
    let decimals = if position <= 100.0 {
        0
    } else {
        (position.log10() - 2.0).ceil() as usize
    };
    format!("{percent:.decimals$}%")
}

/// The HDR percentile plot: x the percentile on a log scale of 1/(1 − q), y the value.
pub fn percentile_chart(
    labels: &Labels,
    distributions: &[Distribution],
) -> Result<Svg, ChartError> {
    let positioned: Vec<Series> = distributions
        .iter()
        .map(|d| Series {
            name: d.name.clone(),
            points: d
                .points
                .iter()
                .filter(|(q, _)| (0.0..1.0).contains(q))
                .map(|&(q, v)| (percentile_position(q), v))
                .collect(),
        })
        .collect();
    let ((_, x_hi), (y_lo, y_hi)) = bounds(&positioned);
    // From the median's left (q = 0 is 1) to the next power of ten past the last point.
    let decades = if x_hi.is_finite() && x_hi > 1.0 {
        x_hi.log10().ceil().max(1.0)
    } else {
        2.0
    };
    let x_hi = 10f64.powf(decades);
    let (y_lo, y_hi) = y_range(y_lo, y_hi, positioned.len());
    draw(
        labels,
        (1.0..x_hi).log_scale(),
        y_lo..y_hi,
        &|v| percentile_label(*v),
        &positioned,
    )
}

/// An axis number without float noise: `0.25`, `12`, `1500`, `2.5e6`.
fn format_number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_positions_and_labels() {
        assert_eq!(percentile_position(0.0), 1.0);
        assert!((percentile_position(0.99) - 100.0).abs() < 1e-9);
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(2.0), "50%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1_000.0), "99.9%");
        assert_eq!(percentile_label(100_000.0), "99.999%");
        assert_eq!(percentile_label(percentile_position(0.999)), "99.9%");
    }

    #[test]
    fn a_histogram_becomes_its_percentile_distribution() {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for us in 1..=10_000u64 {
            h.record(us).unwrap();
        }
        let d = Distribution::from_histogram("run", &h, 1000.0);
        assert_eq!(d.name, "run");
        assert!(d.points.len() > 40, "{}", d.points.len());
        assert!(d
            .points
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        let median = d.points.iter().find(|(q, _)| *q >= 0.5).unwrap();
        assert!((median.1 - 5.0).abs() < 0.01, "{median:?}");
        let last = d.points.last().unwrap();
        assert_eq!(*last, (1.0, h.highest_equivalent(10_000) as f64 / 1000.0));
        let p999 = d.points.iter().find(|(q, _)| *q >= 0.999).unwrap();
        assert!((p999.1 - 9.99).abs() < 0.01, "{p999:?}");
    }

    #[test]
    fn axis_numbers_have_no_float_noise() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(0.30000000000000004), "0.3");
        assert_eq!(format_number(12.0), "12");
        assert_eq!(format_number(1500.0), "1500");
        assert_eq!(format_number(2_500_000.0), "2.5e6");
    }

    #[test]
    fn ranges_are_never_empty() {
        assert_eq!(span(f64::INFINITY, f64::NEG_INFINITY), (0.0, 1.0));
        assert_eq!(span(5.0, 5.0), (4.0, 6.0));
        assert_eq!(span(100.0, 100.0), (90.0, 110.0));
        assert_eq!(span(1.0, 3.0), (1.0, 3.0));
        // 8% above the highest point, and 9% more per legend line.
        assert_eq!(y_range(2.0, 12.0, 0), (0.0, 12.96));
        assert!((y_range(2.0, 12.0, 2).1 - 12.0 * 1.26).abs() < 1e-9);
        assert_eq!(y_range(-3.0, -1.0, 0), (-3.0, -0.84));
    }

    #[test]
    fn a_chart_is_one_svg_with_its_words() {
        let svg = line_chart(
            &Labels::new("Throughput", "trace time (s)", "events/s"),
            &[
                Series::new("requests", vec![(0.0, 10.0), (1.0, 12.0), (2.0, f64::NAN)]),
                Series::new("errors", vec![]),
            ],
        )
        .unwrap();
        let text = svg.as_str();
        assert!(text.starts_with("<svg"), "{}", &text[..40.min(text.len())]);
        assert_eq!(text.matches("<svg").count(), 1);
        for word in [
            "Throughput",
            "trace time (s)",
            "events/s",
            "requests",
            "errors",
        ] {
            assert!(text.contains(word), "{word} missing");
        }
        assert!(text.contains("<polyline") || text.contains("<path"));
    }
}
