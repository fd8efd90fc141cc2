#include "assistant/safety_rules.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "formats/json_util.h"

namespace medassist::assistant {
namespace {

using nlohmann::json;

constexpr int kRulesVersion = 1;
const std::set<std::string, std::less<>> kTopLevelKeys = {
    "version",  "description", "extends", "macros",      "normalize", "negation",
    "personal", "suppressors", "signals", "disclaimers", "categories"};

// Names the file and the entry in every error: "red_flags.json: signal \"x\": ...".
class Errors {
 public:
  explicit Errors(std::string_view source) : source_(source) {}
  Status At(std::string_view where, std::string_view message) const {
    return InvalidArgument(source_ + ": " + std::string(where) + ": " + std::string(message));
  }

 private:
  std::string source_;
};

Result<std::string> StringField(const json& obj, std::string_view key, std::string_view where,
                                const Errors& errors, bool required) {
  auto it = obj.find(key);
  std::string quoted = std::string(1, '"').append(key).append(1, '"');
  if (it == obj.end()) {
    if (required) return errors.At(where, quoted.append(" is missing"));
    return std::string();
  }
  if (!it->is_string()) return errors.At(where, quoted.append(" must be a string"));
  return it->get<std::string>();
}

// "{{NAME}}" -> macros[NAME]; an unknown name is an error.
Result<std::string> ExpandMacros(std::string_view pattern,
                                 const std::map<std::string, std::string, std::less<>>& macros,
                                 std::string_view where, const Errors& errors) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t open = pattern.find("{{", pos);
    if (open == std::string_view::npos) break;
    size_t close = pattern.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    std::string_view name = pattern.substr(open + 2, close - open - 2);
    auto it = macros.find(name);
    if (it == macros.end()) {
      return errors.At(where,
                       "unknown macro {{" + std::string(name) + "}} (define it under \"macros\")");
    }
    out.append(pattern.substr(pos, open - pos)).append(it->second);
    pos = close + 2;
  }
  out.append(pattern.substr(pos));
  return out;
}

class Compiler {
 public:
  Compiler(const json& root, std::string_view source) : root_(root), errors_(source) {}

  Result<SafetyRules> Compile() {
    RETURN_IF_ERROR(ReadMacros());
    RETURN_IF_ERROR(CompileNormalize());
    RETURN_IF_ERROR(CompileNegation());
    ASSIGN_OR_RETURN(std::string personal,
                     StringField(root_, "personal", "top level", errors_, true));
    ASSIGN_OR_RETURN(rules_.personal, Regex(personal, "\"personal\""));
    RETURN_IF_ERROR(CompileSuppressors());
    RETURN_IF_ERROR(CompileSignals());
    RETURN_IF_ERROR(CompileDisclaimers());
    RETURN_IF_ERROR(CompileCategories());
    RETURN_IF_ERROR(CheckSuppressorCategories());
    return std::move(rules_);
  }

 private:
  Result<SafetyRegex> Regex(std::string_view pattern, std::string_view where) const {
    if (pattern.empty()) return errors_.At(where, "the pattern is empty");
    ASSIGN_OR_RETURN(std::string expanded, ExpandMacros(pattern, macros_, where, errors_));
    Result<SafetyRegex> regex = SafetyRegex::Compile(expanded);
    if (!regex.ok()) return errors_.At(where, regex.status().message());
    return regex;
  }

  Status ReadMacros() {
    auto it = root_.find("macros");
    if (it == root_.end()) return Status::Ok();
    if (!it->is_object()) return errors_.At("\"macros\"", "must be an object of strings");
    for (const auto& [name, value] : it->items()) {
      if (!value.is_string()) return errors_.At("macro \"" + name + "\"", "must be a string");
      macros_[name] = value.get<std::string>();
    }
    return Status::Ok();
  }

  Status CompileNormalize() {
    auto it = root_.find("normalize");
    if (it == root_.end()) return Status::Ok();
    if (!it->is_array()) return errors_.At("\"normalize\"", "must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& step = (*it)[i];
      std::string where = "normalize[" + std::to_string(i) + "]";
      if (!step.is_object()) return errors_.At(where, "must be an object");
      ASSIGN_OR_RETURN(std::string pattern, StringField(step, "pattern", where, errors_, true));
      ASSIGN_OR_RETURN(std::string replace, StringField(step, "replace", where, errors_, true));
      ASSIGN_OR_RETURN(SafetyRegex regex, Regex(pattern, where));
      RETURN_IF_ERROR(CheckGroupReferences(regex, replace, where));
      rules_.normalize.push_back({std::move(regex), std::move(replace)});
    }
    return Status::Ok();
  }

