//! The live page in a real headless Chromium (Debian's package, installed by
//! `.ci/deps.d/30-chromium.sh`): loaded from the endpoint of a running pipeline, its script draws
//! the verdict, the job graph with the slow task outlined in Flink's busy colour, the back-pressure
//! table and the timeline, and shows the flame graph of the subtask named in the address (what a
//! click on a subtask bar sets); then, driven through chromedriver, a real click on the slow
//! subtask's bar shows its flame graph. Without Chromium the test fails under `CI=true` and says
//! loudly that it skipped otherwise.

// The WebDriver client of `bpprof serve`'s browser test: one client for both pages.
#[path = "../../bpprof-cli/tests/browser/mod.rs"]
mod browser;
mod live_common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use live_common::{get, Live};

/// `chromium` on the PATH.
fn find_chromium() -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|dir| Path::new(dir).join("chromium"))
        .find(|p| p.is_file())
}

/// The DOM of `url` after its script ran for a few seconds of (virtual) time.
fn dump_dom(chromium: &Path, url: &str, profile: &Path) -> String {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .args(["--virtual-time-budget=8000", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait for chromium").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 2 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("chromium output");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The text between `start` and the next `<` after it.
fn text_after<'a>(dom: &'a str, start: &str) -> Option<&'a str> {
    let from = dom.find(start)? + start.len();
    dom[from..].split('<').next()
}

#[test]
fn the_live_page_shows_the_bottleneck_in_a_real_browser() {
    let Some(chromium) = find_chromium() else {
        let message =
            "chromium is not installed (apt-get install chromium, or .ci/deps.d/30-chromium.sh)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}: CI=true requires the live page's browser test to run");
        }
        // Straight to stderr, past the test harness's capture, so that the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!! SKIPPED the_live_page_shows_the_bottleneck_in_a_real_browser: {message} !!!!!\n"
        );
        return;
    };
    let _one_recorder = live_common::exclusive();
    let live = Live::start(49, Duration::from_secs(3));
    let addr = live.addr();

    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    // Self-contained and small: nothing fetched from another origin.
    let html = page.text();
    assert!(html.len() < 16 << 10, "{} bytes", html.len());
    assert!(!html.contains("http://") && !html.contains("https://"));

    let profile = tempfile::tempdir().unwrap();
    let dom = dump_dom(
        &chromium,
        &format!("http://{addr}/#subtask=Slow%230"),
        profile.path(),
    );

    // The verdict the script fetched, above the graph.
    let verdict = text_after(&dom, "<h1 id=\"verdict\">").unwrap_or_default();
    assert!(
        verdict.starts_with("Slow is the bottleneck"),
        "{verdict}\n{dom}"
    );

    // The job graph: the slow task outlined and coloured busy (red, Flink's blend), its
    // neighbours not.
    let node = |task: &str| {
        let from = dom
            .find(&format!("data-task=\"{task}\""))
            .unwrap_or_else(|| panic!("no node {task} in\n{dom}"));
        let rest = &dom[from..];
        let end = rest[1..].find("data-task=").map_or(rest.len(), |e| e + 1);
        &rest[..end]
    };
    let fill = |task: &str| {
        let hex = text_after(node(task), "data-fill=\"#")
            .unwrap()
            .get(..6)
            .unwrap();
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
        (channel(0), channel(2), channel(4))
    };
    assert!(
        node("Slow").contains("bottleneck-outline"),
        "{}",
        node("Slow")
    );
    assert!(!node("Source").contains("bottleneck-outline"));
    let (r, g, b) = fill("Slow");
    assert!(
        r > 200 && g < 120 && b < 120,
        "Slow is drawn busy: #{r:02x}{g:02x}{b:02x}"
    );
    let (sr, _, sb) = fill("Source");
    assert!(
        sb > sr - 30,
        "Source is drawn backpressured or idle, not busy: {:?}",
        fill("Source")
    );

    // The back-pressure tab opens on the bottleneck's subtasks.
    assert!(dom.contains("<tr data-subtask=\"Slow#0\">"), "{dom}");

    // The timeline strip: one row per task, the slow one marked bottleneck.
    let row =
        text_after(&dom, "class=\"row\" data-task=\"Slow\" data-cells=\"").unwrap_or_default();
    assert!(row.contains('*'), "{row}\n{dom}");
    assert!(dom.contains("class=\"row\" data-task=\"Source\""));
    assert!(dom.contains("class=\"c c-bottleneck\""));

    // The flame graph of the subtask in the address, in a frame, from this endpoint.
    assert!(
        dom.contains("src=\"/api/v1/flame?format=svg&amp;seconds=30&amp;subtask=Slow%230\""),
        "{dom}"
    );
    let flame = get(addr, "/api/v1/flame?format=svg&seconds=30&subtask=Slow%230");
    assert_eq!(flame.status, 200, "{}", flame.text());
    assert!(flame.text().contains("spin_cpu"));

    // A real click on the slow subtask's bar, in a browser driven through chromedriver, shows its
    // flame graph in the frame (the SVG the endpoint drew, with the slow function in it).
    let browser = browser::Browser::start(
        "the_live_page_shows_the_bottleneck_in_a_real_browser (click)",
        1200,
        1200,
    )
    .expect("chromedriver, installed with chromium by .ci/deps.d/30-chromium.sh");
    browser.open(&format!("http://{addr}/"));
    browser.wait_for(
        "the live page drew the job graph",
        Duration::from_secs(120),
        "return document.querySelector(\"#graph g.subtask[data-subtask='Slow#0']\") !== null",
    );
    browser.click("#graph g.subtask[data-subtask='Slow#0']");
    let shown = browser.wait_for(
        "the flame graph of Slow#0 after the click",
        Duration::from_secs(120),
        "const f = document.querySelector('#flame iframe'); const d = f && f.contentDocument; return d && d.documentElement && d.documentElement.outerHTML.includes('spin_cpu') ? [f.getAttribute('src'), location.hash] : null",
    );
    assert_eq!(
        shown[0], "/api/v1/flame?format=svg&seconds=30&subtask=Slow%230",
        "{shown}"
    );
    assert_eq!(shown[1], "#subtask=Slow%230");
    if let Ok(dir) = std::env::var("BPPROF_SCREENSHOT_DIR") {
        std::fs::write(Path::new(&dir).join("live.png"), browser.screenshot()).unwrap();
    }
    drop(browser);

    live.stop();
}
