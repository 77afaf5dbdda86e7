//! Self-contained HTML reports: charts drawn as inline SVG (`chart`), escaped text
//! (`escape`) and the page with its tables (`page`). Everything takes plain data (named
//! series, rows of values), so a run's result, several results overlaid or a comparison all
//! render through the same functions; the page loads nothing and needs no JavaScript.

pub mod chart;
pub mod escape;
pub mod page;

pub use chart::{line_chart, percentile_chart, ChartError, Distribution, Labels, Series, Svg};
pub use page::{
    activity_table, failure_table, metadata_table, threshold_table, ActivityRow, Block, Cell,
    CellKind, FailureRow, Page, Table,
};

#[cfg(test)]
mod tests {
    use super::*;
    use scraper::{Html, Selector};

    fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
        doc.select(&Selector::parse(css).unwrap()).collect()
    }

    fn text_of(e: &scraper::ElementRef<'_>) -> String {
        e.text().collect::<String>()
    }

    const NASTY: &str = r#"<script>alert("x")</script> & 'q' <b>bold</b>"#;

    /// The charts and tables of a report, with `NASTY` text in a series name and a table.
    /// For each chart: its title, the other words it must show, and its series.
    type Expected = Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)>;

    fn report() -> (Page, Expected) {
        let seconds =
            |f: fn(f64) -> f64| (0..60).map(|s| (f64::from(s), f(f64::from(s)))).collect();
        let mut page = Page::new("loadgen report: run 7 <seed 42>");
        let mut expected = Vec::new();

        page.heading("Throughput and errors");
        let labels = Labels::new(
            "Throughput and errors",
            "trace time (s)",
            "events per second",
        );
        let svg = line_chart(
            &labels,
            &[
                Series::new("successes/s", seconds(|s| 95.0 + (s / 7.0).sin() * 5.0)),
                Series::new("failures/s", seconds(|s| if s > 40.0 { 3.0 } else { 0.0 })),
                Series::new(NASTY, seconds(|_| 1.0)),
            ],
        )
        .unwrap();
        page.chart("Events per second of trace time", svg);
        expected.push((
            "Throughput and errors",
            vec!["trace time (s)", "events per second"],
            vec!["successes/s", "failures/s", NASTY],
        ));

        let labels = Labels::new("Latency over time", "trace time (s)", "latency (ms)");
        let svg = line_chart(
            &labels,
            &[
                Series::new("p50", seconds(|s| 20.0 + s * 0.1)),
                Series::new("p90", seconds(|s| 45.0 + s * 0.2)),
                Series::new("p99", seconds(|s| 120.0 + s)),
            ],
        )
        .unwrap();
        page.chart("Latency from the intended time, per bucket", svg);
        expected.push((
            "Latency over time",
            vec!["trace time (s)", "latency (ms)"],
            vec!["p50", "p90", "p99"],
        ));

        let labels = Labels::new("Schedule lateness", "trace time (s)", "lateness (ms)");
        let svg = line_chart(&labels, &[Series::new("lateness p99", seconds(|_| 0.4))]).unwrap();
        page.chart("Intended time to first request sent", svg);
        expected.push((
            "Schedule lateness",
            vec!["trace time (s)", "lateness (ms)"],
            vec!["lateness p99"],
        ));

        let hdr = |scale: f64| {
            (0..=40)
                .map(|i| {
                    let q = 1.0 - 0.5f64.powf(f64::from(i) / 4.0);
                    (q, scale * (10.0 + 90.0 * q.powi(8)))
                })
                .chain(std::iter::once((1.0, 1e9)))
                .collect()
        };
        let labels = Labels::new("Latency distribution", "percentile", "latency (ms)");
        let svg = percentile_chart(
            &labels,
            &[
                Distribution::new("base.json", hdr(1.0)),
                Distribution::new("new.json", hdr(1.3)),
            ],
        )
        .unwrap();
        page.chart("HDR percentile plot", svg);
        expected.push((
            "Latency distribution",
            vec!["percentile", "latency (ms)", "0%", "90%", "99%", "99.9%"],
            vec!["base.json", "new.json"],
        ));

        page.heading("Activities").table(activity_table(
            "Per activity",
            &[
                ActivityRow {
                    activity: "new_order".into(),
                    events: 1200,
                    failures: 3,
                    p50_ms: Some(21.04),
                    p95_ms: Some(80.0),
                    p99_ms: Some(140.55),
                    max_ms: Some(300.0),
                },
                ActivityRow {
                    activity: "cancellation".into(),
                    events: 0,
                    failures: 0,
                    p50_ms: None,
                    p95_ms: None,
                    p99_ms: None,
                    max_ms: None,
                },
            ],
        ));
        page.table(failure_table(
            "Failures",
            &[FailureRow {
                kind: "http_5xx".into(),
                count: 3,
                example: NASTY.into(),
            }],
        ));
        page.table(metadata_table(
            "Run",
            &[
                ("trace".into(), "traces/day.lgt".into()),
                ("tag team".into(), "checkout & payments".into()),
            ],
        ));
        (page, expected)
    }

    #[test]
    fn the_report_parses_and_has_one_svg_per_chart_with_its_words() {
        let (page, expected) = report();
        let html = page.render();
        let doc = Html::parse_document(&html);
        assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
        assert_eq!(
            text_of(&select(&doc, "title")[0]),
            "loadgen report: run 7 <seed 42>"
        );
        let svgs = select(&doc, "figure > svg");
        assert_eq!(svgs.len(), expected.len());
        assert_eq!(
            select(&doc, "svg").len(),
            expected.len(),
            "an svg outside a figure"
        );
        let polylines = Selector::parse("polyline").unwrap();
        for (svg, (title, words, series)) in svgs.iter().zip(&expected) {
            let texts: Vec<String> = svg
                .select(&Selector::parse("text").unwrap())
                .map(|t| text_of(&t).trim().to_string())
                .collect();
            for word in std::iter::once(title).chain(words).chain(series) {
                assert!(
                    texts.iter().any(|t| t == word),
                    "{title}: `{word}` not in {texts:?}"
                );
            }
            // Each series is a thick line of all its points (and a short one in the legend).
            let lines: Vec<usize> = svg
                .select(&polylines)
                .filter(|l| l.value().attr("stroke-width") == Some("2"))
                .map(|l| l.value().attr("points").unwrap().split_whitespace().count())
                .collect();
            let data_lines: Vec<usize> = lines.iter().copied().filter(|&n| n > 2).collect();
            assert_eq!(lines.len(), 2 * series.len(), "{title}: {lines:?}");
            let points = if title == &"Latency distribution" {
                41
            } else {
                60
            };
            assert_eq!(data_lines, vec![points; series.len()], "{title}");
        }
        let captions: Vec<String> = select(&doc, "figcaption").iter().map(text_of).collect();
        assert_eq!(captions[3], "HDR percentile plot");
    }

    #[test]
    fn text_from_the_data_is_escaped_everywhere() {
        let (page, _) = report();
        let doc = Html::parse_document(&page.render());
        assert!(select(&doc, "script").is_empty());
        assert!(select(&doc, "b").is_empty());
        assert_eq!(
            text_of(&select(&doc, "h1")[0]),
            "loadgen report: run 7 <seed 42>"
        );
        let cells: Vec<String> = select(&doc, "td").iter().map(text_of).collect();
        assert!(cells.iter().any(|c| c == NASTY), "{cells:?}");
        assert!(cells.iter().any(|c| c == "checkout & payments"));
        // Numbers are right-aligned and a missing percentile is a dash.
        let numbers: Vec<String> = select(&doc, "td.num").iter().map(text_of).collect();
        assert_eq!(
            numbers[..6],
            ["1200", "3", "21.0", "80.0", "140.6", "300.0"].map(String::from)
        );
        assert_eq!(numbers[8], "–");
    }

    /// Whatever in `html` could make a browser fetch something, described.
    fn outside_references(html: &str) -> Vec<String> {
        let doc = Html::parse_document(html);
        let mut found = Vec::new();
        for tag in [
            "script", "link", "iframe", "img", "object", "embed", "base", "image", "use",
        ] {
            if !select(&doc, tag).is_empty() {
                found.push(format!("<{tag}>"));
            }
        }
        // `xlink:href` reaches here as `href`.
        const FETCHING: [&str; 8] = [
            "src",
            "href",
            "srcset",
            "action",
            "formaction",
            "poster",
            "data",
            "background",
        ];
        for element in doc.root_element().descendent_elements() {
            for (name, value) in element.value().attrs() {
                if FETCHING.contains(&name) || value.contains("url(") {
                    found.push(format!("<{} {name}=\"{value}\">", element.value().name()));
                }
            }
        }
        for style in select(&doc, "style") {
            let css = text_of(&style);
            if css.contains("url(") || css.contains("@import") {
                found.push(format!("<style>{css}</style>"));
            }
        }
        // The only URL allowed is SVG's namespace name, which nothing fetches.
        let rest = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        if rest.contains("http:") || rest.contains("https:") || rest.contains("//") {
            found.push("a URL in the text".into());
        }
        found
    }

    #[test]
    fn the_page_references_nothing_outside_itself() {
        let (page, _) = report();
        let html = page.render();
        assert_eq!(outside_references(&html), Vec::<String>::new());
        // And the browser is told to fetch nothing.
        let doc = Html::parse_document(&html);
        let csp = select(&doc, "meta[http-equiv=\"Content-Security-Policy\"]");
        assert_eq!(
            csp[0].value().attr("content").unwrap().split(';').next(),
            Some("default-src 'none'")
        );
    }

    #[test]
    fn the_reference_check_finds_what_would_fetch() {
        let (page, _) = report();
        let html = page.render();
        for injected in [
            "<img src=\"logo.png\">",
            "<link rel=\"stylesheet\" href=\"style.css\">",
            "<p style=\"background:url(x.png)\">x</p>",
            "<svg><image href=\"x.png\"/></svg>",
            "<svg><a xlink:href=\"#x\"><text>x</text></a></svg>",
            "<p>see cdn.example//x</p>",
        ] {
            let bad = html.replace("</main>", &format!("{injected}</main>"));
            assert!(!outside_references(&bad).is_empty(), "{injected} not found");
        }
    }

    #[test]
    fn threshold_verdicts_render_as_a_table() {
        use crate::threshold::{parse_threshold, Observed, Verdict};
        let verdicts = [
            Verdict {
                threshold: parse_threshold("p99<500ms").unwrap(),
                observed: Some(Observed::Time(std::time::Duration::from_millis(612))),
                passed: false,
            },
            Verdict {
                threshold: parse_threshold("visible.p99<2s").unwrap(),
                observed: None,
                passed: false,
            },
        ];
        let mut page = Page::new("t");
        page.table(threshold_table("Thresholds", &verdicts));
        let doc = Html::parse_document(&page.render());
        let cells: Vec<String> = select(&doc, "td").iter().map(text_of).collect();
        assert_eq!(
            cells,
            [
                "p99<500ms",
                "612.0ms",
                "failed",
                "visible.p99<2s",
                "nothing measured",
                "failed"
            ]
            .map(String::from)
        );
        assert_eq!(select(&doc, "td.fail").len(), 2);
    }

    #[test]
    fn charts_without_data_still_draw() {
        let labels = Labels::new("Empty", "x", "y");
        for svg in [
            line_chart(&labels, &[]).unwrap(),
            line_chart(&labels, &[Series::new("flat", vec![(3.0, 5.0)])]).unwrap(),
            percentile_chart(&labels, &[Distribution::new("none", vec![(1.0, 5.0)])]).unwrap(),
        ] {
            let doc = Html::parse_fragment(svg.as_str());
            assert_eq!(select(&doc, "svg").len(), 1);
            assert!(svg.as_str().contains("Empty"));
        }
    }
}
