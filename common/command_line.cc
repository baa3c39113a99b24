#include "common/command_line.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace weir {
namespace {

bool IsOwnFlag(const absl::CommandLineFlag& flag, const CommandLineSpec& spec) {
  const std::string file = flag.Filename();
  return std::any_of(spec.flag_source_prefixes.begin(),
                     spec.flag_source_prefixes.end(),
                     [&](const std::string& prefix) {
                       return absl::StartsWith(file, prefix);
                     });
}

// Flags are defined with underscores (C++ identifiers) and shown with
// dashes; both spellings are accepted.
std::string Dashed(absl::string_view name) {
  return absl::StrReplaceAll(name, {{"_", "-"}});
}

absl::CommandLineFlag* FindOwnFlag(absl::string_view name,
                                   const CommandLineSpec& spec) {
  absl::CommandLineFlag* flag =
      absl::FindCommandLineFlag(absl::StrReplaceAll(name, {{"-", "_"}}));
  if (flag == nullptr || flag->IsRetired() || !IsOwnFlag(*flag, spec)) {
    return nullptr;
  }
  return flag;
}

// Wraps `text` to `width` columns, each line indented by `indent` spaces.
std::string Wrap(absl::string_view text, size_t indent, size_t width) {
  std::string out;
  size_t column = 0;
  const std::string pad(indent, ' ');
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (column == 0) {
      absl::StrAppend(&out, pad, word);
      column = indent + word.size();
    } else if (column + 1 + word.size() > width) {
      absl::StrAppend(&out, "\n", pad, word);
      column = indent + word.size();
    } else {
      absl::StrAppend(&out, " ", word);
      column += 1 + word.size();
    }
  }
  return out;
}

}  // namespace

void UsageError(const CommandLineSpec& spec, absl::string_view message) {
  std::fprintf(stderr, "%s: %.*s; see --help\n", spec.program.c_str(),
               static_cast<int>(message.size()), message.data());
  std::exit(kUsageExitCode);
}

std::string HelpText(const CommandLineSpec& spec) {
  std::vector<std::pair<std::string, const absl::CommandLineFlag*>> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!flag->IsRetired() && IsOwnFlag(*flag, spec)) {
      flags.emplace_back(Dashed(name), flag);
    }
  }
  std::sort(flags.begin(), flags.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string text = absl::StrCat(spec.usage, "\n\nFlags:\n");
  for (const auto& [name, flag] : flags) {
    const bool is_bool = flag->IsOfType<bool>();
    absl::StrAppend(&text, "  --", name, is_bool ? "" : "=<value>");
    const std::string default_value = flag->DefaultValue();
    absl::StrAppend(&text, "  (default: ",
                    default_value.empty() ? "\"\"" : default_value, ")\n");
    absl::StrAppend(&text, Wrap(flag->Help(), 6, 79), "\n");
  }
  absl::StrAppend(&text,
                  "  --help\n      Show this text and exit.\n"
                  "  --version\n      Show the version and exit.\n"
                  "\nFlag names take dashes or underscores; boolean flags "
                  "also take --no<name>.\n");
  return text;
}

std::vector<std::string> ParseCommandLineOrExit(int argc, char** argv,
                                                const CommandLineSpec& spec) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) positional.emplace_back(argv[i]);
      break;
    }
    if (!absl::StartsWith(arg, "-") || arg == "-") {
      positional.emplace_back(arg);
      continue;
    }
    // Accept -name and --name, as Abseil does.
    absl::string_view body = arg;
    if (!absl::ConsumePrefix(&body, "--")) absl::ConsumePrefix(&body, "-");

    absl::string_view name = body;
    absl::string_view value;
    bool has_value = false;
    if (const size_t eq = body.find('='); eq != absl::string_view::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }

    if (name == "help" || name == "helpfull" || name == "h") {
      std::fputs(HelpText(spec).c_str(), stdout);
      std::exit(0);
    }
    if (name == "version") {
      std::printf("%s %s\n", spec.program.c_str(), spec.version.c_str());
      std::exit(0);
    }
    if (name.empty())
      UsageError(spec, absl::StrCat("bad argument '", arg, "'"));

    absl::CommandLineFlag* flag = FindOwnFlag(name, spec);
    // --nofoo and --no-foo turn a boolean flag off.
    if (flag == nullptr && !has_value && absl::StartsWith(name, "no")) {
      absl::string_view positive = name.substr(2);
      absl::ConsumePrefix(&positive, "-");
      absl::CommandLineFlag* negated = FindOwnFlag(positive, spec);
      if (negated != nullptr && negated->IsOfType<bool>()) {
        std::string error;
        negated->ParseFrom("false", &error);
        continue;
      }
    }
    if (flag == nullptr) {
      UsageError(spec, absl::StrCat("unknown flag --", name));
    }

    std::string text;
    if (has_value) {
      text.assign(value.data(), value.size());
    } else if (flag->IsOfType<bool>()) {
      text = "true";
    } else if (i + 1 < argc) {
      // "--flag value" form.
      text = argv[++i];
    } else {
      UsageError(spec, absl::StrCat("flag --", Dashed(name), " needs a value"));
    }

    std::string error;
    if (!flag->ParseFrom(text, &error)) {
      // Abseil's generic message repeats the value and flag; keep only a
      // detail that adds something (e.g. "Integer out of range").
      const std::string detail = absl::StartsWith(error, "Illegal value")
                                     ? ""
                                     : absl::StrCat(": ", error);
      UsageError(spec, absl::StrCat("bad value '", text, "' for --",
                                    Dashed(name), detail));
    }
  }
  return positional;
}

}  // namespace weir
