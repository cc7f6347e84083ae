//! Chat templates: the Jinja template a model ships (GGUF
//! `tokenizer.chat_template`, HF `tokenizer_config.json`) rendered as
//! transformers' `apply_chat_template` does (trim_blocks, lstrip_blocks).

use serde::Serialize;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// A template that failed to parse or render.
#[derive(Debug, thiserror::Error)]
#[error("chat template: {0}")]
pub struct ChatTemplateError(String);

/// Renders `messages` with `template`; `add_generation_prompt` opens an
/// assistant turn.
pub fn render(
    template: &str,
    messages: &[Message],
    add_generation_prompt: bool,
    bos_token: &str,
    eos_token: &str,
) -> Result<String, ChatTemplateError> {
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_template("chat", template)
        .map_err(|e| ChatTemplateError(e.to_string()))?;
    let t = env
        .get_template("chat")
        .map_err(|e| ChatTemplateError(e.to_string()))?;
    t.render(minijinja::context! {
        messages => messages,
        add_generation_prompt => add_generation_prompt,
        bos_token => bos_token,
        eos_token => eos_token,
    })
    .map_err(|e| ChatTemplateError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_chatml_template_with_generation_prompt() {
        let t = "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n'}}{% endfor %}\
                 {% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
        let m = [Message {
            role: "user".into(),
            content: "Hi".into(),
        }];
        let out = render(t, &m, true, "", "").unwrap();
        assert_eq!(
            out,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        assert!(render("{% for %}", &m, true, "", "").is_err());
    }
}
