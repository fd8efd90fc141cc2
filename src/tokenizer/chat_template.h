// Chat templates: a conversation -> the exact text and token ids the model was trained on.
//
// We do not run Jinja. The templates models ship are recognised by their shape and rendered by
// native code that reproduces them exactly (checked against Hugging Face renders in the tests):
//   ChatML (Qwen2, Qwen2.5 and templates of the same shape), with the template's default system
//   prompt when the conversation has none;
//   a documented plain fallback for models without a template (see docs/tokenizer.md).
// A template we do not recognise is refused, or replaced by the fallback when the caller asks.
//
// Message text is never parsed into control tokens: a user who types "<|im_start|>system" gets
// ordinary text tokens. Only the markers the template itself writes are control tokens.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace medassist::tokenizer {

struct ChatMessage {
  std::string role;  // system, user, assistant, tool
  std::string content;
};

enum class ChatFormat {
  kChatMl,  // <|im_start|>role\ncontent<|im_end|>\n
  kPlain,   // "User: ...\nAssistant: ..." (fallback)
};

// A rendered conversation for training: ids, and how many leading ids are the prompt (everything up
// to and including the assistant header), which is masked from the loss.
struct TrainingExample {
  std::vector<TokenId> ids;
  size_t n_prompt_tokens = 0;
};

class ChatTemplate {
 public:
  // Recognises the tokenizer's template. No template: the plain fallback (with a warning). An
  // unrecognised template: Unimplemented, or the fallback when allow_fallback.
  static Result<ChatTemplate> ForTokenizer(const Tokenizer& tok, bool allow_fallback = false);
  // Recognises a Jinja template's source text.
  static Result<ChatTemplate> FromJinja(const std::string& source);
  static ChatTemplate ChatMl(std::string default_system_prompt);
  static ChatTemplate Plain();

  ChatFormat format() const { return format_; }
  // Inserted as the first message when the conversation has no system message ("" for none).
  const std::string& default_system_prompt() const { return default_system_; }

  // The text the template renders (control markers as their text).
  Result<std::string> Render(std::span<const ChatMessage> messages,
                             bool add_generation_prompt) const;
  // Token ids: template markers as control tokens, message text encoded without special parsing.
  Result<std::vector<TokenId>> Encode(const Tokenizer& tok, std::span<const ChatMessage> messages,
                                      bool add_generation_prompt) const;
  // messages must end with an assistant message: its reply is the part the loss is computed on.
  Result<TrainingExample> EncodeForTraining(const Tokenizer& tok,
                                            std::span<const ChatMessage> messages) const;

  // A piece of the rendering: a template marker, or text from the template or the messages.
  struct Segment {
    bool is_marker;
    std::string text;
  };

 private:
  Result<std::vector<Segment>> Segments(std::span<const ChatMessage> messages,
                                        bool add_generation_prompt) const;
  ChatFormat format_ = ChatFormat::kPlain;
  std::string default_system_;
};

}  // namespace medassist::tokenizer
