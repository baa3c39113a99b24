// What the benchmark programs share around their own work: the command line
// (only the flags defined under tools/benchmarks/, no positional arguments),
// the line that reports a failed run, and a stop on SIGTERM/SIGINT that
// their timed loops poll.

#ifndef WEIR_TOOLS_BENCHMARKS_BENCH_MAIN_H_
#define WEIR_TOOLS_BENCHMARKS_BENCH_MAIN_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/command_line.h"

namespace weir::bench {

// Parses argv for the benchmark `program` (--help prints `usage`); exits 2
// with one line on a bad flag or any positional argument. The spec returned
// is for FlagInRange and UsageError.
CommandLineSpec ParseBenchCommandLine(int argc, char** argv,
                                      std::string program, std::string usage);

// Prints "<program>: <status>" on stderr and returns 1, the exit code of a
// run that failed.
int Failed(absl::string_view program, const absl::Status& status);

// From now on SIGTERM and SIGINT only ask the program to stop.
void StopOnSignals();

// True once SIGTERM or SIGINT has arrived (after StopOnSignals).
bool StopRequested();

}  // namespace weir::bench

#endif  // WEIR_TOOLS_BENCHMARKS_BENCH_MAIN_H_
