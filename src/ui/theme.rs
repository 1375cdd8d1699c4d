//! Design tokens: every colour the workbench draws with lives here, in a dark and a light
//! variant, so the two themes stay consistent.

use eframe::egui::{Color32, Visuals};

use crate::graph::OpFamily;

/// What a node is, for its accent colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeTone {
    /// A source.
    Source,
    /// An operator of a family.
    Op(OpFamily),
    /// A sink.
    Sink,
}

/// The accent colour of a node's header and pins.
pub fn node_accent(tone: NodeTone, visuals: &Visuals) -> Color32 {
    let dark = visuals.dark_mode;
    let (d, l) = match tone {
        NodeTone::Source => ((0x4c, 0xa3, 0xdd), (0x1f, 0x6f, 0xb2)),
        NodeTone::Sink => ((0x8e, 0x9a, 0xaf), (0x5a, 0x66, 0x78)),
        NodeTone::Op(OpFamily::Stateless) => ((0x5f, 0xb8, 0x7a), (0x2e, 0x86, 0x4b)),
        NodeTone::Op(OpFamily::BasicStateful) => ((0xe0, 0x9f, 0x3e), (0xb0, 0x6a, 0x00)),
        NodeTone::Op(OpFamily::FiniteAggregation) => ((0xc7, 0x7d, 0xd6), (0x8e, 0x44, 0x9e)),
        NodeTone::Op(OpFamily::Collection) => ((0xd6, 0xc4, 0x5c), (0x8a, 0x7a, 0x10)),
        NodeTone::Op(OpFamily::Correlation) => ((0xe0, 0x6c, 0x75), (0xb0, 0x3a, 0x44)),
        NodeTone::Op(OpFamily::LowLevel) => ((0x56, 0xb6, 0xc2), (0x1d, 0x80, 0x8c)),
    };
    let (r, g, b) = if dark { d } else { l };
    Color32::from_rgb(r, g, b)
}

/// Problems: the node marker, problem rows, refused wires, compile errors.
pub fn error(visuals: &Visuals) -> Color32 {
    if visuals.dark_mode { Color32::from_rgb(0xff, 0x6b, 0x6b) } else { Color32::from_rgb(0xc0, 0x1c, 0x28) }
}

/// The outline of the node shown in the inspector.
pub fn selection(visuals: &Visuals) -> Color32 {
    if visuals.dark_mode { Color32::from_rgb(0xff, 0xd8, 0x66) } else { Color32::from_rgb(0xd9, 0x8e, 0x04) }
}

/// Quiet text: summaries, line numbers, hints.
pub fn weak_text(visuals: &Visuals) -> Color32 {
    visuals.weak_text_color()
}

/// Syntax colours of the script editor.
#[derive(Debug, Clone, Copy)]
pub struct SyntaxColors {
    /// `fn`, `let`, `if`, …
    pub keyword: Color32,
    /// String and character literals.
    pub string: Color32,
    /// Numbers and `true`/`false`/`()`.
    pub literal: Color32,
    /// Comments.
    pub comment: Color32,
    /// A name followed by `(`.
    pub function: Color32,
    /// Everything else.
    pub plain: Color32,
}

/// The script editor's colours for the current theme.
pub fn syntax(visuals: &Visuals) -> SyntaxColors {
    if visuals.dark_mode {
        SyntaxColors {
            keyword: Color32::from_rgb(0xc6, 0x78, 0xdd),
            string: Color32::from_rgb(0x98, 0xc3, 0x79),
            literal: Color32::from_rgb(0xd1, 0x9a, 0x66),
            comment: Color32::from_rgb(0x7f, 0x84, 0x8e),
            function: Color32::from_rgb(0x61, 0xaf, 0xef),
            plain: Color32::from_rgb(0xdc, 0xdf, 0xe4),
        }
    } else {
        SyntaxColors {
            keyword: Color32::from_rgb(0xa6, 0x26, 0xa4),
            string: Color32::from_rgb(0x50, 0xa1, 0x4f),
            literal: Color32::from_rgb(0x98, 0x68, 0x01),
            comment: Color32::from_rgb(0x8a, 0x8f, 0x98),
            function: Color32::from_rgb(0x40, 0x78, 0xf2),
            plain: Color32::from_rgb(0x38, 0x3a, 0x42),
        }
    }
}

/// The fonts the workbench draws with: egui's own, then a subset of DejaVu Sans
/// (`assets/fonts/`) for the symbols they lack (arrows, `≥`, `⚠`, …), so that no text shows
/// a missing-glyph box.
pub fn fonts() -> eframe::egui::FontDefinitions {
    use eframe::egui::{FontData, FontDefinitions, FontFamily};
    let mut fonts = FontDefinitions::default();
    fonts.font_data.insert(
        SYMBOLS_FONT.to_owned(),
        std::sync::Arc::new(FontData::from_static(include_bytes!(
            "../../assets/fonts/DejaVuSans-symbols.ttf"
        ))),
    );
    for family in [FontFamily::Proportional, FontFamily::Monospace] {
        fonts.families.entry(family).or_default().push(SYMBOLS_FONT.to_owned());
    }
    fonts
}

/// The name the symbols font is registered under.
const SYMBOLS_FONT: &str = "eddy-symbols";

#[cfg(test)]
mod tests {
    use eframe::egui::{self, FontFamily, FontId};

    /// Every character outside ASCII that the code's text can show (comments left out).
    fn shown_characters() -> std::collections::BTreeSet<char> {
        fn walk(dir: &std::path::Path, out: &mut std::collections::BTreeSet<char>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    for line in std::fs::read_to_string(&path).unwrap().lines() {
                        let code = line.trim_start();
                        if code.starts_with("//") {
                            continue;
                        }
                        out.extend(code.chars().filter(|c| !c.is_ascii()));
                    }
                }
            }
        }
        let mut chars = std::collections::BTreeSet::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut chars);
        chars
    }

    #[test]
    fn every_character_the_workbench_shows_has_a_glyph() {
        let ctx = egui::Context::default();
        ctx.set_fonts(super::fonts());
        // Fonts set now are used from the next pass on.
        for _ in 0..2 {
            ctx.run_ui(egui::RawInput::default(), |_| {}).textures_delta.clear();
        }
        // `has_glyph` is unreliable (a character drawn by the face that also draws the
        // replacement box counts as missing), so compare what is drawn: a missing character is
        // drawn as the box a private-use character gets.
        let drawn = |c: char, font: &FontId| {
            let galley = ctx
                .fonts_mut(|fonts| fonts.layout_no_wrap(c.to_string(), font.clone(), egui::Color32::WHITE));
            galley.rows.first().and_then(|row| row.glyphs.first()).map(|glyph| glyph.uv_rect)
        };
        let mut missing = Vec::new();
        for family in [FontFamily::Proportional, FontFamily::Monospace] {
            let font = FontId::new(14.0, family.clone());
            let the_box = drawn('\u{E000}', &font);
            for c in shown_characters() {
                if drawn(c, &font) == the_box {
                    missing.push(format!("{family:?} {c} U+{:04X}", c as u32));
                }
            }
        }
        assert!(missing.is_empty(), "no glyph for:\n{}", missing.join("\n"));
    }
}