  // "$N" / "${N}" in a replacement must name a capture group of its pattern.
  Status CheckGroupReferences(const SafetyRegex& regex, std::string_view replace,
                              const std::string& where) const {
    for (size_t i = 0; i + 1 < replace.size(); ++i) {
      if (replace[i] != '$') continue;
      size_t j = i + 1;
      if (replace[j] == '$') {
        ++i;
        continue;
      }
      if (replace[j] == '{') ++j;
      int group = 0;
      bool digits = false;
      while (j < replace.size() && replace[j] >= '0' && replace[j] <= '9') {
        group = group * 10 + (replace[j++] - '0');
        digits = true;
      }
      if (digits && group > regex.capture_count()) {
        return errors_.At(where, "replacement refers to group $" + std::to_string(group) +
                                     " but the pattern has " +
                                     std::to_string(regex.capture_count()) + " groups");
      }
    }
    return Status::Ok();
  }

  Status CompileNegation() {
    auto it = root_.find("negation");
    if (it == root_.end() || !it->is_object()) {
      return errors_.At("\"negation\"", "must be an object with \"cue\" and \"clause_break\"");
    }
    const std::string where = "negation";
    ASSIGN_OR_RETURN(std::string cue, StringField(*it, "cue", where, errors_, true));
    ASSIGN_OR_RETURN(std::string pseudo, StringField(*it, "pseudo", where, errors_, false));
    ASSIGN_OR_RETURN(std::string brk, StringField(*it, "clause_break", where, errors_, true));
    ASSIGN_OR_RETURN(rules_.negation.cue, Regex(cue, "negation.cue"));
    if (!pseudo.empty()) {
      ASSIGN_OR_RETURN(rules_.negation.pseudo, Regex(pseudo, "negation.pseudo"));
    }
    ASSIGN_OR_RETURN(rules_.negation.clause_break, Regex(brk, "negation.clause_break"));
    auto window = it->find("window_words");
    if (window != it->end()) {
      if (!window->is_number_integer() || *window < 1 || *window > 50) {
        return errors_.At(where, "\"window_words\" must be an integer from 1 to 50");
      }
      rules_.negation.window_words = window->get<int>();
    }
    return Status::Ok();
  }

  Status CompileSuppressors() {
    auto it = root_.find("suppressors");
    if (it == root_.end()) return Status::Ok();
    if (!it->is_array()) return errors_.At("\"suppressors\"", "must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& s = (*it)[i];
      std::string where = "suppressors[" + std::to_string(i) + "]";
      if (!s.is_object()) return errors_.At(where, "must be an object");
      SafetySuppressor sup;
      ASSIGN_OR_RETURN(sup.name, StringField(s, "name", where, errors_, true));
      where = "suppressor \"" + sup.name + "\"";
      ASSIGN_OR_RETURN(std::string pattern, StringField(s, "pattern", where, errors_, true));
      ASSIGN_OR_RETURN(std::string unless, StringField(s, "unless", where, errors_, false));
      ASSIGN_OR_RETURN(sup.pattern, Regex(pattern, where + " pattern"));
      if (!unless.empty()) {
        ASSIGN_OR_RETURN(sup.unless, Regex(unless, where + " unless"));
      }
      auto np = s.find("not_personal");
      if (np != s.end()) {
        if (!np->is_boolean()) return errors_.At(where, "\"not_personal\" must be true or false");
        sup.not_personal = np->get<bool>();
      }
      RETURN_IF_ERROR(ReadSuppressorCategories(s, where, sup));
      rules_.suppressors.push_back(std::move(sup));
    }
    return Status::Ok();
  }

  // Checked against the category names once all categories are read (CheckSuppressorCategories).
  Status ReadSuppressorCategories(const json& s, const std::string& where, SafetySuppressor& sup) {
    auto cats = s.find("categories");
    if (cats == s.end()) return Status::Ok();
    if (!cats->is_array()) return errors_.At(where, "\"categories\" must be an array of names");
    for (const json& name : *cats) {
      if (!name.is_string()) return errors_.At(where, "\"categories\" must be an array of names");
      sup.categories.push_back(name.get<std::string>());
    }
    return Status::Ok();
  }

