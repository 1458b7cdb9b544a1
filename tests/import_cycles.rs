//! No import cycle between the modules of a crate: for every crate in `crates/`, the modules
//! (one per file under `src/`) and the modules each one names in a `use crate::...`,
//! `use super::...` or `use self::...` (braces expanded, `pub use` included) or in a path written
//! in its code (`crate::range::select(...)`, `super::stats::median(...)`), each path resolved to
//! the longest module it starts with. A module's test code (`#[cfg(test)] mod tests`) and
//! comments do not count, and neither do a module's re-exports of its own submodules (`pub use
//! report::*` in `check/mod.rs`, and every `pub use` of `lib.rs`): the parent is the map of its
//! children, not a user of them. A crate with both `lib.rs` and `main.rs` (the CLI) is read as
//! one graph, both as its root.
//!
//! The renderers of a check report import none of one another (nor anything beyond the report,
//! its shared cells and the number formats).
//!
//! Every group of modules that reach each other (a strongly connected component of more than one
//! module) fails the test, with the edges that close it. Run with `--nocapture` to see the
//! cycles as they are found.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module path relative to its crate: `crate`, `check`, `check::human`.
type Module = String;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The module a source file under `src/` is: `lib.rs` and `main.rs` -> `crate`, `a/mod.rs` ->
/// `a`, `a/b.rs` -> `a::b`.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] || parts.is_empty() {
        return "crate".to_owned();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            // A binary's own modules (`src/bin/`) are crates of their own.
            if path.file_name().is_some_and(|n| n != "bin") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `source` without comments, string literals and its `#[cfg(test)]` items.
