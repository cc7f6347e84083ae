//! A prompt as a chat model sees it: an HH-RLHF transcript keeps its turns
//! ([`chat_messages`]), rendered with the policy's own chat template
//! (`add_generation_prompt`, tokenized without adding special tokens again,
//! as transformers' `apply_chat_template` does), else the project's
//! transcript template with the tokenizer's special tokens; and the ids that
//! end a response. One definition for the PPO rollouts (`train.ppo`) and the
//! evaluation generations (`eval.generate`), so a policy is evaluated on
//! prompts formatted as it was trained on.

use burn::tensor::backend::Backend;

use super::chat::{Message, render};
use super::load::llama::LoadedLlama;
use crate::data::hh_rlhf::{ASSISTANT, HUMAN};
use crate::data::template::conversation;

/// End-of-turn markers of common chat templates.
const END_OF_TURN: [&str; 4] = ["<|im_end|>", "<|eot_id|>", "<|end|>", "</s>"];

/// The chat turns of a prompt: an HH-RLHF transcript (`\n\nHuman: …
/// \n\nAssistant: … \n\nHuman: … \n\nAssistant:`) becomes alternating
/// `user` / `assistant` messages ending with the last human turn; any other
/// prompt is one `user` message.
pub fn chat_messages(prompt: &str) -> Vec<Message> {
    let t = prompt.trim();
    let one = || {
        vec![Message {
            role: "user".into(),
            content: t.to_string(),
        }]
    };
    let (human, assistant) = (HUMAN.trim_start(), ASSISTANT.trim_start());
    if !(t.starts_with(human) && t.ends_with(assistant)) {
        return one();
    }
    let s = format!("\n\n{}", &t[..t.len() - assistant.len()]);
    let mut turns = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let (role, len) = if s[i..].starts_with(HUMAN) {
            ("user", HUMAN.len())
        } else if s[i..].starts_with(ASSISTANT) {
            ("assistant", ASSISTANT.len())
        } else {
            break;
        };
        let start = i + len;
        let next = [s[start..].find(HUMAN), s[start..].find(ASSISTANT)]
            .into_iter()
            .flatten()
            .min()
            .map_or(s.len(), |k| start + k);
        turns.push(Message {
            role: role.into(),
            content: s[start..next].trim().to_string(),
        });
        i = next;
    }
    if turns.last().is_some_and(|m| m.role == "user") {
        turns
    } else {
        one()
    }
}

/// Token ids of the templated `prompt` for `policy`.
///
/// # Errors
/// A chat template that fails to render, or a tokenizer error.
pub fn prompt_ids<B: Backend>(policy: &LoadedLlama<B>, prompt: &str) -> anyhow::Result<Vec<u32>> {
    let (text, add_special) = match &policy.chat_template {
        Some(t) => {
            let tok = |id: Option<u32>| {
                id.and_then(|i| policy.tokenizer.id_to_token(i))
                    // default: a model without that special token renders it as empty text, as an unset `bos_token` does in transformers.
                    .unwrap_or_default()
            };
            let msg = chat_messages(prompt);
            let text = render(
                t,
                &msg,
                true,
                &tok(policy.specials.bos),
                &tok(policy.specials.eos),
            )?;
            (text, false)
        }
        None => (conversation(prompt), true),
    };
    let enc = policy
        .tokenizer
        .encode(text.as_str(), add_special)
        .map_err(|e| anyhow::anyhow!("{}: tokenizing a prompt: {e}", policy.path.display()))?;
    Ok(enc.get_ids().to_vec())
}

/// The ids that end a response for `policy`.
pub fn stop_ids<B: Backend>(policy: &LoadedLlama<B>) -> Vec<u32> {
    let mut eos: Vec<u32> = policy.specials.eos.into_iter().collect();
    if let Some(t) = &policy.chat_template {
        for marker in END_OF_TURN {
            if t.contains(marker)
                && let Some(id) = policy.tokenizer.token_to_id(marker)
                && !eos.contains(&id)
            {
                eos.push(id);
            }
        }
    }
    eos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hh_transcripts_become_chat_turns() {
        let m = chat_messages(
            "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: How are you?\n\nAssistant:",
        );
        let roles: Vec<&str> = m.iter().map(|x| x.role.as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert_eq!(m[1].content, "Hello!");
        assert_eq!(m[2].content, "How are you?");
        let plain = chat_messages("What is 2 + 2?");
        assert_eq!(
            (plain.len(), plain[0].content.as_str()),
            (1, "What is 2 + 2?")
        );
        // Not a whole transcript (no closing Assistant:): one user turn, as is.
        assert_eq!(chat_messages("Human: hi").len(), 1);
    }
}