  Status CheckSuppressorCategories() const {
    for (const SafetySuppressor& sup : rules_.suppressors) {
      for (const std::string& name : sup.categories) {
        bool known = std::any_of(rules_.categories.begin(), rules_.categories.end(),
                                 [&](const SafetyCategory& c) { return c.name == name; });
        if (!known) {
          return errors_.At("suppressor \"" + sup.name + "\"", "unknown category \"" + name + "\"");
        }
      }
    }
    return Status::Ok();
  }

  Status CompileSignals() {
    auto it = root_.find("signals");
    if (it == root_.end() || !it->is_object() || it->empty()) {
      return errors_.At("\"signals\"", "must be a non-empty object of name: pattern");
    }
    for (const auto& [name, value] : it->items()) {
      std::string where = "signal \"" + name + "\"";
      if (!value.is_string()) return errors_.At(where, "must be a string (a regex)");
      ASSIGN_OR_RETURN(SafetyRegex regex, Regex(value.get<std::string>(), where));
      signal_index_[name] = static_cast<int>(rules_.signals.size());
      rules_.signals.push_back({name, std::move(regex)});
    }
    return Status::Ok();
  }

  Status CompileDisclaimers() {
    auto it = root_.find("disclaimers");
    if (it == root_.end()) return Status::Ok();
    if (!it->is_object()) return errors_.At("\"disclaimers\"", "must be an object");
    for (const auto& [key, value] : it->items()) {
      if (key != "general" && key != "personal") {
        return errors_.At("disclaimers", "unknown key \"" + key + "\" (general, personal)");
      }
      if (!value.is_string()) return errors_.At("disclaimers." + key, "must be a string");
      (key == "general" ? rules_.general_disclaimer : rules_.personal_disclaimer) =
          value.get<std::string>();
    }
    return Status::Ok();
  }

  Status CompileCategories() {
    auto it = root_.find("categories");
    if (it == root_.end() || !it->is_array() || it->empty()) {
      return errors_.At("\"categories\"", "must be a non-empty array");
    }
    std::set<std::string> names;
    for (size_t i = 0; i < it->size(); ++i) {
      const json& c = (*it)[i];
      std::string where = "categories[" + std::to_string(i) + "]";
      if (!c.is_object()) return errors_.At(where, "must be an object");
      SafetyCategory cat;
      ASSIGN_OR_RETURN(cat.name, StringField(c, "name", where, errors_, true));
      if (cat.name.empty() || !names.insert(cat.name).second) {
        return errors_.At(where, "category name \"" + cat.name + "\" is empty or repeated");
      }
      where = "category \"" + cat.name + "\"";
      ASSIGN_OR_RETURN(cat.label, StringField(c, "label", where, errors_, false));
      ASSIGN_OR_RETURN(cat.escalation, StringField(c, "escalation", where, errors_, true));
      if (cat.escalation.empty()) return errors_.At(where, "\"escalation\" is empty");
      RETURN_IF_ERROR(CompileCategoryRules(c, where, cat));
      rules_.categories.push_back(std::move(cat));
    }
    return Status::Ok();
  }

  Status CompileCategoryRules(const json& c, const std::string& where, SafetyCategory& cat) {
    auto rules = c.find("rules");
    if (rules == c.end() || !rules->is_array() || rules->empty()) {
      return errors_.At(where, "\"rules\" must be a non-empty array");
    }
    for (size_t i = 0; i < rules->size(); ++i) {
      const json& r = (*rules)[i];
      std::string rule_where = where + " rules[" + std::to_string(i) + "]";
      if (!r.is_object()) return errors_.At(rule_where, "must be an object");
      SafetyRule rule;
      ASSIGN_OR_RETURN(rule.name, StringField(r, "name", rule_where, errors_, true));
      rule_where = where + " rule \"" + rule.name + "\"";
      auto when = r.find("when");
      if (when == r.end() || !when->is_array() || when->empty()) {
        return errors_.At(rule_where,
                          "\"when\" must be a non-empty array of signal names or "
                          "arrays of signal names");
      }
      for (const json& group : *when) {
        ASSIGN_OR_RETURN(std::vector<int> indices, SignalGroup(group, rule_where));
        rule.when.push_back(std::move(indices));
      }
      cat.rules.push_back(std::move(rule));
    }
    return Status::Ok();
  }

