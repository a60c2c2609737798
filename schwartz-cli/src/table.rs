//! Aligned text tables that fit 100 columns.

/// The widest line a table prints.
pub const WIDTH: usize = 100;

/// A column: its header, whether numbers align right, and whether it may be cut to fit.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    /// The header.
    pub name: &'static str,
    /// Right-aligned (numbers).
    pub right: bool,
    /// May be shortened (with `~` at the cut) when the table is too wide.
    pub shrink: bool,
}

/// A left-aligned column that keeps its width.
pub const fn left(name: &'static str) -> Col {
    Col {
        name,
        right: false,
        shrink: false,
    }
}

/// A right-aligned column (numbers).
pub const fn num(name: &'static str) -> Col {
    Col {
        name,
        right: true,
        shrink: false,
    }
}

/// A left-aligned column that is cut first when the table is too wide.
pub const fn text(name: &'static str) -> Col {
    Col {
        name,
        right: false,
        shrink: true,
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn cut(s: &str, w: usize) -> String {
    if width(s) <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(w - 1).collect();
    out.push('~');
    out
}

/// Control characters would break the layout: shown as spaces in table cells.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Renders rows under the headers, two spaces between columns, at most [`WIDTH`] columns
/// wide (shrinkable columns are cut, the widest first, down to their header's width).
pub fn render(cols: &[Col], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let mut w: Vec<usize> = cols.iter().map(|c| width(c.name)).collect();
    for r in &rows {
        for (i, cell) in r.iter().enumerate().take(cols.len()) {
            w[i] = w[i].max(width(cell));
        }
    }
    let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
    while total(&w) > WIDTH {
        let widest = (0..cols.len())
            .filter(|&i| cols[i].shrink && w[i] > width(cols[i].name).max(4))
            .max_by_key(|&i| w[i]);
        match widest {
            Some(i) => w[i] -= 1,
            None => break,
        }
    }
    let mut out = String::new();
    let header: Vec<String> = cols.iter().map(|c| c.name.to_string()).collect();
    for r in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (i, col) in cols.iter().enumerate() {
            let cell = cut(r.get(i).map_or("", String::as_str), w[i]);
            let pad = w[i] - width(&cell);
            let last = i + 1 == cols.len();
            if i > 0 {
                line.push_str("  ");
            }
            if col.right {
                line.push_str(&" ".repeat(pad));
                line.push_str(&cell);
            } else {
                line.push_str(&cell);
                if !last {
                    line.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_and_fits() {
        let cols = [left("NAME"), num("N"), text("NOTE")];
        let rows = vec![
            vec!["a".to_string(), "5".to_string(), "x".repeat(200)],
            vec![
                "long name".to_string(),
                "1234".to_string(),
                "tab\there".to_string(),
            ],
        ];
        let out = render(&cols, &rows);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "NAME          N  NOTE");
        assert!(lines[1].starts_with("a             5  xxx"));
        assert!(lines[1].ends_with('~'));
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH));
        assert_eq!(lines[2], "long name  1234  tab here");
    }
}
