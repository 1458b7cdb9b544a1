//! Escaping text for the XML of the job-graph SVG (the JUnit report is written by quick-junit).

/// `s` escaped for XML 1.0 text and attribute values: `& < > " '` as entities (by quick-xml),
/// tab, line feed and carriage return as character references (so attribute values keep them),
/// and the characters XML 1.0 does not allow (other control characters, U+FFFE, U+FFFF) left out.
pub fn escape(s: &str) -> String {
    let allowed: String = s
        .chars()
        .filter(|&c| {
            !(((c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
                || c == '\u{FFFE}'
                || c == '\u{FFFF}')
        })
        .collect();
    quick_xml::escape::escape(allowed.as_str())
        .replace('\t', "&#9;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
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
