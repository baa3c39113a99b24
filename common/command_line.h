// Command-line parsing for Weir's binaries on top of Abseil flags.
//
// Abseil's own parser exits 1 with a multi-line report and wants flag names
// with underscores. Weir's binaries promise more: `--flush-interval` and
// `--flush_interval` both work, `--help` lists only the binary's own flags,
// and any bad flag ends the process with one line on stderr and exit code 2.
#ifndef WEIR_COMMON_COMMAND_LINE_H_
#define WEIR_COMMON_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace weir {

// Exit code for bad usage (bad or unknown flag, bad value), as sysexits'
// EX_USAGE-style tools and most CLIs use.
inline constexpr int kUsageExitCode = 2;

struct CommandLineSpec {
  // Program name shown in messages, e.g. "weir-collector".
  std::string program;
  // One paragraph printed by --help above the flag list.
  std::string usage;
  // Printed by --version.
  std::string version;
  // Only flags defined in files below these source folders (e.g.
  // "collector/", "common/") are accepted and listed; Abseil's internal
  // flags and those of linked libraries stay hidden.
  std::vector<std::string> flag_source_prefixes;
};

// Parses argv into the registered Abseil flags. Handles --help and
// --version (prints, exits 0). On any error prints one line
// "<program>: <what>; see --help" to stderr and exits with kUsageExitCode.
// Returns the positional arguments (argv[0] excluded); arguments after "--"
// are positional.
std::vector<std::string> ParseCommandLineOrExit(int argc, char** argv,
                                                const CommandLineSpec& spec);

// Builds the text --help prints (exposed for tests).
std::string HelpText(const CommandLineSpec& spec);

// Prints "<program>: <message>; see --help" to stderr and exits with
// kUsageExitCode. For checks of flag values that go beyond their type, such
// as ranges, done after parsing.
[[noreturn]] void UsageError(const CommandLineSpec& spec,
                             absl::string_view message);

// `value` of flag --`name` when it lies in [low, high]; otherwise a
// UsageError ("--name must be in [low, high], got value"), never a silent
// clamp: a run is the run that was asked for.
template <typename T>
T FlagInRange(const CommandLineSpec& spec, absl::string_view name, T value,
              T low, T high) {
  if (value < low || value > high) {
    UsageError(spec, absl::StrCat("--", name, " must be in [", low, ", ", high,
                                  "], got ", value));
  }
  return value;
}

}  // namespace weir

#endif  // WEIR_COMMON_COMMAND_LINE_H_
