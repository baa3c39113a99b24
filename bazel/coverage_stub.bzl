"""A local stand-in for @remote_coverage_tools.

Bazel adds @remote_coverage_tools//:lcov_merger and
:coverage_report_generator to every test's implicit dependencies and would
download them. These stubs satisfy the references and fail loudly if
someone really asks for coverage through Bazel.
"""

def _coverage_tools_stub_impl(ctx):
    ctx.file("stub.sh", "#!/bin/sh\necho 'weir: bazel coverage is not supported offline' >&2\nexit 1\n", executable = True)
    ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

sh_binary(name = "lcov_merger", srcs = ["stub.sh"])

sh_binary(name = "coverage_report_generator", srcs = ["stub.sh"])
""")

coverage_tools_stub = repository_rule(implementation = _coverage_tools_stub_impl, local = True)
