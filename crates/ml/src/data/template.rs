//! The one transcript template every source is rendered with before tokenizing,
//! so a category cannot be read off the format of its source.
//!
//! `Human: <prompt>\n\nAssistant: <response>`. An HH-RLHF prompt is already a
//! conversation (`\n\nHuman: … \n\nAssistant:`, history included); it is used
//! as is, without its leading blank line. Any other prompt becomes a single
//! human turn.

use super::hh_rlhf::{ASSISTANT, HUMAN};

/// The conversation part: everything up to and including `Assistant:`.
pub fn conversation(prompt: &str) -> String {
    let t = prompt.trim();
    let human = HUMAN.trim_start();
    let assistant = ASSISTANT.trim_start();
    if t.starts_with(human) && t.ends_with(assistant) {
        t.to_string()
    } else {
        format!("{human} {t}{ASSISTANT}")
    }
}

/// The full transcript and the byte offset where the response starts.
pub fn render(prompt: &str, response: &str) -> (String, usize) {
    let mut text = conversation(prompt);
    text.push(' ');
    let start = text.len();
    text.push_str(response.trim());
    (text, start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hh_and_plain_prompts_render_the_same_way() {
        let (hh, s) = render("\n\nHuman: Hi there\n\nAssistant:", " Hello.");
        let (plain, s2) = render("Hi there", "Hello.");
        assert_eq!(hh, "Human: Hi there\n\nAssistant: Hello.");
        assert_eq!(hh, plain);
        assert_eq!((s, &hh[s..]), (s2, "Hello."));
        let (multi, _) = render(
            "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant:",
            "d",
        );
        assert_eq!(
            multi,
            "Human: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d"
        );
    }
}
