//! The fast path for simple script functions, checked against Rhai itself: whenever the fast
//! path answers, Rhai gives the same value; whenever Rhai fails, the fast path defers to it.

mod common;
mod differential;
mod pairs;
mod random_programs;
mod readers;
