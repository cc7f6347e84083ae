//! The paper report (`report.paper`): tables as Markdown, LaTeX and CSV,
//! figures as PNG and SVG, a self-contained HTML page, and the comparison
//! with the paper's own numbers.

pub mod adversary_study;
pub mod experiments;
pub mod figures;
pub mod html;
pub mod html_split;
pub mod inputs;
pub mod io;
pub mod paper;
pub mod paper_values;
pub mod policies;
pub mod ppo_study;
pub mod reproduction;
pub mod reward_gain;
pub mod table;
pub mod tables;
