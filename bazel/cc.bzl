"""weir_cc_library and weir_cc_test: the tree's one-class-per-file layout.

A library `x` is x.cc and x.h (STYLE.md, "Shape of the tree"); its test
`x_test` is x_test.cc linked with gtest_main. The macros fill in those file
names and that dependency, so a BUILD file says only what differs: the
target's own dependencies, and srcs or hdrs where a library strays from the
pattern (srcs = [] for a header-only one). Everything else is passed through
to cc_library / cc_test unchanged.
"""

_GTEST_MAIN = "@system_googletest//:gtest_main"

def _label_order(label):
    # The order buildifier sorts a deps list in: this package's targets,
    # then the workspace's, then external repositories'.
    if label.startswith(":"):
        return (0, label)
    if label.startswith("//"):
        return (1, label)
    return (2, label)

def _with_dep(deps, dep):
    """`deps` with `dep` inserted before the first entry that sorts after it."""
    for i, d in enumerate(deps):
        if _label_order(d) > _label_order(dep):
            return deps[:i] + [dep] + deps[i:]
    return deps + [dep]

def weir_cc_library(name, srcs = None, hdrs = None, **kwargs):
    """cc_library `name` from name.cc and name.h unless srcs/hdrs say otherwise."""
    srcs = [name + ".cc"] if srcs == None else srcs
    hdrs = [name + ".h"] if hdrs == None else hdrs
    if srcs:
        kwargs["srcs"] = srcs
    if hdrs:
        kwargs["hdrs"] = hdrs
    native.cc_library(name = name, **kwargs)

def weir_cc_test(name, srcs = None, deps = [], **kwargs):
    """cc_test `name` from name.cc, with gtest_main among its deps."""
    native.cc_test(
        name = name,
        srcs = [name + ".cc"] if srcs == None else srcs,
        deps = _with_dep(deps, _GTEST_MAIN),
        **kwargs
    )
