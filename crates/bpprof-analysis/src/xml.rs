//! Escaping text for XML documents (the JUnit report, the job-graph SVG).

/// `s` escaped for XML 1.0 text and attribute values: `& < > " '` as entities, tab, line feed
/// and carriage return as character references (so attribute values keep them), and the
/// characters XML 1.0 does not allow (other control characters, U+FFFE, U+FFFF) left out.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_only_xml_characters() {
        assert_eq!(
            escape("a<b>&\"c'\u{1}\u{1b}\td\u{FFFF}"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#9;d"
        );
        assert_eq!(escape("x\ny\r"), "x&#10;y&#13;");
        assert_eq!(escape("é→😀"), "é→😀");
    }
}
