#include "tokenizer/chat_template.h"

#include <regex>

#include "core/log.h"

namespace medassist::tokenizer {
namespace {

constexpr const char* kImStart = "<|im_start|>";
constexpr const char* kImEnd = "<|im_end|>";

bool Contains(const std::string& s, const char* needle) {
  return s.find(needle) != std::string::npos;
}

// Undoes the escapes of a Jinja string literal ("\n", "\'", "\\").
std::string UnescapeJinjaLiteral(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

Status CheckRole(const ChatMessage& m, size_t index) {
  if (m.role == "system" || m.role == "user" || m.role == "assistant" || m.role == "tool") {
    return Status::Ok();
  }
  return InvalidArgument("message " + std::to_string(index) + " has role '" + m.role +
                         "' (expected system, user, assistant or tool)");
}

using Segment = ChatTemplate::Segment;

void AddText(std::vector<Segment>& out, const std::string& text) {
  if (text.empty()) return;
  if (!out.empty() && !out.back().is_marker) {
    out.back().text += text;
  } else {
    out.push_back({false, text});
  }
}

// ChatML as Qwen2.5's template writes it (without tools): a system turn first (the default one if
// the conversation has none), then each turn; consecutive tool results share one user turn.
std::vector<Segment> ChatMlSegments(std::span<const ChatMessage> messages,
                                    const std::string& default_system, bool add_generation_prompt) {
  std::vector<Segment> out;
  auto turn = [&](const std::string& role, const std::string& content) {
    out.push_back({true, kImStart});
    AddText(out, role + "\n" + content);
    out.push_back({true, kImEnd});
    AddText(out, "\n");
  };
  bool first_is_system = !messages.empty() && messages[0].role == "system";
  if (first_is_system) {
    turn("system", messages[0].content);
  } else if (!default_system.empty()) {
    turn("system", default_system);
  }
  for (size_t i = first_is_system ? 1 : 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role != "tool") {
      turn(m.role, m.content);
      continue;
    }
    if (i == 0 || messages[i - 1].role != "tool") {
      out.push_back({true, kImStart});
      AddText(out, "user");
    }
    AddText(out, "\n<tool_response>\n" + m.content + "\n</tool_response>");
    if (i + 1 == messages.size() || messages[i + 1].role != "tool") {
      out.push_back({true, kImEnd});
      AddText(out, "\n");
    }
  }
  if (add_generation_prompt) {
    out.push_back({true, kImStart});
    AddText(out, "assistant\n");
  }
  return out;
}

// The plain fallback: an optional system text, then "User: ..." / "Assistant: ..." lines.
std::vector<Segment> PlainSegments(std::span<const ChatMessage> messages,
                                   bool add_generation_prompt) {
  std::string text;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      text += m.content + "\n\n";
    } else if (m.role == "assistant") {
      text += "Assistant: " + m.content + "\n";
    } else if (m.role == "tool") {
      text += "Tool: " + m.content + "\n";
    } else {
      text += "User: " + m.content + "\n";
    }
  }
  if (add_generation_prompt) text += "Assistant:";
  std::vector<Segment> out;
  AddText(out, text);
  return out;
}

}  // namespace

ChatTemplate ChatTemplate::ChatMl(std::string default_system_prompt) {
  ChatTemplate t;
  t.format_ = ChatFormat::kChatMl;
  t.default_system_ = std::move(default_system_prompt);
  return t;
}

ChatTemplate ChatTemplate::Plain() { return ChatTemplate(); }

Result<ChatTemplate> ChatTemplate::FromJinja(const std::string& source) {
  // ChatML: turns written as '<|im_start|>' + role + '\n' + content + '<|im_end|>'. Templates that
  // add reasoning blocks (<think>) render differently and are not claimed.
  bool chatml = Contains(source, kImStart) && Contains(source, kImEnd) &&
                (Contains(source, "'<|im_start|>' + message.role + '\\n'") ||
                 Contains(source, "'<|im_start|>' + message['role'] + '\\n'")) &&
                !Contains(source, "<think>");
  if (!chatml) {
    return Unimplemented(
        "chat template not recognised (supported: ChatML as in Qwen2/Qwen2.5); "
        "ask for the plain fallback to use this model anyway");
  }
  // The default system prompt is the literal the template writes when there is no system message.
  static const std::regex kDefaultSystem(R"('<\|im_start\|>system\\n([^'"]*)<\|im_end\|>\\n')");
  std::smatch match;
  std::string default_system;
  if (std::regex_search(source, match, kDefaultSystem)) {
    default_system = UnescapeJinjaLiteral(match[1].str());
  }
  return ChatMl(std::move(default_system));
}