fn code(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let bytes: Vec<char> = source.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < bytes.len() && bytes[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < bytes.len() && !(bytes[i] == '*' && bytes[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            i += 1;
            while i < bytes.len() && bytes[i] != '"' {
                if bytes[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && bytes.get(i + 2) == Some(&'\'') {
            // A character literal such as '{' (not a lifetime).
            i += 3;
        } else if c == '\'' && next == Some('\\') {
            while i < bytes.len() && !(bytes[i] == '\'' && i > 0 && bytes[i - 1] != '\\') {
                i += 1;
            }
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    strip_test_items(&out)
}

/// Leaves out every item that follows a `#[cfg(test)]` attribute (up to its closing brace or
/// semicolon).
fn strip_test_items(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let mut depth = 0usize;
        let mut end = item.len();
        for (i, c) in item.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |e| format!("{prefix}{e}")))
        .collect()
}

/// The module `path` (`crate::a::b::Item`, `super::x`, `self::y`) names from `from`, the longest
/// known module it starts with.
fn resolve(path: &str, from: &Module, modules: &BTreeSet<Module>) -> Module {
    let mut segments: Vec<&str> = path.split("::").map(|s| s.trim()).collect();
    let mut base: Vec<String> = if from == "crate" {
        Vec::new()
    } else {
        from.split("::").map(str::to_owned).collect()
    };
    match segments.first().copied() {
        Some("crate") => {
            base.clear();
            segments.remove(0);
        }
        Some("self") => {
            segments.remove(0);
        }
        Some("super") => {
            while segments.first() == Some(&"super") {
                segments.remove(0);
                base.pop();
            }
        }
        _ => {}
    }
    let mut best = if base.is_empty() {
        "crate".to_owned()
    } else {
        base.join("::")
    };
    let mut current = base.clone();
    for segment in segments {
        let segment = segment.split(" as ").next().unwrap_or(segment);
        current.push(segment.to_owned());
        let name = current.join("::");
        if modules.contains(&name) {
            best = name;
        } else {
            break;
        }
    }
    best
}

/// The modules `from` uses, from its code.
fn edges(code: &str, from: &Module, modules: &BTreeSet<Module>) -> BTreeSet<Module> {
    let mut used = BTreeSet::new();
    // `use` declarations, braces expanded.
    let mut rest = code;
    while let Some(at) = find_use(rest) {
        let decl = &rest[at..];
        let end = decl.find(';').unwrap_or(decl.len());
        let keyword_end = decl.find("use ").unwrap() + 4;
        let tree = &decl[keyword_end..end];
        let reexport = decl.starts_with("pub");
        for path in expand(tree) {
            let first = path.split("::").next().unwrap_or("");
            let relative = matches!(first, "crate" | "super" | "self");
            // A bare `use child::X` in a module with children names a child.
            let child = !relative && modules.contains(&child_of(from, first));
            if !relative && !child {
                continue;
            }
            let path = if child { format!("self::{path}") } else { path };
            let to = resolve(&path, from, modules);
            // A parent's re-exports of its own descendants are its map, not a dependency.
            if reexport && descends(&to, from) {
                continue;
            }
            used.insert(to);
        }
        rest = &decl[end..];
    }
    // Paths written in the code.
    for start in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(start) {
            let before = rest[..at].chars().last();
            let tail = &rest[at..];
            let len = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            // `crate::{a, b}` is a `use` tree, read with its braces expanded above.
            let tree = tail[len..].starts_with('{');
            if !tree && !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                let path = tail[..len].trim_end_matches(':');
                used.insert(resolve(path, from, modules));
            }
            rest = &tail[len.max(1)..];
        }
    }
    used.remove(from);
    used
}

/// Whether `module` lies below `ancestor` (every module lies below `crate`).
fn descends(module: &Module, ancestor: &Module) -> bool {
    module != ancestor && (ancestor == "crate" || module.starts_with(&format!("{ancestor}::")))
}

fn child_of(module: &Module, name: &str) -> Module {
    if module == "crate" {
        name.to_owned()
    } else {
        format!("{module}::{name}")
    }
}

/// Where the next `use` or `pub use` / `pub(crate) use` declaration starts.
fn find_use(code: &str) -> Option<usize> {
    let mut offset = 0;
    for line in code.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let is_use = trimmed.starts_with("use ")
            || (trimmed.starts_with("pub") && {
                let after = trimmed.trim_start_matches("pub");
                let after = if after.starts_with('(') {
                    after.split_once(')').map_or("", |(_, a)| a)
                } else {
                    after
                };
                after.trim_start().starts_with("use ")
            });
        if is_use {
            return Some(offset + indent);
        }
        offset += line.len();
    }
    None
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<BTreeSet<Module>> {
    struct State<'g> {
        graph: &'g BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<BTreeSet<Module>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.insert(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// The module graph of the crate whose sources are in `src`.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(src, f)).collect();
    files
        .iter()
        .map(|file| {
            let from = module_of(src, file);
            let source = fs::read_to_string(file).unwrap();
            let used = edges(&code(&source), &from, &modules);
            (from, used)
        })
        .collect()
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let mut crates: Vec<PathBuf> = fs::read_dir(workspace().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    crates.sort();
    assert!(crates.len() >= 4, "{crates:?}");
    let mut failures = Vec::new();
    for dir in &crates {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let graph = graph(&dir.join("src"));
        assert!(graph.len() > 1, "no modules found in {}", dir.display());
        for cycle in cycles(&graph) {
            let text = format!(
                "{name}: {}",
                cycle.iter().cloned().collect::<Vec<_>>().join(", ")
            );
            println!("CYCLE {text}");
            let edges: Vec<String> = cycle
                .iter()
                .flat_map(|m| {
                    graph[m]
                        .iter()
                        .filter(|t| cycle.contains(*t))
                        .map(move |t| format!("  {m} -> {t}"))
                })
                .collect();
            failures.push(format!("{text}\n{}", edges.join("\n")));
        }
    }
    assert!(
        failures.is_empty(),
        "import cycles between modules:\n{}",
        failures.join("\n")
    );
}

/// The renderers of a check report, which read the report, `check::cells` and `units` only.
const CHECK_RENDERERS: [&str; 4] = [
    "check::human",
    "check::markdown",
    "check::junit",
    "check::github",
];

#[test]
fn check_renderers_import_no_other_renderer() {
    let graph = graph(&workspace().join("crates/bpprof-analysis/src"));
    for renderer in CHECK_RENDERERS {
        let used = &graph[renderer];
        let others: Vec<&String> = used
            .iter()
            .filter(|m| CHECK_RENDERERS.contains(&m.as_str()))
            .collect();
        assert!(others.is_empty(), "{renderer} imports {others:?}");
        for m in used {
            assert!(
                ["check::report", "check::cells", "units", "table"].contains(&m.as_str()),
                "{renderer} imports {m}: a renderer reads the report, the shared cells and the \
                 number formats only"
            );
        }
    }
}

#[test]
fn the_parser_finds_uses_paths_and_cycles() {
    let modules: BTreeSet<Module> = ["crate", "a", "a::b", "c"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let source =
        "use super::b::{X, y::Z};\n// use crate::c;\nfn f() { crate::c::go(\"crate::a\"); }\n\
                  #[cfg(test)]\nmod tests { use crate::a; }\n";
    let used = edges(&code(source), &"a::b".to_owned(), &modules);
    let used: Vec<&str> = used.iter().map(String::as_str).collect();
    assert_eq!(used, ["c"]);
    let used = edges(
        &code("pub use b::Item;\nuse crate::c::{self, D};\n"),
        &"a".to_owned(),
        &modules,
    );
    let used: Vec<&str> = used.iter().map(String::as_str).collect();
    assert_eq!(used, ["c"]);
    // The root's re-exports are the crate's map; a `use crate::{...}` tree names its items, not
    // the root.
    let used = edges(
        &code("pub use a::b::Item;\npub(crate) use c::go;\n"),
        &"crate".to_owned(),
        &modules,
    );
    assert!(used.is_empty(), "{used:?}");
    let used = edges(
        &code("use crate::{a, c::go};\n"),
        &"a::b".to_owned(),
        &modules,
    );
    let used: Vec<&str> = used.iter().map(String::as_str).collect();
    assert_eq!(used, ["a", "c"]);
    let used = edges(&code("use crate::{Root, c};\n"), &"a".to_owned(), &modules);
    let used: Vec<&str> = used.iter().map(String::as_str).collect();
    assert_eq!(used, ["c", "crate"]);

    let graph: BTreeMap<Module, BTreeSet<Module>> = [
        ("a", vec!["c"]),
        ("c", vec!["a::b"]),
        ("a::b", vec!["a"]),
        ("crate", vec!["a"]),
    ]
    .into_iter()
    .map(|(m, to)| (m.to_owned(), to.into_iter().map(str::to_owned).collect()))
    .collect();
    let found = cycles(&graph);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].iter().map(String::as_str).collect::<Vec<_>>(),
        ["a", "a::b", "c"]
    );
}
