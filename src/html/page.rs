//! A self-contained HTML page: headings, paragraphs, inline SVG charts and tables, with its
//! style inline and a Content-Security-Policy that forbids loading anything, so the file shows
//! the same offline, from an e-mail attachment or a CI artifact. No JavaScript.

use super::chart::Svg;
use super::escape::escape;

/// How a cell is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    Text,
    /// Right-aligned, with digits of equal width.
    Number,
    /// A check that passed (green) or failed (red).
    Passed,
    Failed,
}

/// One table cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub text: String,
    pub kind: CellKind,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            kind: CellKind::Text,
        }
    }

    pub fn number(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            kind: CellKind::Number,
        }
    }
}

/// A table with a caption and a header row.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub caption: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// What a page is made of, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// A section heading (`<h2>`).
    Heading(String),
    Paragraph(String),
    /// A chart with its caption under it.
    Chart {
        caption: String,
        svg: Svg,
    },
    Table(Table),
}

/// An HTML page being put together.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub title: String,
    pub blocks: Vec<Block>,
}

/// Nothing may be fetched: styles only from the page itself, images only inline.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d1d1f;\
margin:0;background:#fafafa}\
main{max-width:920px;margin:0 auto;padding:24px}\
h1{font-size:1.6em;margin:0 0 .4em}h2{font-size:1.25em;margin:1.6em 0 .5em;\
border-bottom:1px solid #ddd;padding-bottom:.2em}\
figure{margin:1em 0;background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:8px}\
figure svg{display:block;max-width:100%;height:auto}\
figcaption{font-size:.9em;color:#555;margin-top:4px}\
table{border-collapse:collapse;margin:1em 0;background:#fff;font-size:.92em}\
caption{text-align:left;font-weight:600;padding:4px 0}\
th,td{border:1px solid #e3e3e3;padding:4px 10px;text-align:left;vertical-align:top}\
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}\
td.pass{color:#0a7d32;font-weight:600}td.fail{color:#b00020;font-weight:600}";

impl Page {
    pub fn new(title: impl Into<String>) -> Page {
        Page {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    pub fn heading(&mut self, text: impl Into<String>) -> &mut Page {
        self.blocks.push(Block::Heading(text.into()));
        self
    }

    pub fn paragraph(&mut self, text: impl Into<String>) -> &mut Page {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    pub fn chart(&mut self, caption: impl Into<String>, svg: Svg) -> &mut Page {
        self.blocks.push(Block::Chart {
            caption: caption.into(),
            svg,
        });
        self
    }

    pub fn table(&mut self, table: Table) -> &mut Page {
        self.blocks.push(Block::Table(table));
        self
    }

    /// The whole document.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        out.push_str(&format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
            escape(CONTENT_SECURITY_POLICY)
        ));
        out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        out.push_str(&format!("<title>{}</title>\n", escape(&self.title)));
        out.push_str(&format!(
            "<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        ));
        out.push_str(&format!("<h1>{}</h1>\n", escape(&self.title)));
        for block in &self.blocks {
            match block {
                Block::Heading(text) => out.push_str(&format!("<h2>{}</h2>\n", escape(text))),
                Block::Paragraph(text) => out.push_str(&format!("<p>{}</p>\n", escape(text))),
                Block::Chart { caption, svg } => out.push_str(&format!(
                    "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n",
                    escape(caption)
                )),
                Block::Table(table) => render_table(&mut out, table),
            }
        }
        out.push_str("</main>\n</body>\n</html>\n");
        out
    }
}

fn render_table(out: &mut String, table: &Table) {
    out.push_str(&format!(
        "<table>\n<caption>{}</caption>\n<thead><tr>",
        escape(&table.caption)
    ));
    for h in &table.head {
        out.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for cell in row {
            let class = match cell.kind {
                CellKind::Text => "",
                CellKind::Number => " class=\"num\"",
                CellKind::Passed => " class=\"pass\"",
                CellKind::Failed => " class=\"fail\"",
            };
            out.push_str(&format!("<td{class}>{}</td>", escape(&cell.text)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// One activity's line in the per-activity table; times in milliseconds, `None` without a
/// sample.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityRow {
    pub activity: String,
    pub events: u64,
    pub failures: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

fn ms(v: Option<f64>) -> Cell {
    Cell::number(v.map_or_else(|| "–".to_string(), |v| format!("{v:.1}")))
}

/// Events, failures and latency percentiles per activity.
pub fn activity_table(caption: &str, rows: &[ActivityRow]) -> Table {
    Table {
        caption: caption.to_string(),
        head: [
            "activity", "events", "failures", "p50 (ms)", "p95 (ms)", "p99 (ms)", "max (ms)",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::text(&r.activity),
                    Cell::number(r.events.to_string()),
                    Cell::number(r.failures.to_string()),
                    ms(r.p50_ms),
                    ms(r.p95_ms),
                    ms(r.p99_ms),
                    ms(r.max_ms),
                ]
            })
            .collect(),
    }
}

/// One kind of failure: how many, and an example of what was said.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureRow {
    pub kind: String,
    pub count: u64,
    pub example: String,
}

pub fn failure_table(caption: &str, rows: &[FailureRow]) -> Table {
    Table {
        caption: caption.to_string(),
        head: ["failure", "events", "example"].map(String::from).to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::text(&r.kind),
                    Cell::number(r.count.to_string()),
                    Cell::text(&r.example),
                ]
            })
            .collect(),
    }
}

/// Key–value pairs: the run's metadata (trace, seed, speed, tags, ...).
pub fn metadata_table(caption: &str, pairs: &[(String, String)]) -> Table {
    Table {
        caption: caption.to_string(),
        head: ["property", "value"].map(String::from).to_vec(),
        rows: pairs
            .iter()
            .map(|(k, v)| vec![Cell::text(k), Cell::text(v)])
            .collect(),
    }
}

/// The thresholds' verdicts: expression, observed value, passed or failed.
pub fn threshold_table(caption: &str, verdicts: &[crate::threshold::Verdict]) -> Table {
    Table {
        caption: caption.to_string(),
        head: ["threshold", "observed", "result"]
            .map(String::from)
            .to_vec(),
        rows: verdicts
            .iter()
            .map(|v| {
                vec![
                    Cell::text(&v.threshold.text),
                    Cell::text(
                        v.observed
                            .map_or_else(|| "nothing measured".to_string(), |o| o.to_string()),
                    ),
                    if v.passed {
                        Cell {
                            text: "passed".into(),
                            kind: CellKind::Passed,
                        }
                    } else {
                        Cell {
                            text: "failed".into(),
                            kind: CellKind::Failed,
                        }
                    },
                ]
            })
            .collect(),
    }
}
