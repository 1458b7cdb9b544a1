//! The job graph as a picture: a standalone SVG ([`render_job_svg`], `bpprof locate --svg`) and a
//! Graphviz DOT graph ([`render_job_dot`], `bpprof locate --dot`) of a [`LocateReport`].
//!
//! Nodes are coloured as Flink's web UI colours them ([`flink_colour`]): blue when idle, blended
//! toward red by busy, then toward grey/black by backpressured. Edges are drawn darker and
//! thicker as their upstream task is more backpressured; bottlenecks are outlined. See
//! `docs/graph.md`.
//!
//! ```
//! use bpprof_analysis::picture::{flink_colour, render_job_svg};
//! use bpprof_analysis::synth::{Load, Synth};
//! use bpprof_analysis::{locate, AnalysisOptions};
//!
//! assert_eq!(flink_colour(Some(0.0), 0.0), ("#5db1ff".to_owned(), "#1890ff".to_owned()));
//! assert_eq!(flink_colour(Some(1.0), 0.0).0, "#ee6464");
//!
//! let mut synth = Synth::new();
//! let source = synth.subtask("Source", 0, 1);
//! let sink = synth.subtask("Sink", 0, 1);
//! synth.channel("events", 64, &[source], &[sink]);
//! for _ in 0..3 {
//!     synth.interval(&[(source, Load::new(0.1, 0.9)), (sink, Load::new(0.95, 0.0))]);
//! }
//! let report = locate(&synth.recording(), &AnalysisOptions::default()).unwrap();
//! let mut svg = Vec::new();
//! render_job_svg(&report, &mut svg).unwrap();
//! let svg = String::from_utf8(svg).unwrap();
//! assert!(svg.contains("class=\"bottleneck-outline\""));
//! assert!(svg.trim_end().ends_with("</svg>"));
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::report::{EdgeReport, LocateReport, TaskReport};
use crate::units::analysed_text;

/// Flink's idle colour: fill and border.
pub const IDLE_COLOUR: ([u8; 3], [u8; 3]) = ([0x5d, 0xb1, 0xff], [0x18, 0x90, 0xff]);
/// Flink's busy colour: fill and border.
pub const BUSY_COLOUR: ([u8; 3], [u8; 3]) = ([0xee, 0x64, 0x64], [0xee, 0x22, 0x22]);
/// Flink's backpressured colour: fill and border.
pub const BACKPRESSURED_COLOUR: ([u8; 3], [u8; 3]) = ([0x88, 0x88, 0x88], [0x00, 0x00, 0x00]);
/// Outline of a bottleneck node (and of skewed subtask bars).
pub const BOTTLENECK_OUTLINE: &str = "#fa8c16";

/// Node width, pixels.
const NODE_W: f64 = 220.0;
/// Node height, pixels.
const NODE_H: f64 = 116.0;
/// Horizontal gap between columns (room for the edges and their labels).
const COL_GAP: f64 = 120.0;
/// Vertical gap between the nodes of a column (room for the bottleneck label).
const ROW_GAP: f64 = 44.0;
const MARGIN: f64 = 24.0;
/// Height of the header (verdict and range).
const HEADER_H: f64 = 64.0;
/// Height of the legend at the bottom.
const LEGEND_H: f64 = 48.0;
/// Top of the subtask bar area, relative to the node's top, and its height.
const BARS_TOP: f64 = 68.0;
const BARS_H: f64 = 38.0;
/// Longest name drawn in full in a node (the full name is in the node's `<title>`).
const NAME_MAX_CHARS: usize = 28;
/// Longest verdict drawn in full in the header.
const VERDICT_MAX_CHARS: usize = 170;
/// Edge colour and width without backpressure; edges blend toward black and [`EDGE_MAX_W`].
const EDGE_IDLE: [u8; 3] = [0xb4, 0xb4, 0xb4];
const EDGE_MIN_W: f64 = 1.5;
const EDGE_MAX_W: f64 = 8.0;

