//! The JUnit XML report of `eddy test --junit FILE`, as CI systems read it: one `testcase` per
//! folder, a `failure` whose message is the differences, an `error` whose message is the error.
//! No timings (a report is the same every run).

use std::fmt::Write as _;
use std::path::PathBuf;

use super::test_cmd::Outcome;

/// The report of the folders' outcomes, in the order run.
pub fn report(outcomes: &[(PathBuf, Outcome)]) -> String {
    let failures = outcomes.iter().filter(|(_, o)| matches!(o, Outcome::Compared(v) if !v.passed())).count();
    let errors = outcomes.iter().filter(|(_, o)| matches!(o, Outcome::Error(_))).count();
    let counts = format!("tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\"", outcomes.len());
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(xml, "<testsuites name=\"eddy test\" {counts}>");
    let _ = writeln!(xml, "  <testsuite name=\"eddy test\" {counts}>");
    for (folder, outcome) in outcomes {
        let name = escape(&folder.display().to_string());
        let case = format!("    <testcase classname=\"eddy.test\" name=\"{name}\"");
        match outcome {
            Outcome::Compared(verdict) if verdict.passed() => {
                let _ = writeln!(xml, "{case}/>");
            }
            Outcome::Compared(verdict) => {
                let text = escape(&verdict.to_string());
                let _ = writeln!(
                    xml,
                    "{case}>\n      <failure message=\"{text}\">{text}</failure>\n    </testcase>"
                );
            }
            Outcome::Error(error) => {
                let text = escape(&error.to_string());
                let _ =
                    writeln!(xml, "{case}>\n      <error message=\"{text}\">{text}</error>\n    </testcase>");
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// Text made safe in an XML attribute or element: markup escaped, line breaks and tabs as
/// character references (kept in attributes), other control characters (which XML 1.0 cannot
/// carry) as U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(escape("a<b>&\"c'\n\t\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;&#10;&#9;\u{FFFD}");
    }
}
