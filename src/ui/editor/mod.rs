//! The node-graph editor: node payload, document ⇄ canvas conversion, the canvas behaviour,
//! the palette and the operators' templates.

pub mod convert;
pub mod node;
pub mod palette;
pub mod templates;
pub mod viewer;
