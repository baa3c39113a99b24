#include "tools/benchmarks/bench_main.h"

#include <signal.h>

#include <cstdio>
#include <string>
#include <utility>

namespace weir::bench {
namespace {

volatile sig_atomic_t stop = 0;
void OnSignal(int) { stop = 1; }

}  // namespace

CommandLineSpec ParseBenchCommandLine(int argc, char** argv,
                                      std::string program, std::string usage) {
  CommandLineSpec spec;
  spec.program = std::move(program);
  spec.usage = std::move(usage);
  spec.flag_source_prefixes = {"tools/benchmarks/"};
  if (!ParseCommandLineOrExit(argc, argv, spec).empty()) {
    UsageError(spec, "takes no positional arguments");
  }
  return spec;
}

int Failed(absl::string_view program, const absl::Status& status) {
  std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()),
               program.data(), status.ToString().c_str());
  return 1;
}

void StopOnSignals() {
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
}

bool StopRequested() { return stop != 0; }

}  // namespace weir::bench