Result<ChatTemplate> ChatTemplate::ForTokenizer(const Tokenizer& tok, bool allow_fallback) {
  if (tok.chat_template().empty()) {
    spdlog::warn("{}: no chat template; using the plain 'User: ...\\nAssistant:' fallback",
                 tok.source());
    return Plain();
  }
  Result<ChatTemplate> t = FromJinja(tok.chat_template());
  if (t.ok() || !allow_fallback) {
    if (!t.ok()) return t.status().WithContext(tok.source());
    if (t->format() == ChatFormat::kChatMl &&
        (!tok.FindToken(kImStart) || !tok.FindToken(kImEnd))) {
      return DataLoss(tok.source() + ": ChatML template but no <|im_start|>/<|im_end|> tokens");
    }
    return t;
  }
  spdlog::warn("{}: {}; using the plain fallback as asked", tok.source(), t.status().message());
  return Plain();
}

Result<std::vector<Segment>> ChatTemplate::Segments(std::span<const ChatMessage> messages,
                                                    bool add_generation_prompt) const {
  for (size_t i = 0; i < messages.size(); ++i) RETURN_IF_ERROR(CheckRole(messages[i], i));
  if (format_ == ChatFormat::kChatMl) {
    return ChatMlSegments(messages, default_system_, add_generation_prompt);
  }
  return PlainSegments(messages, add_generation_prompt);
}

Result<std::string> ChatTemplate::Render(std::span<const ChatMessage> messages,
                                         bool add_generation_prompt) const {
  ASSIGN_OR_RETURN(std::vector<Segment> segments, Segments(messages, add_generation_prompt));
  std::string out;
  for (const Segment& s : segments) out += s.text;
  return out;
}

Result<std::vector<TokenId>> ChatTemplate::Encode(const Tokenizer& tok,
                                                  std::span<const ChatMessage> messages,
                                                  bool add_generation_prompt) const {
  ASSIGN_OR_RETURN(std::vector<Segment> segments, Segments(messages, add_generation_prompt));
  std::vector<TokenId> ids;
  if (format_ == ChatFormat::kPlain && tok.add_bos() && tok.bos_id()) ids.push_back(*tok.bos_id());
  for (const Segment& s : segments) {
    if (!s.is_marker) {
      tok.EncodeAppend(s.text, {.parse_special = false}, ids);
      continue;
    }
    std::optional<TokenId> id = tok.FindToken(s.text);
    if (!id) return DataLoss(tok.source() + ": template marker " + s.text + " is not a token");
    ids.push_back(*id);
  }
  return ids;
}

Result<TrainingExample> ChatTemplate::EncodeForTraining(
    const Tokenizer& tok, std::span<const ChatMessage> messages) const {
  if (messages.empty() || messages.back().role != "assistant") {
    return InvalidArgument("a training conversation must end with an assistant message");
  }
  ASSIGN_OR_RETURN(std::vector<TokenId> prompt,
                   Encode(tok, messages.first(messages.size() - 1), true));
  ASSIGN_OR_RETURN(std::vector<TokenId> full, Encode(tok, messages, false));
  if (full.size() <= prompt.size() || !std::equal(prompt.begin(), prompt.end(), full.begin())) {
    // Tokens can merge across the prompt/reply boundary in the plain format; say so plainly.
    return InvalidArgument("the prompt's tokens are not a prefix of the conversation's tokens");
  }
  return TrainingExample{std::move(full), prompt.size()};
}

}  // namespace medassist::tokenizer