/// Flink's node colour for a task: `(fill, border)` as `#rrggbb`.
///
/// Starts at blue (fill `#5db1ff`, border `#1890ff`), blends linearly per RGB channel toward red
/// (fill `#ee6464`, border `#ee2222`) by `busy`, then toward grey/black (fill `#888888`, border
/// `#000000`) by `backpressured`. Ratios are clamped to 0..1 (NaN counts as 0). Unknown (N/A)
/// busy skips the red step, as in Flink. Channels are rounded to the nearest integer.
pub fn flink_colour(busy: Option<f64>, backpressured: f64) -> (String, String) {
    let (fill, border) = blend_colour(busy, backpressured);
    (hex(fill), hex(border))
}

fn blend_colour(busy: Option<f64>, backpressured: f64) -> ([f64; 3], [f64; 3]) {
    let (mut fill, mut border) = (to_f(IDLE_COLOUR.0), to_f(IDLE_COLOUR.1));
    if let Some(busy) = busy.filter(|b| !b.is_nan()) {
        let t = clamp01(busy);
        fill = lerp(fill, to_f(BUSY_COLOUR.0), t);
        border = lerp(border, to_f(BUSY_COLOUR.1), t);
    }
    let t = clamp01(backpressured);
    fill = lerp(fill, to_f(BACKPRESSURED_COLOUR.0), t);
    border = lerp(border, to_f(BACKPRESSURED_COLOUR.1), t);
    (fill, border)
}

