//! The aligned text tables of the human outputs (`bpprof locate` and `bpprof check`): one line
//! per row, each cell preceded by two spaces, columns as wide as their widest cell or header
//! (counted in characters, so `ΔSELF` or `µs` take one column per character).

use std::io::{self, Write};

/// Which side of its column a cell sticks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    /// Padded on the right: names, words.
    Left,
    /// Padded on the left: numbers.
    Right,
}

/// Writes a header line of the column names, then `rows`; a row shorter than `columns` gets
/// empty cells. Trailing spaces are trimmed.
pub(crate) fn table(
    w: &mut dyn Write,
    columns: &[(&str, Align)],
    rows: Vec<Vec<String>>,
) -> io::Result<()> {
    let width = |i: usize| {
        rows.iter()
            .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
            .chain([columns[i].0.chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns.len()).map(width).collect();
    let header: Vec<String> = columns.iter().map(|c| c.0.to_owned()).collect();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (i, (_, align)) in columns.iter().enumerate() {
            let cell = row.get(i).map_or("", String::as_str);
            let pad = widths[i].saturating_sub(cell.chars().count());
            line.push_str("  ");
            match align {
                Align::Left => {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
                Align::Right => {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                }
            }
        }
        writeln!(w, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Writes one section of a human output: a blank line, the `title` line, then the [`table`] of
/// `rows` under `columns`.
pub(crate) fn titled_table(
    w: &mut dyn Write,
    title: &str,
    columns: &[(&str, Align)],
    rows: Vec<Vec<String>>,
) -> io::Result<()> {
    writeln!(w)?;
    writeln!(w, "{title}")?;
    table(w, columns, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_characters() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["a".to_owned(), "1".to_owned()],
            vec!["bcd".to_owned(), "23".to_owned()],
        ];
        table(&mut out, &[("ΔX", Align::Left), ("ΔN", Align::Right)], rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  ΔX   ΔN\n  a     1\n  bcd  23\n"
        );
    }
}
