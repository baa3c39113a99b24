"""weir_proto_library: a .proto to C++ message (and gRPC) libraries, offline.

Debian's protoc and grpc_cpp_plugin run in a genrule; Bazel's own proto
rules would download protobuf sources, which this build never does.

A proto is imported by its path below an import root: Weir's own protos sit
below //proto (imported as "weir/v1/flow.proto"); protos from an external
repository below that repository's top (imported as "google/api/http.proto").
Generated headers are included the same way ("weir/v1/flow.pb.h").
"""

# Every import root, relative to the execution root. protoc also searches
# /usr/include, where Debian keeps google/protobuf/*.proto.
# $(GENDIR)/proto holds protos that a genrule writes (grpc_contracts'
# reflection_v1.proto).
_IMPORT_ROOTS = ["proto", "$(GENDIR)/proto", "external/googleapis"]

def _import_path(src):
    """The path protoc knows `src` by, and whether it is external."""
    if src.startswith("@"):
        return src.split("//")[1].lstrip(":").replace(":", "/"), True
    package = native.package_name()
    if not package.startswith("proto/") and package != "proto":
        fail("weir_proto_library: local protos live below //proto, not " + package)
    return (package + "/" + src)[len("proto/"):], False

def weir_proto_library(name, srcs, deps = [], grpc = False, python = False, visibility = None):
    """Declares <name> (C++ messages, plus gRPC stubs with grpc = True).

    Args:
      name: the cc_library; <name>_files is a filegroup of the protos it and
        its deps need, for genrules that compile them again (Python stubs).
      srcs: .proto files of this package, or labels of external ones.
      deps: other weir_proto_library targets these protos import.
      grpc: also generate gRPC service code (<x>.grpc.pb.{h,cc}).
      python: also generate Python modules (<name>_py: _pb2 and _pb2_grpc)
        for tests that talk to Weir through python3-grpcio.
      visibility: of the generated targets.
    """
    paths = []
    outs_h = []
    outs_cc = []
    external = False
    for src in srcs:
        path, external = _import_path(src)
        paths.append(path)

        # Outputs are named relative to this package: a local proto's own
        # folder is this package; an external proto keeps its whole path.
        stem = (path if external else src)[:-len(".proto")]
        outs_h.append(stem + ".pb.h")
        outs_cc.append(stem + ".pb.cc")
        if grpc:
            outs_h.append(stem + ".grpc.pb.h")
            outs_cc.append(stem + ".grpc.pb.cc")

    # Where generated files land: the import root's twin in the output tree.
    out_root = native.package_name() if external else "proto"
    # Only roots present in the sandbox (a proto with no local imports has no
    # proto/ folder there), so protoc does not warn about missing folders.
    includes = "$$(for d in %s; do [ -d $$d ] && printf -- ' -I%%s' $$d; done)" % " ".join(_IMPORT_ROOTS)
    tools = ["@system_protobuf//:bin/protoc"]
    cmd = "$(location @system_protobuf//:bin/protoc) " + includes + " --cpp_out=$(GENDIR)/" + out_root
    if grpc:
        tools.append("@system_grpc//:bin/grpc_cpp_plugin")
        cmd += (" --grpc_out=$(GENDIR)/" + out_root +
                " --plugin=protoc-gen-grpc=$(location @system_grpc//:bin/grpc_cpp_plugin)")
    cmd += " " + " ".join(paths)

    native.filegroup(
        name = name + "_files",
        srcs = srcs + [d + "_files" for d in deps],
        visibility = visibility,
    )
    native.genrule(
        name = name + "_gen",
        srcs = [":" + name + "_files"],
        outs = outs_h + outs_cc,
        cmd = cmd,
        tools = tools,
        message = "protoc " + " ".join(paths),
    )
    native.cc_library(
        name = name,
        srcs = outs_cc,
        hdrs = outs_h,
        strip_include_prefix = "/" + out_root,
        # Generated code trips -Wall in ways that are not ours to fix.
        copts = ["-w"],
        deps = deps + ["@system_protobuf//:protobuf"] + (["@system_grpc//:grpc++"] if grpc else []),
        visibility = visibility,
    )
    if python:
        _py_genrule(name, paths, includes, grpc, visibility)

def weir_py_proto_library(name, srcs, deps = [], grpc = False, visibility = None):
    """Python modules only (<name>_py), for protos no C++ code links.

    Args:
      name: base name; <name>_py is the genrule, <name>_files the protos.
      srcs: .proto files of this package.
      deps: other proto libraries these import.
      grpc: also generate <x>_pb2_grpc.py.
      visibility: of the generated targets.
    """
    paths = [_import_path(src)[0] for src in srcs]
    native.filegroup(
        name = name + "_files",
        srcs = srcs + [d + "_files" for d in deps],
        visibility = visibility,
    )
    includes = "$$(for d in %s; do [ -d $$d ] && printf -- ' -I%%s' $$d; done)" % " ".join(_IMPORT_ROOTS)
    _py_genrule(name, paths, includes, grpc, visibility)

def _py_genrule(name, paths, includes, grpc, visibility):
    """<name>_py: protoc --python_out (and gRPC stubs) for `paths`."""
    py_outs = []
    for path in paths:
        stem = path[:-len(".proto")]
        py_outs.append(name + "_py/" + stem + "_pb2.py")
        if grpc:
            py_outs.append(name + "_py/" + stem + "_pb2_grpc.py")
    py_cmd = ("$(location @system_protobuf//:bin/protoc) " + includes +
              " --python_out=$(RULEDIR)/" + name + "_py")
    py_tools = ["@system_protobuf//:bin/protoc"]
    if grpc:
        py_tools.append("@system_grpc//:bin/grpc_python_plugin")
        py_cmd += (" --grpc_python_out=$(RULEDIR)/" + name + "_py" +
                   " --plugin=protoc-gen-grpc_python=$(location @system_grpc//:bin/grpc_python_plugin)")
    native.genrule(
        name = name + "_py",
        srcs = [":" + name + "_files"],
        outs = py_outs,
        cmd = py_cmd + " " + " ".join(paths),
        tools = py_tools,
        message = "protoc --python_out " + " ".join(paths),
        visibility = visibility,
    )
