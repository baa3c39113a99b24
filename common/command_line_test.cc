#include "common/command_line.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, test_address, "127.0.0.1:1", "An address.");
ABSL_FLAG(absl::Duration, test_interval, absl::Seconds(1), "An interval.");
ABSL_FLAG(bool, test_switch, false, "A switch.");
ABSL_FLAG(uint32_t, test_size, 10, "A size.");

namespace weir {
namespace {

using ::testing::ElementsAre;
using ::testing::ExitedWithCode;
using ::testing::HasSubstr;
using ::testing::Not;

const CommandLineSpec& Spec() {
  static const CommandLineSpec* spec = new CommandLineSpec{
      .program = "weir-test",
      .usage = "Tests the command line.",
      .version = "1.2.3",
      .flag_source_prefixes = {"common/command_line_test"},
  };
  return *spec;
}

std::vector<std::string> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "weir-test");
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (std::string& arg : args) argv.push_back(arg.data());
  return ParseCommandLineOrExit(static_cast<int>(argv.size()), argv.data(),
                                Spec());
}

class CommandLineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::SetFlag(&FLAGS_test_address, "127.0.0.1:1");
    absl::SetFlag(&FLAGS_test_interval, absl::Seconds(1));
    absl::SetFlag(&FLAGS_test_switch, false);
    absl::SetFlag(&FLAGS_test_size, 10);
  }
};

TEST_F(CommandLineTest, AcceptsDashesAndUnderscores) {
  Parse({"--test-address=192.0.2.1:80", "--test_interval=250ms"});
  EXPECT_EQ(absl::GetFlag(FLAGS_test_address), "192.0.2.1:80");
  EXPECT_EQ(absl::GetFlag(FLAGS_test_interval), absl::Milliseconds(250));
}

TEST_F(CommandLineTest, AcceptsValueAsNextArgument) {
  Parse({"--test-size", "42"});
  EXPECT_EQ(absl::GetFlag(FLAGS_test_size), 42u);
}

TEST_F(CommandLineTest, BooleanForms) {
  Parse({"--test-switch"});
  EXPECT_TRUE(absl::GetFlag(FLAGS_test_switch));
  Parse({"--no-test-switch"});
  EXPECT_FALSE(absl::GetFlag(FLAGS_test_switch));
  Parse({"--test-switch=true", "--notest_switch"});
  EXPECT_FALSE(absl::GetFlag(FLAGS_test_switch));
}

TEST_F(CommandLineTest, ReturnsPositionalArguments) {
  EXPECT_THAT(Parse({"a", "--test-size=3", "b", "--", "--test-size=4"}),
              ElementsAre("a", "b", "--test-size=4"));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_size), 3u);
}

TEST_F(CommandLineTest, UnknownFlagExitsTwoWithOneLine) {
  EXPECT_EXIT(Parse({"--bogus=1"}), ExitedWithCode(kUsageExitCode),
              "^weir-test: unknown flag --bogus; see --help\n$");
}

TEST_F(CommandLineTest, ForeignFlagsAreNotAccepted) {
  // Defined by Abseil itself, not under the spec's prefixes.
  EXPECT_EXIT(Parse({"--flagfile=/dev/null"}), ExitedWithCode(kUsageExitCode),
              "unknown flag --flagfile");
}

TEST_F(CommandLineTest, BadValuesExitTwoNamingTheFlag) {
  EXPECT_EXIT(Parse({"--test-size=-1"}), ExitedWithCode(kUsageExitCode),
              "^weir-test: bad value '-1' for --test-size; see --help\n$");
  EXPECT_EXIT(Parse({"--test-interval=soon"}), ExitedWithCode(kUsageExitCode),
              "bad value 'soon' for --test-interval");
  EXPECT_EXIT(Parse({"--test-switch=maybe"}), ExitedWithCode(kUsageExitCode),
              "bad value 'maybe' for --test-switch");
  EXPECT_EXIT(Parse({"--test-size"}), ExitedWithCode(kUsageExitCode),
              "flag --test-size needs a value");
  EXPECT_EXIT(Parse({"--=3"}), ExitedWithCode(kUsageExitCode),
              "bad argument '--=3'");
}

TEST_F(CommandLineTest, HelpListsOwnFlagsWithDashes) {
  const std::string help = HelpText(Spec());
  EXPECT_THAT(help, HasSubstr("Tests the command line."));
  EXPECT_THAT(help,
              HasSubstr("--test-address=<value>  (default: 127.0.0.1:1)"));
  EXPECT_THAT(help, HasSubstr("--test-switch  (default: false)"));
  EXPECT_THAT(help, Not(HasSubstr("flagfile")));
  EXPECT_EXIT(Parse({"--help"}), ExitedWithCode(0), "");
}

TEST_F(CommandLineTest, VersionExitsZero) {
  EXPECT_EXIT(Parse({"--version"}), ExitedWithCode(0), "");
}

TEST_F(CommandLineTest, UsageErrorExitsTwo) {
  EXPECT_EXIT(UsageError(Spec(), "--test-size: too big"),
              ExitedWithCode(kUsageExitCode),
              "^weir-test: --test-size: too big; see --help\n$");
}

TEST_F(CommandLineTest, FlagInRangeRefusesWhatIsOutside) {
  EXPECT_EQ(FlagInRange(Spec(), "test-size", 5, 1, 5), 5);
  EXPECT_EQ(FlagInRange(Spec(), "test-ratio", 0.1, 0.1, 600.0), 0.1);
  EXPECT_EXIT(FlagInRange(Spec(), "test-size", 600, 1, 64),
              ExitedWithCode(kUsageExitCode),
              "^weir-test: --test-size must be in \\[1, 64\\], got 600; "
              "see --help\n$");
  EXPECT_EXIT(FlagInRange(Spec(), "test-size", 0, 1, 64),
              ExitedWithCode(kUsageExitCode), "got 0; see --help");
}

}  // namespace
}  // namespace weir
