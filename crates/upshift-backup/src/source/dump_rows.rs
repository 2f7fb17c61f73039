//! Row counts read from a `mariadb-dump`/`mysqldump` SQL dump as it
//! passes: every `CREATE TABLE \`t\`` names a table (0 rows), every
//! `INSERT INTO \`t\` VALUES (…),(…);` adds its tuples, whether on one
//! line or one tuple a line (MariaDB 10.11's `mariadb-dump`). Strings are
//! quoted `'…'` with `\` escapes, newlines in them written as `\n`
//! (<https://mariadb.com/kb/en/mariadb-dump/>), so the parentheses that
//! open at depth 0 outside strings are the rows, and a `;` there ends the
//! statement. Lines are not kept whole: only their first bytes, until
//! they are known to start an `INSERT` or not.

use std::io::Write;

use crate::meta::RowCounts;

/// The most of a line's start that is kept to tell what it is.
const HEAD_LIMIT: usize = 4096;

/// What the counter is doing on the current line.
enum Line {
    /// Collecting its start.
    Head(Vec<u8>),
    /// Inside the `VALUES` of an `INSERT` into `table`.
    Values {
        table: String,
        depth: u32,
        quoted: bool,
        escaped: bool,
    },
    /// Not a line that counts.
    Skip,
}

/// A writer passing everything to `inner` while counting rows.
pub(crate) struct DumpRows<W> {
    inner: W,
    line: Line,
    counts: RowCounts,
}

impl<W: Write> DumpRows<W> {
    pub(crate) fn new(inner: W) -> Self {
        DumpRows {
            inner,
            line: Line::Head(Vec::new()),
            counts: RowCounts::new(),
        }
    }

    /// The row count of every table the dump created.
    pub(crate) fn counts(mut self) -> RowCounts {
        self.end_line();
        self.counts
    }

    /// At a newline outside an `INSERT`'s values: what the line was.
    fn end_line(&mut self) {
        match std::mem::replace(&mut self.line, Line::Head(Vec::new())) {
            Line::Head(head) => {
                if let Some(t) = table_after(&head, b"CREATE TABLE `") {
                    self.counts.entry(t).or_insert(0);
                } else if let Some(table) = insert_table(&head, b" VALUES") {
                    self.values(table);
                }
            }
            values @ Line::Values { .. } => self.line = values,
            Line::Skip => {}
        }
    }

    /// The values of an `INSERT` into `table` follow.
    fn values(&mut self, table: String) {
        self.counts.entry(table.clone()).or_insert(0);
        self.line = Line::Values {
            table,
            depth: 0,
            quoted: false,
            escaped: false,
        };
    }

    fn byte(&mut self, b: u8) {
        if b == b'\n' && !matches!(self.line, Line::Values { .. }) {
            return self.end_line();
        }
        match &mut self.line {
            Line::Head(head) => {
                head.push(b);
                if let Some(table) = insert_table(head, b" VALUES ") {
                    self.values(table);
                } else if head.len() >= HEAD_LIMIT {
                    self.line = Line::Skip;
                }
            }
            Line::Values {
                table,
                depth,
                quoted,
                escaped,
            } => {
                if *escaped {
                    *escaped = false;
                } else if *quoted {
                    match b {
                        b'\\' => *escaped = true,
                        b'\'' => *quoted = false,
                        _ => {}
                    }
                } else {
                    match b {
                        b'\'' => *quoted = true,
                        b'(' => {
                            if *depth == 0 {
                                *self.counts.entry(table.clone()).or_insert(0) += 1;
                            }
                            *depth += 1;
                        }
                        b')' => *depth = depth.saturating_sub(1),
                        b';' if *depth == 0 => self.line = Line::Skip,
                        _ => {}
                    }
                }
            }
            Line::Skip => {}
        }
    }
}

/// The table of a line start `INSERT INTO \`t\` VALUES` (or with a
/// column list) ending in `end`.
fn insert_table(head: &[u8], end: &[u8]) -> Option<String> {
    if !head.ends_with(end) {
        return None;
    }
    table_after(head, b"INSERT INTO `")
}

/// The backquoted name right after `prefix` (a doubled backquote is one).
fn table_after(line: &[u8], prefix: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(prefix)?;
    let mut name = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        match (rest[i], rest.get(i + 1)) {
            (b'`', Some(b'`')) => {
                name.push(b'`');
                i += 2;
            }
            (b'`', _) => return Some(String::from_utf8_lossy(&name).into_owned()),
            (b, _) => {
                name.push(b);
                i += 1;
            }
        }
    }
    None
}

impl<W: Write> Write for DumpRows<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        for &b in &buf[..n] {
            self.byte(b);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(dump: &str) -> RowCounts {
        let mut w = DumpRows::new(Vec::new());
        // Written in small pieces, as a stream arrives.
        for piece in dump.as_bytes().chunks(7) {
            w.write_all(piece).unwrap();
        }
        w.counts()
    }

    #[test]
    fn rows_are_counted_per_table_through_strings_and_escapes() {
        let dump = "-- MariaDB dump\n\
            CREATE TABLE `items` (\n  `id` int(11) NOT NULL\n) ENGINE=InnoDB;\n\
            INSERT INTO `items` VALUES (1,'a (b)'),(2,'it\\'s), (x'),(3,0x2829,NULL);\n\
            INSERT INTO `items` VALUES (4,'\\\\'),(5,'');\n\
            CREATE TABLE `empty` (\n  `x` int\n);\n\
            CREATE TABLE `odd``name` (\n  `x` int\n);\n\
            INSERT INTO `odd``name` (`x`) VALUES (7);\n\
            INSERT INTO `empty2` VALUES\n(1,'x;y'),\n(2,'(');\n\
            CREATE TABLE `empty2` (\n  `x` int\n);\n\
            /*!50001 CREATE VIEW `v` AS SELECT 1 AS `x` */;\n";
        let counts = count(dump);
        let want: RowCounts = [("items", 5), ("empty", 0), ("odd`name", 1), ("empty2", 2)]
            .into_iter()
            .map(|(t, n)| (t.to_string(), n))
            .collect();
        assert_eq!(counts, want);
    }
}
