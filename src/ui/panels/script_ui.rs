//! The Rhai script editor: syntax colouring, line numbers, and the compile error shown at its
//! line.

use eframe::egui::{self, Color32, FontId, TextFormat, text::LayoutJob};

use crate::ui::theme::{self, SyntaxColors};

/// A compile problem to show in the editor: 1-based line and column, and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptProblem {
    /// Line in the script (1-based), when known.
    pub line: Option<usize>,
    /// Column in the script (1-based), when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

const KEYWORDS: [&str; 24] = [
    "fn", "let", "const", "if", "else", "while", "loop", "for", "in", "return", "break", "continue", "this",
    "switch", "do", "until", "throw", "try", "catch", "private", "global", "import", "export", "as",
];

/// The script editor. Returns whether the text changed.
pub fn script_editor_ui(
    ui: &mut egui::Ui,
    id: egui::Id,
    label: egui::Id,
    text: &mut String,
    problem: Option<&ScriptProblem>,
) -> bool {
    let colors = theme::syntax(ui.visuals());
    let font = FontId::monospace(13.0);
    let lines = text.lines().count().max(1) + usize::from(text.ends_with('\n'));
    let error_line = problem.and_then(|p| p.line);
    let mut changed = false;
    ui.horizontal_top(|ui| {
        let mut numbers = LayoutJob::default();
        for n in 1..=lines {
            let color = if Some(n) == error_line {
                theme::error(ui.visuals())
            } else {
                theme::weak_text(ui.visuals())
            };
            let text = if n == lines { format!("{n:>3}") } else { format!("{n:>3}\n") };
            numbers.append(&text, 0.0, TextFormat::simple(font.clone(), color));
        }
        // The same top margin as the text edit's, so the numbers line up with the lines.
        ui.add_space(2.0);
        ui.vertical(|ui| {
            ui.add_space(2.0);
            ui.label(numbers);
        });
        let font_for_layout = font.clone();
        let line_background = theme::error(ui.visuals()).gamma_multiply(0.25);
        // No wrapping: one text line per line number; long lines scroll sideways.
        let mut layouter = move |ui: &egui::Ui, buffer: &dyn egui::TextBuffer, _wrap_width: f32| {
            let mut job = highlight(buffer.as_str(), &font_for_layout, colors);
            if let Some(line) = error_line {
                mark_line(&mut job, buffer.as_str(), line, line_background);
            }
            job.wrap.max_width = f32::INFINITY;
            ui.fonts_mut(|f| f.layout_job(job))
        };
        let width = ui.available_width();
        let response = egui::ScrollArea::horizontal()
            .id_salt(id.with("scroll"))
            .show(ui, |ui| {
                ui.add(
                    egui::TextEdit::multiline(text)
                        .id(id)
                        .code_editor()
                        .desired_rows(8)
                        .desired_width(width)
                        .lock_focus(true)
                        .layouter(&mut layouter),
                )
                .labelled_by(label)
            })
            .inner;
        changed = response.changed();
    });
    if let Some(problem) = problem {
        let place = match (problem.line, problem.column) {
            (Some(line), Some(column)) => format!("line {line}, column {column}: "),
            (Some(line), None) => format!("line {line}: "),
            _ => String::new(),
        };
        ui.colored_label(theme::error(ui.visuals()), format!("⚠ {place}{}", problem.message));
    }
    changed
}

/// Puts `background` behind the text of `line` (1-based): the line an error names. Sections
/// that run across the line's ends (merged runs of plain text) are split there first.
fn mark_line(job: &mut LayoutJob, text: &str, line: usize, background: Color32) {
    let Some(start) = line_start(text, line) else { return };
    let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
    let mut sections = Vec::with_capacity(job.sections.len() + 2);
    for section in std::mem::take(&mut job.sections) {
        let (a, b) = (section.byte_range.start.0, section.byte_range.end.0);
        let mut cuts = vec![a];
        cuts.extend([start, end].into_iter().filter(|&c| a < c && c < b));
        cuts.push(b);
        for (i, pair) in cuts.windows(2).enumerate() {
            let mut piece = section.clone();
            piece.byte_range = pair[0].into()..pair[1].into();
            if i > 0 {
                piece.leading_space = 0.0;
            }
            if pair[0] >= start && pair[1] <= end && pair[0] < pair[1] {
                piece.format.background = background;
            }
            sections.push(piece);
        }
    }
    job.sections = sections;
}