fn clamp01(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

fn to_f(c: [u8; 3]) -> [f64; 3] {
    c.map(f64::from)
}

fn lerp(a: [f64; 3], b: [f64; 3], t: f64) -> [f64; 3] {
    [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * t)
}

fn hex(c: [f64; 3]) -> String {
    let [r, g, b] = c.map(|v| v.round().clamp(0.0, 255.0) as u8);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Colour and width of an edge whose upstream task is backpressured `bp` (unknown: `None`).
fn edge_style(bp: Option<f64>) -> (String, f64) {
    let t = clamp01(bp.unwrap_or(0.0));
    (
        hex(lerp(to_f(EDGE_IDLE), [0.0; 3], t)),
        EDGE_MIN_W + (EDGE_MAX_W - EDGE_MIN_W) * t,
    )
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

fn percent(r: Option<f64>) -> String {
    crate::units::pct_or(r, "N/A")
}

/// Where each task goes: its column (longest path from a source, over edges that go forward in
/// graph order) and its row within the column.
struct Layout {
    column: Vec<usize>,
    row: Vec<usize>,
    columns: usize,
    rows: Vec<usize>,
}

/// The edges of `report` between two of its tasks, each with the positions of its upstream and
/// downstream task in [`LocateReport::tasks`].
fn task_edges(report: &LocateReport) -> Vec<(usize, usize, &EdgeReport)> {
    let index: HashMap<&str, usize> = report
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    report
        .edges
        .iter()
        .filter_map(|e| Some((*index.get(e.from.as_str())?, *index.get(e.to.as_str())?, e)))
        .collect()
}

fn layout(report: &LocateReport, edges: &[(usize, usize, &EdgeReport)]) -> Layout {
    let mut column = vec![0usize; report.tasks.len()];
    // Graph order is topological (sources first): relaxing in that order gives longest paths;
    // edges going back in graph order (cycles) are ignored for the layout.
    for to in 0..report.tasks.len() {
        for &(f, t, _) in edges {
            if t == to && f < t {
                column[t] = column[t].max(column[f] + 1);
            }
        }
    }
    let columns = column.iter().max().map_or(0, |m| m + 1);
    let mut rows = vec![0usize; columns];
    let row = column
        .iter()
        .map(|&c| {
            rows[c] += 1;
            rows[c] - 1
        })
        .collect();
    Layout {
        column,
        row,
        columns,
        rows,
    }
}

/// Draws the job graph of `report` as a standalone SVG document (no scripts, no external fonts
/// or images): tasks left to right by graph depth, coloured with [`flink_colour`], each with its
/// name, parallelism, busy and backpressured percent and one bar per subtask; edges darker and
/// thicker with their upstream task's backpressure; bottlenecks outlined. Every node, bar and
/// edge has a `<title>` shown on hover.
pub fn render_job_svg(report: &LocateReport, mut out: impl Write) -> io::Result<()> {
    let edges = task_edges(report);
    let lay = layout(report, &edges);
    let max_rows = lay.rows.iter().copied().max().unwrap_or(0);
    let graph_w =
        lay.columns as f64 * (NODE_W + COL_GAP) - if lay.columns > 0 { COL_GAP } else { 0.0 };
    let graph_h = max_rows as f64 * (NODE_H + ROW_GAP);
    let verdict = shorten(&report.verdict, VERDICT_MAX_CHARS);
    // Rough text width at 14 px: 7.5 px a character.
    let header_w = verdict.chars().count() as f64 * 7.5;
    let width = (2.0 * MARGIN + graph_w.max(header_w).max(560.0)).ceil();
    let height = (HEADER_H + ROW_GAP + graph_h + LEGEND_H + MARGIN).ceil();

    let pos = |i: usize| -> (f64, f64) {
        let c = lay.column[i];
        let offset = (max_rows - lay.rows[c]) as f64 * (NODE_H + ROW_GAP) / 2.0;
        (
            MARGIN + c as f64 * (NODE_W + COL_GAP),
            HEADER_H + ROW_GAP + offset + lay.row[i] as f64 * (NODE_H + ROW_GAP),
        )
    };

    let mut s = String::new();
    header(&mut s, report, width, height);

    // Edges first, so that nodes are drawn over their ends.
    s.push_str("<g id=\"edges\">\n");
    for &(f, t, e) in &edges {
        edge(
            &mut s,
            report,
            e,
            report.tasks[f].backpressured,
            pos(f),
            pos(t),
        );
    }
    s.push_str("</g>\n<g id=\"tasks\">\n");

    for (i, task) in report.tasks.iter().enumerate() {
        let (x, y) = pos(i);
        let bottleneck = report.bottlenecks.iter().find(|b| b.task == task.name);
        node(&mut s, task, x, y, bottleneck.map(kind_name));
    }
    s.push_str("</g>\n");
    legend(&mut s, height - LEGEND_H + 8.0);
    s.push_str("</svg>\n");
    out.write_all(s.as_bytes())?;
    out.flush()
}

/// The document's start: the title, the hatch pattern of unknown ratios, the background, the
/// verdict and the analysed range.
fn header(s: &mut String, report: &LocateReport, width: f64, height: f64) {
    let verdict = shorten(&report.verdict, VERDICT_MAX_CHARS);
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\">"
    );
    let _ = writeln!(
        s,
        "<title>bpprof job graph: {}</title>",
        crate::xml::escape(&report.recording.program)
    );
    s.push_str(
        "<defs>\n<pattern id=\"na-hatch\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(45)\"><rect width=\"8\" height=\"8\" fill=\"none\"/>\
         <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#ffffff\" stroke-width=\"3\" stroke-opacity=\"0.6\"/></pattern>\n</defs>\n",
    );
    let _ = writeln!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{MARGIN}\" y=\"{:.1}\" font-size=\"14\" font-weight=\"bold\" fill=\"#1a1a1a\"><title>{}</title>{}</text>",
        MARGIN + 6.0,
        crate::xml::escape(&report.verdict),
        crate::xml::escape(&verdict)
    );
    let r = &report.recording;
    let _ = writeln!(
        s,
        "<text x=\"{MARGIN}\" y=\"{:.1}\" font-size=\"11\" fill=\"#555555\">{} on {} · {} CPUs · {}</text>",
        MARGIN + 26.0,
        crate::xml::escape(&r.program),
        crate::xml::escape(&r.host),
        r.cpus,
        analysed_text(r.from_s, r.to_s, r.duration_s, r.intervals)
    );
}

/// One edge from the task at `from` to the task at `to` (top-left corners of their boxes): a
/// curve coloured and sized by the sender's backpressure (dashed when unknown), an arrow head,
/// the queue's fill as a label and everything measured as its tooltip.
fn edge(
    s: &mut String,
    report: &LocateReport,
    e: &EdgeReport,
    sender_bp: Option<f64>,
    (fx, fy): (f64, f64),
    (tx, ty): (f64, f64),
) {
    let (colour, w) = edge_style(sender_bp);
    let (x1, y1) = (fx + NODE_W, fy + NODE_H / 2.0);
    let arrow = 6.0 + w;
    // Stop short of a bottleneck's outline.
    let outline = if report.bottlenecks.iter().any(|b| b.task == e.to) {
        7.0
    } else {
        0.0
    };
    let (x2, y2) = (tx - arrow - outline, ty + NODE_H / 2.0);
    let dx = ((x2 - x1).abs() / 2.0).max(60.0);
    let dash = if sender_bp.is_none() {
        " stroke-dasharray=\"6 4\""
    } else {
        ""
    };
    let fill = match (e.avg_fill, e.capacity) {
        (Some(a), Some(c)) => format!("fill {a:.0}/{c}"),
        (None, Some(c)) => format!("fill -/{c}"),
        _ => "fill -".to_owned(),
    };
    let tip = format!(
        "{} → {}{}: upstream backpressured {}, queue {}, blocked sends {}, blocked receives {}{}",
        e.from,
        e.to,
        e.channel
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default(),
        percent(sender_bp),
        fill,
        e.blocked_sends,
        e.blocked_recvs,
        e.partitioning
            .as_deref()
            .map(|p| format!(", {p}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "<g class=\"edge\" data-from=\"{}\" data-to=\"{}\"><title>{}</title>\
         <path d=\"M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{w:.2}\"{dash}/>\
         <polygon points=\"{x2:.1},{:.1} {:.1},{y2:.1} {x2:.1},{:.1}\" fill=\"{colour}\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#333333\">{}</text></g>",
        crate::xml::escape(&e.from),
        crate::xml::escape(&e.to),
        crate::xml::escape(&tip),
        x1 + dx,
        x2 - dx,
        y2 - arrow * 0.6,
        x2 + arrow,
        y2 + arrow * 0.6,
        (x1 + x2) / 2.0,
        (y1 + y2) / 2.0 - w / 2.0 - 4.0,
        crate::xml::escape(&fill)
    );
}

/// The kind of a bottleneck as shown in the pictures.
fn kind_name(b: &crate::report::Bottleneck) -> &'static str {
    use crate::report::BottleneckKind;
    match b.kind {
        BottleneckKind::Cpu => "cpu",
        BottleneckKind::Skew => "skew",
        BottleneckKind::OffCpu => "off-CPU",
        BottleneckKind::External => "external",
        BottleneckKind::Exchange => "exchange",
    }
}

/// Black or white, whichever reads better on `fill`.
fn text_colour(fill: [f64; 3]) -> &'static str {
    let luma = (0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2]) / 255.0;
    if luma > 0.6 {
        "#1a1a1a"
    } else {
        "#ffffff"
    }
}

