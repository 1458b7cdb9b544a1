//! The job-graph pictures (`bpprof_analysis::picture`) of synthetic recordings: node colours,
//! names, the bottleneck outline, subtask bars, well-formed XML and DOT edges.

use bpprof_analysis::picture::{flink_colour, render_job_dot, render_job_svg};
use bpprof_analysis::synth::{Load, Synth};
use bpprof_analysis::{locate, AnalysisOptions, LocateReport};

/// Source -> Parse -> Enrich(3) -> Sink with Enrich the bottleneck, plus an unaccounted side task
/// `Side <&> "quoted"` fed by Parse, to exercise N/A and escaping.
fn report() -> LocateReport {
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let parse = synth.subtask("Parse", 0, 1);
    let enrich: Vec<u32> = (0..3).map(|i| synth.subtask("Enrich", i, 3)).collect();
    let sink = synth.subtask("Sink", 0, 1);
    synth.task("Side <&> \"quoted\"", 1, true);
    let side = synth.subtask("Side <&> \"quoted\"", 0, 1);
    synth.channel("raw", 100, &[source], &[parse]);
    synth.channel("parsed", 100, &[parse], &enrich);
    synth.channel("enriched", 100, &enrich, &[sink]);
    synth.channel("side", 10, &[parse], &[side]);
    for _ in 0..6 {
        synth.interval(&[
            (source, Load::new(0.2, 0.7)),
            (parse, Load::new(0.1, 0.88)),
            (enrich[0], Load::new(0.95, 0.0)),
            (enrich[1], Load::new(0.97, 0.0)),
            (enrich[2], Load::new(0.6, 0.0)),
            (sink, Load::new(0.3, 0.0)),
            (side, Load::new(0.5, 0.0)),
        ]);
    }
    locate(&synth.recording(), &AnalysisOptions::default()).unwrap()
}

fn draw(report: &LocateReport) -> String {
    let mut out = Vec::new();
    render_job_svg(report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// A minimal well-formedness check: every start tag is closed by the matching end tag, in
/// order, and exactly one root element; attribute values are quoted; no raw `<` or stray `&` in
/// text.
fn assert_well_formed(doc: &str) {
    let mut rest = doc;
    if let Some(after) = rest.strip_prefix("<?xml") {
        let end = after.find("?>").expect("closed XML declaration");
        rest = &after[end + 2..];
    }
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    while let Some(lt) = rest.find('<') {
        check_text(&rest[..lt]);
        let tag_end = rest[lt..].find('>').expect("closed tag") + lt;
        let tag = &rest[lt + 1..tag_end];
        assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(open, name.trim(), "mismatched end tag");
        } else {
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body.split_whitespace().next().expect("tag name").to_owned();
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'),
                "odd tag name {name}"
            );
            check_attributes(&body[name.len()..]);
            if stack.is_empty() {
                roots += 1;
            }
            if !self_closing {
                stack.push(name);
            }
        }
        rest = &rest[tag_end + 1..];
    }
    check_text(rest);
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_eq!(roots, 1, "exactly one root element");
}

fn check_attributes(mut attrs: &str) {
    loop {
        attrs = attrs.trim_start();
        if attrs.is_empty() {
            return;
        }
        let eq = attrs
            .find('=')
            .unwrap_or_else(|| panic!("attribute without value: {attrs}"));
        let rest = &attrs[eq + 1..];
        assert!(rest.starts_with('"'), "unquoted attribute: {attrs}");
        let close = rest[1..].find('"').expect("closed attribute value") + 1;
        check_text(&rest[1..close]);
        attrs = &rest[close + 1..];
    }
}

fn check_text(text: &str) {
    assert!(!text.contains('<'), "raw '<' in {text}");
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..];
        let end = entity.find(';').expect("terminated entity");
        let name = &entity[1..end];
        assert!(
            ["amp", "lt", "gt", "quot", "apos"].contains(&name) || name.starts_with('#'),
            "unknown entity &{name};"
        );
    }
}

#[test]
fn svg_shows_every_task_bar_and_the_bottleneck() {
    let report = report();
    assert_eq!(report.bottlenecks[0].task, "Enrich");
    let svg = draw(&report);
    assert_well_formed(&svg);
    assert!(svg.starts_with("<?xml"));
    assert!(!svg.contains("<script"), "no scripts");
    assert!(!svg.contains("href"), "nothing external");
    for task in ["Source", "Parse", "Enrich", "Sink"] {
        assert!(svg.contains(&format!(">{task}</text>")), "{task} drawn");
        assert!(svg.contains(&format!("data-task=\"{task}\"")));
    }
    // Escaped name of the unaccounted task, drawn as N/A.
    assert!(svg.contains("Side &lt;&amp;&gt; &quot;quoted&quot;"));
    assert!(svg.contains("class=\"task na\""));
    assert!(svg.contains("busy N/A"));
    // Exactly one bottleneck outline, drawn in the Enrich node.
    assert_eq!(svg.matches("class=\"bottleneck-outline\"").count(), 1);
    let enrich = &svg[svg.find("data-task=\"Enrich\"").unwrap()..];
    let enrich = &enrich[..enrich.find("data-task=\"Sink\"").unwrap()];
    assert!(enrich.contains("bottleneck-outline"));
    // One bar per subtask, with a hover title.
    let subtasks: usize = report.tasks.iter().map(|t| t.subtasks.len()).sum();
    assert_eq!(svg.matches("class=\"subtask\"").count(), subtasks);
    for i in 0..3 {
        assert!(svg.contains(&format!(
            "data-subtask=\"Enrich#{i}\"><title>Enrich#{i}: busy"
        )));
    }
    // One title per node and per edge.
    assert_eq!(
        svg.matches("<g class=\"task").count(),
        report.tasks.len(),
        "one group per task"
    );
    assert_eq!(svg.matches("class=\"edge\"").count(), report.edges.len());
}