/// Where the 1-based `line` of `text` starts, if it has that many.
fn line_start(text: &str, line: usize) -> Option<usize> {
    if line <= 1 {
        return (line == 1).then_some(0);
    }
    text.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)
}

/// Colours Rhai source: comments, strings, numbers, keywords, function names.
pub fn highlight(text: &str, font: &FontId, colors: SyntaxColors) -> LayoutJob {
    let mut job = LayoutJob::default();
    let bytes = text.as_bytes();
    let mut i = 0;
    let push = |job: &mut LayoutJob, piece: &str, color: Color32| {
        job.append(piece, 0.0, TextFormat::simple(font.clone(), color));
    };
    while i < bytes.len() {
        let rest = &text[i..];
        let (len, color) = if rest.starts_with("//") {
            (rest.find('\n').unwrap_or(rest.len()), colors.comment)
        } else if let Some(body) = rest.strip_prefix("/*") {
            (body.find("*/").map_or(rest.len(), |end| end + 4), colors.comment)
        } else if rest.starts_with('"') || rest.starts_with('`') || rest.starts_with('\'') {
            (string_len(rest), colors.string)
        } else if rest.starts_with(|c: char| c.is_ascii_digit()) {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .unwrap_or(rest.len());
            (len, colors.literal)
        } else if rest.starts_with(|c: char| c.is_alphabetic() || c == '_') {
            let len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
            let word = &rest[..len];
            let color = if KEYWORDS.contains(&word) {
                colors.keyword
            } else if matches!(word, "true" | "false" | "RETAIN" | "DISCARD") {
                colors.literal
            } else if rest[len..].trim_start().starts_with('(') {
                colors.function
            } else {
                colors.plain
            };
            (len, color)
        } else {
            let len = rest.chars().next().map_or(1, char::len_utf8);
            (len, colors.plain)
        };
        let len = len.max(1).min(rest.len());
        push(&mut job, &rest[..len], color);
        i += len;
    }
    job
}

/// The length of the string literal `text` starts with (to its closing quote, or the line end
/// when it is not closed yet).
fn string_len(text: &str) -> usize {
    let quote = text.chars().next().unwrap_or('"');
    let mut escaped = false;
    for (index, c) in text.char_indices().skip(1) {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return index + c.len_utf8();
        } else if c == '\n' && quote != '`' {
            return index;
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlighting_keeps_every_character_and_colours_the_parts() {
        let colors = theme::syntax(&egui::Visuals::dark());
        let text = "// count\nfn mapper(s, v) { let n = s + 1; [n, \"a\\\"b\"] } /* x */ é";
        let job = highlight(text, &FontId::monospace(12.0), colors);
        assert_eq!(job.text, text);
        let color_of = |piece: &str| {
            let start = text.find(piece).unwrap();
            job.sections
                .iter()
                .find(|s| s.byte_range.start == egui::text::ByteIndex(start))
                .map(|s| s.format.color)
        };
        assert_eq!(color_of("// count"), Some(colors.comment));
        assert_eq!(color_of("fn "), Some(colors.keyword));
        assert_eq!(color_of("mapper"), Some(colors.function));
        assert_eq!(color_of("1;"), Some(colors.literal));
        assert_eq!(color_of("\"a"), Some(colors.string));
        assert_eq!(color_of("/* x */"), Some(colors.comment));
    }

    #[test]
    fn the_marked_line_and_only_it_gets_the_background() {
        let colors = theme::syntax(&egui::Visuals::dark());
        let text = "fn f(a) {\n    a += 1;\n    a\n}";
        let mut job = highlight(text, &FontId::monospace(12.0), colors);
        mark_line(&mut job, text, 2, Color32::RED);
        let marked: String = job
            .sections
            .iter()
            .filter(|s| s.format.background == Color32::RED)
            .map(|s| &text[s.byte_range.start.0..s.byte_range.end.0])
            .collect();
        assert_eq!(marked, "    a += 1;");
        let whole: String =
            job.sections.iter().map(|s| &text[s.byte_range.start.0..s.byte_range.end.0]).collect();
        assert_eq!(whole, text);
        assert_eq!(line_start(text, 1), Some(0));
        assert_eq!(line_start(text, 5), None);
    }
}
