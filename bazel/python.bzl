"""weir_py_test: a Python test run by Debian's /usr/bin/python3.

Bazel's own py_test would pick whichever python3 comes first on PATH, which
may lack Debian's python3-grpcio. This runs the script through
//bazel:run_python.sh with the generated modules of `protos` (the `_py`
outputs of weir_proto_library) on PYTHONPATH.
"""

def weir_py_test(name, src, protos = [], data = [], args = [], imports = [], **kwargs):
    """A Python test; `imports` are extra folders (workspace-relative) on PYTHONPATH."""

    # Each weir_proto_library <x>_py writes its modules below <package>/<x>_py.
    roots = list(imports)
    for p in protos:
        label = Label(native.repository_name() + "//" + native.package_name() + ":__pkg__").relative(p)
        roots.append(label.package + "/" + label.name)
    native.sh_test(
        name = name,
        srcs = ["//bazel:run_python.sh"],
        args = ["$(location " + src + ")"] + roots + ["--"] + args,
        data = [src] + protos + data,
        **kwargs
    )
