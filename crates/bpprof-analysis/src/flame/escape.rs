//! Frame names made safe for the folded format ([`escape_frame`]).

use std::borrow::Cow;

use super::UNKNOWN_FRAME;

/// Makes a frame name safe for the folded format, so that it stays exactly one frame:
///
/// * `;` becomes `;` (U+037E GREEK QUESTION MARK), which looks the same in the graph;
/// * control characters (newline, carriage return, tab, ...) become spaces; leading and trailing
///   whitespace is removed;
/// * when the last space-separated word is a number (which inferno would read as a sample count),
///   or the name starts with `# ` (which inferno would read as a comment), that space becomes a
///   no-break space (U+00A0);
/// * an empty name becomes [`UNKNOWN_FRAME`].
///
/// ```
/// use bpprof_analysis::flame::escape_frame;
/// assert_eq!(escape_frame("<[u8; 8] as Debug>::fmt"), "<[u8\u{37e} 8] as Debug>::fmt");
/// assert_eq!(escape_frame("main"), "main");
/// ```
pub fn escape_frame(name: &str) -> Cow<'_, str> {
    let clean = |c: char| c != ';' && !c.is_control();
    let trimmed = name.trim();
    let numeric_tail = trimmed.rsplit_once(' ').is_some_and(|(_, tail)| {
        !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit() || c == '.')
    });
    if !trimmed.is_empty()
        && trimmed.len() == name.len()
        && name.chars().all(clean)
        && !numeric_tail
        && !name.starts_with("# ")
    {
        return Cow::Borrowed(name);
    }
    let mut out: String = name
        .chars()
        .map(|c| match c {
            ';' => '\u{37e}',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect::<String>()
        .trim()
        .to_owned();
    if out.is_empty() {
        return Cow::Borrowed(UNKNOWN_FRAME);
    }
    if let Some((head, tail)) = out.rsplit_once(' ') {
        if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit() || c == '.') {
            out = format!("{head}\u{a0}{tail}");
        }
    }
    if let Some(rest) = out.strip_prefix("# ") {
        out = format!("#\u{a0}{rest}");
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_one_frame_per_name() {
        assert_eq!(escape_frame("a;b"), "a\u{37e}b");
        assert_eq!(escape_frame("line\nbreak\r\tx"), "line break  x");
        assert_eq!(escape_frame("  "), UNKNOWN_FRAME);
        assert_eq!(escape_frame("worker 12"), "worker\u{a0}12");
        assert_eq!(escape_frame("# note"), "#\u{a0}note");
        assert!(matches!(escape_frame("ok::fine"), Cow::Borrowed(_)));
    }
}