/// The `data-fill` of a task's node, and the fill of its `node` rectangle.
fn node_fills(svg: &str, task: &str) -> (String, String) {
    let start = svg.find(&format!("data-task=\"{task}\"")).unwrap();
    let group = &svg[start..];
    let data = group["data-task=\"\" data-fill=\"".len() + task.len()..][..7].to_owned();
    let rect = &group[group.find("class=\"node\"").unwrap()..];
    let fill = &rect[rect.find(" fill=\"").unwrap() + 7..][..7];
    (data, fill.to_owned())
}

#[test]
fn node_fills_follow_flinks_blend() {
    let report = report();
    let svg = draw(&report);
    for task in report.tasks.iter().filter(|t| !t.name.starts_with("Side")) {
        let expected = flink_colour(task.busy, task.backpressured.unwrap_or(0.0)).0;
        assert_eq!(node_fills(&svg, &task.name), (expected.clone(), expected));
    }

    // Known ratios end up as known fills: a recording with exact loads.
    let mut synth = Synth::new();
    let idle = synth.subtask("Idle", 0, 1);
    let half = synth.subtask("Half", 0, 1);
    let busy = synth.subtask("Busy", 0, 1);
    let blocked = synth.subtask("Blocked", 0, 1);
    synth.channel("a", 10, &[blocked], &[busy]);
    synth.channel("b", 10, &[busy], &[half]);
    synth.channel("c", 10, &[half], &[idle]);
    synth.task("Unknown", 1, true);
    for _ in 0..3 {
        synth.interval(&[
            (blocked, Load::new(0.0, 1.0)),
            (busy, Load::new(1.0, 0.0)),
            (half, Load::new(0.5, 0.0)),
            (idle, Load::new(0.0, 0.0)),
        ]);
    }
    let report = locate(&synth.recording(), &AnalysisOptions::default()).unwrap();
    let svg = draw(&report);
    assert_well_formed(&svg);
    assert_eq!(
        node_fills(&svg, "Idle"),
        ("#5db1ff".into(), "#5db1ff".into())
    );
    assert_eq!(
        node_fills(&svg, "Busy"),
        ("#ee6464".into(), "#ee6464".into())
    );
    assert_eq!(
        node_fills(&svg, "Half"),
        ("#a68bb2".into(), "#a68bb2".into())
    );
    assert_eq!(node_fills(&svg, "Blocked").1, "#888888");
    // Unknown: no data, N/A busy skips the red step, drawn hatched and dashed.
    assert_eq!(node_fills(&svg, "Unknown").1, "#5db1ff");
    let unknown = &svg[svg.find("data-task=\"Unknown\"").unwrap()..];
    assert!(unknown[..unknown.find("</g>").unwrap()].contains("url(#na-hatch)"));
}

#[test]
fn dot_has_every_edge_and_node() {
    let report = report();
    let mut out = Vec::new();
    render_job_dot(&report, &mut out).unwrap();
    let dot = String::from_utf8(out).unwrap();
    assert!(dot.starts_with("digraph job {"), "{dot}");
    assert!(dot.trim_end().ends_with('}'));
    assert!(dot.contains("rankdir=LR"));
    for e in &report.edges {
        let line = format!(
            "  \"{}\" -> \"{}\" [",
            e.from.replace('"', "\\\""),
            e.to.replace('"', "\\\"")
        );
        assert!(dot.contains(&line), "{line} in {dot}");
    }
    assert_eq!(dot.matches(" -> ").count(), report.edges.len());
    for t in &report.tasks {
        let (fill, _) = flink_colour(t.busy, t.backpressured.unwrap_or(0.0));
        let name = t.name.replace('"', "\\\"");
        let line = dot
            .lines()
            .find(|l| l.starts_with(&format!("  \"{name}\" [")))
            .unwrap();
        assert!(line.contains(&format!("fillcolor=\"{fill}\"")), "{line}");
    }
    assert!(dot.contains("bottleneck (cpu)"));
}

#[test]
fn one_analysed_interval_is_said_in_the_singular_in_the_title() {
    // A recording of one interval.
    let mut synth = Synth::new();
    let source = synth.subtask("Source", 0, 1);
    let sink = synth.subtask("Sink", 0, 1);
    synth.channel("raw", 100, &[source], &[sink]);
    synth.interval(&[(source, Load::new(0.2, 0.7)), (sink, Load::new(0.9, 0.0))]);
    let report = locate(&synth.recording(), &AnalysisOptions::default()).unwrap();
    assert_eq!(report.recording.intervals, 1, "{:?}", report.recording);
    let svg = draw(&report);
    assert!(svg.contains("(1 interval)</text>"), "{svg}");
    assert!(!svg.contains("(1 intervals)"), "{svg}");
}
