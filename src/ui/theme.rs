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