fn node(s: &mut String, task: &TaskReport, x: f64, y: f64, bottleneck: Option<&str>) {
    let na = task.busy.is_none_or(f64::is_nan);
    let (fill, border) = blend_colour(task.busy, task.backpressured.unwrap_or(0.0));
    let (fill_hex, border_hex) = (hex(fill), hex(border));
    let ink = text_colour(fill);
    let level = task.level.map_or("level N/A", |l| l.as_str());
    let tip = format!(
        "{} (parallelism {}): busy {}, backpressured {}, idle {}, on-CPU {}, level {}{}{}",
        task.name,
        task.parallelism,
        percent(task.busy),
        percent(task.backpressured),
        percent(task.idle),
        percent(task.on_cpu),
        task.level.map_or("N/A", |l| l.as_str()),
        if task.unaccounted {
            "; declared unaccounted"
        } else {
            ""
        },
        bottleneck
            .map(|k| format!("; bottleneck ({k})"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "<g class=\"task{}\" data-task=\"{}\" data-fill=\"{fill_hex}\"><title>{}</title>",
        if na { " na" } else { "" },
        crate::xml::escape(&task.name),
        crate::xml::escape(&tip)
    );
    if let Some(kind) = bottleneck {
        let _ = writeln!(
            s,
            "<rect class=\"bottleneck-outline\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"10\" \
             fill=\"none\" stroke=\"{BOTTLENECK_OUTLINE}\" stroke-width=\"4\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" font-weight=\"bold\" fill=\"{BOTTLENECK_OUTLINE}\">bottleneck ({kind})</text>",
            x - 6.0,
            y - 6.0,
            NODE_W + 12.0,
            NODE_H + 12.0,
            x - 4.0,
            y - 12.0
        );
    }
    let dash = if na { " stroke-dasharray=\"7 4\"" } else { "" };
    let _ = writeln!(
        s,
        "<rect class=\"node\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"6\" \
         fill=\"{fill_hex}\" stroke=\"{border_hex}\" stroke-width=\"2\"{dash}/>"
    );
    if na {
        let _ = writeln!(
            s,
            "<rect class=\"na-hatch\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"6\" fill=\"url(#na-hatch)\"/>"
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"14\" font-weight=\"bold\" fill=\"{ink}\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{ink}\">parallelism {} · {}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"{ink}\">busy {} · backpressured {}</text>",
        x + 10.0,
        y + 21.0,
        crate::xml::escape(&shorten(&task.name, NAME_MAX_CHARS)),
        x + 10.0,
        y + 39.0,
        task.parallelism,
        level,
        x + 10.0,
        y + 58.0,
        percent(task.busy),
        percent(task.backpressured)
    );
    bars(s, task, x, y);
    s.push_str("</g>\n");
}

/// One bar per subtask: busy (red) from the bottom, backpressured (dark grey) above it, idle
/// (light blue) the rest; no data: an empty dashed bar. Skewed subtasks are outlined.
fn bars(s: &mut String, task: &TaskReport, x: f64, y: f64) {
    let (ax, ay, aw) = (x + 10.0, y + BARS_TOP, NODE_W - 20.0);
    let _ = writeln!(
        s,
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.85\"/>",
        ax - 3.0,
        ay - 3.0,
        aw + 6.0,
        BARS_H + 6.0
    );
    let n = task.subtasks.len().max(1) as f64;
    let slot = aw / n;
    let gap = if slot >= 4.0 {
        (slot * 0.2).min(6.0)
    } else {
        0.0
    };
    let bw = (slot - gap).max(0.5);
    for (k, st) in task.subtasks.iter().enumerate() {
        let bx = ax + k as f64 * slot + gap / 2.0;
        let tip = format!(
            "{}: busy {}, backpressured {}, idle {}{}",
            st.name,
            percent(st.busy),
            percent(st.backpressured),
            percent(st.idle),
            if st.skewed { " (skewed)" } else { "" }
        );
        let _ = write!(
            s,
            "<g class=\"subtask\" data-subtask=\"{}\"><title>{}</title>",
            crate::xml::escape(&st.name),
            crate::xml::escape(&tip)
        );
        match st.busy.filter(|b| !b.is_nan()) {
            Some(busy) => {
                let busy = clamp01(busy);
                let bp = clamp01(st.backpressured.unwrap_or(0.0)).min(1.0 - busy);
                let (hb, hp) = (busy * BARS_H, bp * BARS_H);
                let _ = write!(
                    s,
                    "<rect x=\"{bx:.2}\" y=\"{ay:.2}\" width=\"{bw:.2}\" height=\"{BARS_H}\" fill=\"#d6ebff\"/>\
                     <rect x=\"{bx:.2}\" y=\"{:.2}\" width=\"{bw:.2}\" height=\"{hp:.2}\" fill=\"#404040\"/>\
                     <rect x=\"{bx:.2}\" y=\"{:.2}\" width=\"{bw:.2}\" height=\"{hb:.2}\" fill=\"#ee2222\"/>",
                    ay + BARS_H - hb - hp,
                    ay + BARS_H - hb
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<rect x=\"{bx:.2}\" y=\"{ay:.2}\" width=\"{bw:.2}\" height=\"{BARS_H}\" fill=\"none\" \
                     stroke=\"#888888\" stroke-width=\"1\" stroke-dasharray=\"3 2\"/>"
                );
            }
        }
        if st.skewed {
            let _ = write!(
                s,
                "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"none\" stroke=\"{BOTTLENECK_OUTLINE}\" stroke-width=\"2\"/>",
                bx - 1.0,
                ay - 1.0,
                bw + 2.0,
                BARS_H + 2.0
            );
        }
        s.push_str("</g>\n");
    }
}

fn legend(s: &mut String, y: f64) {
    s.push_str("<g id=\"legend\" font-size=\"11\" fill=\"#333333\">\n");
    let mut x = MARGIN;
    let swatches = [
        ("idle", flink_colour(Some(0.0), 0.0), false),
        ("busy", flink_colour(Some(1.0), 0.0), false),
        ("backpressured", flink_colour(Some(1.0), 1.0), false),
        ("busy N/A", flink_colour(None, 0.0), true),
    ];
    for (label, (fill, border), na) in swatches {
        let dash = if na { " stroke-dasharray=\"4 2\"" } else { "" };
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"22\" height=\"14\" rx=\"3\" fill=\"{fill}\" stroke=\"{border}\" stroke-width=\"2\"{dash}/>"
        );
        if na {
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"22\" height=\"14\" rx=\"3\" fill=\"url(#na-hatch)\"/>"
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\">{label}</text>",
            x + 28.0,
            y + 11.0
        );
        x += 40.0 + label.len() as f64 * 6.5;
    }
    let _ = writeln!(
        s,
        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"22\" height=\"14\" rx=\"3\" fill=\"none\" stroke=\"{BOTTLENECK_OUTLINE}\" stroke-width=\"3\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\">bottleneck</text>",
        x + 28.0,
        y + 11.0
    );
    x += 110.0;
    let _ = writeln!(
        s,
        "<text x=\"{x:.1}\" y=\"{:.1}\">bars: one per subtask, busy (red) / backpressured (dark) / idle (light); edges: darker and thicker = upstream more backpressured</text>",
        y + 11.0
    );
    s.push_str("</g>\n");
}

/// Quotes `text` as a DOT string (`"..."`), escaping `"` and `\`; newlines become `\n`.
fn dot_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes the job graph of `report` as a Graphviz DOT digraph (`dot -Tsvg job.dot`): the same
/// colours, labels and bottleneck outline as [`render_job_svg`], laid out left to right by
/// Graphviz.
pub fn render_job_dot(report: &LocateReport, mut out: impl Write) -> io::Result<()> {
    let mut s = String::new();
    s.push_str("digraph job {\n");
    let _ = writeln!(s, "  label={};", dot_quote(&report.verdict));
    s.push_str("  labelloc=t;\n  rankdir=LR;\n  fontname=\"sans-serif\";\n");
    s.push_str(
        "  node [shape=box, style=\"rounded,filled\", fontname=\"sans-serif\", penwidth=2];\n",
    );
    s.push_str("  edge [fontname=\"sans-serif\", fontsize=10];\n");
    for task in &report.tasks {
        let na = task.busy.is_none_or(f64::is_nan);
        let (fill, border) = blend_colour(task.busy, task.backpressured.unwrap_or(0.0));
        let bottleneck = report.bottlenecks.iter().find(|b| b.task == task.name);
        let skewed: Vec<&str> = task
            .subtasks
            .iter()
            .filter(|st| st.skewed)
            .map(|st| st.name.as_str())
            .collect();
        let mut label = format!(
            "{}\nparallelism {} · {}\nbusy {} · backpressured {}",
            task.name,
            task.parallelism,
            task.level.map_or("level N/A", |l| l.as_str()),
            percent(task.busy),
            percent(task.backpressured)
        );
        if let Some(b) = bottleneck {
            let _ = write!(label, "\nbottleneck ({})", kind_name(b));
        }
        if !skewed.is_empty() {
            let _ = write!(label, "\nskewed: {}", skewed.join(", "));
        }
        let style = if na {
            ", style=\"rounded,filled,dashed\""
        } else {
            ""
        };
        let (colour, width) = match bottleneck {
            Some(_) => (BOTTLENECK_OUTLINE.to_owned(), 5),
            None => (hex(border), 2),
        };
        let _ = writeln!(
            s,
            "  {} [label={}, fillcolor=\"{}\", color=\"{colour}\", penwidth={width}, fontcolor=\"{}\"{style}];",
            dot_quote(&task.name),
            dot_quote(&label),
            hex(fill),
            text_colour(fill)
        );
    }
    let bp: HashMap<&str, Option<f64>> = report
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t.backpressured))
        .collect();
    for e in &report.edges {
        let sender_bp = bp.get(e.from.as_str()).copied().flatten();
        let (colour, w) = edge_style(sender_bp);
        let fill = match (e.avg_fill, e.capacity) {
            (Some(a), Some(c)) => format!("fill {a:.0}/{c}"),
            (None, Some(c)) => format!("fill -/{c}"),
            _ => "fill -".to_owned(),
        };
        let style = if sender_bp.is_none() {
            ", style=dashed"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "  {} -> {} [label={}, color=\"{colour}\", penwidth={w:.2}{style}];",
            dot_quote(&e.from),
            dot_quote(&e.to),
            dot_quote(&fill)
        );
    }
    s.push_str("}\n");
    out.write_all(s.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(busy: Option<f64>, bp: f64) -> String {
        flink_colour(busy, bp).0
    }

    #[test]
    fn colours_follow_flinks_blend() {
        // The corners of the blend: (busy, backpressured) and the (fill, border) they give.
        for (busy, bp, colours) in [
            (0.0, 0.0, ("#5db1ff", "#1890ff")),
            (1.0, 0.0, ("#ee6464", "#ee2222")),
            (1.0, 1.0, ("#888888", "#000000")),
            (0.0, 1.0, ("#888888", "#000000")),
        ] {
            assert_eq!(
                flink_colour(Some(busy), bp),
                (colours.0.to_owned(), colours.1.to_owned())
            );
        }
        // Midpoint of (93,177,255) and (238,100,100): (165.5,138.5,177.5), rounded half away.
        assert_eq!(fill(Some(0.5), 0.0), "#a68bb2");
        // Border midpoint of (24,144,255) and (238,34,34): (131,89,144.5).
        assert_eq!(flink_colour(Some(0.5), 0.0).1, "#835991");
        // N/A busy skips the red step.
        assert_eq!(fill(None, 0.0), "#5db1ff");
        assert_eq!(fill(Some(f64::NAN), 0.0), "#5db1ff");
        assert_eq!(fill(None, 1.0), "#888888");
        // Out-of-range ratios are clamped.
        assert_eq!(fill(Some(1.5), -1.0), "#ee6464");
    }

    #[test]
    fn dot_labels_are_quoted_and_long_names_shortened() {
        assert_eq!(dot_quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
    }

    #[test]
    fn edges_darken_and_thicken_with_backpressure() {
        assert_eq!(edge_style(Some(0.0)), ("#b4b4b4".to_owned(), EDGE_MIN_W));
        assert_eq!(edge_style(Some(1.0)), ("#000000".to_owned(), EDGE_MAX_W));
        assert_eq!(edge_style(None).0, "#b4b4b4");
    }
}