  // "name" or ["a", "b"]: the indices of the named signals.
  Result<std::vector<int>> SignalGroup(const json& group, const std::string& where) const {
    std::vector<std::string> names;
    if (group.is_string()) {
      names.push_back(group.get<std::string>());
    } else if (group.is_array() && !group.empty()) {
      for (const json& name : group) {
        if (!name.is_string()) return errors_.At(where, "a group holds signal names (strings)");
        names.push_back(name.get<std::string>());
      }
    } else {
      return errors_.At(where, "each entry of \"when\" is a signal name or a non-empty array");
    }
    std::vector<int> indices;
    for (const std::string& name : names) {
      auto it = signal_index_.find(name);
      if (it == signal_index_.end()) {
        return errors_.At(where, "unknown signal \"" + name + "\" (define it under \"signals\")");
      }
      indices.push_back(it->second);
    }
    return indices;
  }

  const json& root_;
  Errors errors_;
  std::map<std::string, std::string, std::less<>> macros_;
  std::map<std::string, int, std::less<>> signal_index_;
  SafetyRules rules_;
};

Status CheckTopLevel(const json& root, const Errors& errors) {
  if (!root.is_object()) return errors.At("top level", "must be a JSON object");
  for (const auto& [key, value] : root.items()) {
    if (!kTopLevelKeys.contains(key)) return errors.At("top level", "unknown key \"" + key + "\"");
  }
  auto version = root.find("version");
  if (version == root.end() || !version->is_number_integer() || *version != kRulesVersion) {
    return errors.At("\"version\"", "must be " + std::to_string(kRulesVersion));
  }
  return Status::Ok();
}

// Merges a deployment's file (`extra`) onto the shipped rules (`base`), as ParseSafetyRules says.
Status MergeRules(json& base, const json& extra, const Errors& errors) {
  for (const auto& [key, value] : extra.items()) {
    if (key == "extends" || key == "version" || key == "description") continue;
    if (key == "macros" || key == "signals" || key == "disclaimers") {
      if (!value.is_object()) return errors.At("\"" + key + "\"", "must be an object");
      for (const auto& [name, item] : value.items()) base[key][name] = item;
    } else if (key == "normalize" || key == "suppressors") {
      if (!value.is_array()) return errors.At("\"" + key + "\"", "must be an array");
      for (const json& item : value) base[key].push_back(item);
    } else if (key == "categories") {
      if (!value.is_array()) return errors.At("\"categories\"", "must be an array");
      for (const json& cat : value) {
        if (!cat.is_object() || !cat.contains("name") || !cat.at("name").is_string()) {
          return errors.At("categories", "each category needs a \"name\"");
        }
        auto same =
            std::find_if(base["categories"].begin(), base["categories"].end(), [&](const json& c) {
              return c.is_object() && c.contains("name") && c.at("name") == cat.at("name");
            });
        if (same == base["categories"].end()) {
          base["categories"].push_back(cat);
          continue;
        }
        for (const auto& [field, item] : cat.items()) {
          if (field != "rules")
            (*same)[field] = item;
          else if (item.is_array())
            for (const json& r : item) (*same)["rules"].push_back(r);
          else
            return errors.At("category \"" + cat.at("name").get<std::string>() + "\"",
                             "\"rules\" must be an array");
        }
      }
    } else {
      base[key] = value;  // negation, personal: replaced whole
    }
  }
  return Status::Ok();
}

}  // namespace

Result<SafetyRules> ParseSafetyRules(std::string_view json_text, std::string_view source) {
  Errors errors(source);
  ASSIGN_OR_RETURN(json root, formats::ParseJson(json_text, source));
  RETURN_IF_ERROR(CheckTopLevel(root, errors));
  auto extends = root.find("extends");
  if (extends != root.end()) {
    if (!extends->is_string() || *extends != "default") {
      return errors.At("\"extends\"", "the only accepted value is \"default\" (the shipped rules)");
    }
    ASSIGN_OR_RETURN(json base, formats::ParseJson(DefaultSafetyRulesJson(), "default rules"));
    Status merged = Status::Ok();
    try {
      merged = MergeRules(base, root, errors);
    } catch (const json::exception& e) {  // a wrong type where the shipped file has another
      merged = errors.At("merging onto the default rules", e.what());
    }
    RETURN_IF_ERROR(merged);
    root = std::move(base);
    RETURN_IF_ERROR(CheckTopLevel(root, errors));
  }
  return Compiler(root, source).Compile();
}

}  // namespace medassist::assistant
