"""Every external repository Weir uses, all local to this machine.

Rule repositories are the stand-ins Debian ships in bazel-bootstrap-source.
System libraries are wrapped one per repository with a BUILD file from
//third_party. tools/setup installs the packages behind each of them.
"""

load("//bazel:coverage_stub.bzl", "coverage_tools_stub")

_MOCK_REPOS = "/usr/src/bazel-bootstrap/mock_repos"

# (repository name, BUILD file in //third_party, path on this machine)
_SYSTEM_LIBRARIES = [
    ("system_abseil", "abseil.BUILD", "/usr"),
    ("system_protobuf", "protobuf.BUILD", "/usr"),
    ("system_grpc", "grpc.BUILD", "/usr"),
    ("system_rocksdb", "rocksdb.BUILD", "/usr"),
    ("system_libbpf", "libbpf.BUILD", "/usr"),
    ("system_prometheus_cpp", "prometheus_cpp.BUILD", "/usr"),
    ("system_boost", "boost.BUILD", "/usr"),
    ("system_googletest", "googletest.BUILD", "/usr"),
    ("system_benchmark", "benchmark.BUILD", "/usr"),
    ("system_libcap", "libcap.BUILD", "/usr"),
    ("system_zlib", "zlib.BUILD", "/usr"),
    ("system_openssl", "openssl.BUILD", "/usr"),
    # google/api/{http,annotations}.proto and google/rpc/status.proto as
    # Debian ships them with the Bazel sources.
    ("googleapis", "googleapis.BUILD", "/usr/src/bazel-bootstrap/third_party/googleapis"),
]

def weir_repositories():
    for name in ["rules_cc", "rules_java", "rules_proto", "platforms", "bazel_skylib"]:
        native.local_repository(name = name, path = _MOCK_REPOS + "/" + name)

    # Every cc_test depends on these coverage tools, which Bazel would
    # otherwise download; Weir does not collect coverage through Bazel.
    coverage_tools_stub(name = "remote_coverage_tools")

    for name, build_file, path in _SYSTEM_LIBRARIES:
        native.new_local_repository(
            name = name,
            path = path,
            build_file = "//third_party:" + build_file,
        )
