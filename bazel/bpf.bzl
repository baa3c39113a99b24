"""weir_bpf_program: a BPF C program to an object and a libbpf skeleton, offline.

Two genrules: clang compiles `x.bpf.c` to `x.bpf.o` for the BPF target, then
`bpftool gen skeleton` turns the object into `x.skel.h`, a C header that embeds
the object and declares typed accessors for its programs, maps and globals.
The header is a build output only; it is never checked in.

The program may include only UAPI headers from linux-libc-dev (linux/bpf.h,
linux/pkt_cls.h, linux/if_ether.h, linux/ip.h, linux/ipv6.h, linux/tcp.h,
linux/udp.h, linux/icmpv6.h, ...) and libbpf's bpf_helpers.h and
bpf_endian.h. No vmlinux.h: it would be generated from the build host's
/sys/kernel/btf/vmlinux, tying the build (and every struct layout in it) to
whatever kernel the build machine happens to run, and it is not a stable
interface. The UAPI headers are, and everything a TC classifier reads
(struct __sk_buff and the packet itself) is described by them.

clang, llvm-strip and bpftool come from PATH (bpftool may live in /usr/sbin);
Bazel does not track their versions, tools/setup pins the Debian packages.
"""

# -mcpu=v3 (jmp32, alu32): shorter code for the verifier and the JIT; every
# kernel Weir supports has it (v3 needs 5.1, the coarse clock Weir reads 5.11).
_CLANG_FLAGS = [
    "-O2",
    "-g",
    "-target bpf",
    "-mcpu=v3",
    "-D__TARGET_ARCH_x86",
    "-I/usr/include/x86_64-linux-gnu",
    "-Wall",
    "-Werror",
]

def weir_bpf_program(name, src, hdrs = [], skeleton_name = None, copts = [], testonly = False, visibility = None):
    """Declares <name> (cc_library with the skeleton) and <name>_obj (the object).

    Args:
      name: the cc_library exposing "<package>/<stem>.skel.h"; it links libbpf.
      src: the program, "<stem>.bpf.c".
      hdrs: headers the program includes (*.bpf.h and shared plain-C headers).
      skeleton_name: the skeleton's C name (struct <skeleton_name>,
        <skeleton_name>__open(), ...). Defaults to <stem>. Must not clash with
        a C++ namespace that includes the header (struct weir would collide
        with namespace weir).
      copts: extra clang flags, e.g. -D defines.
      testonly: for programs only tests and benchmarks use.
      visibility: of the generated targets.
    """
    if not src.endswith(".bpf.c"):
        fail("weir_bpf_program: src must be named <stem>.bpf.c, got " + src)
    stem = src[:-len(".bpf.c")]
    obj = stem + ".bpf.o"
    skel = stem + ".skel.h"
    if skeleton_name == None:
        skeleton_name = stem

    native.genrule(
        name = name + "_compile",
        srcs = [src] + hdrs,
        outs = [obj],
        # The package folder is on the include path so headers of the package
        # can be included by their plain names; llvm-strip -g drops DWARF but
        # keeps .BTF/.BTF.ext (map definitions, line info for the verifier log).
        cmd = ("clang " + " ".join(_CLANG_FLAGS + copts) +
               " -I$$(dirname $(location " + src + "))" +
               " -c $(location " + src + ") -o $@" +
               " && llvm-strip -g $@"),
        message = "clang -target bpf " + src,
        testonly = testonly,
        visibility = visibility,
    )
    native.genrule(
        name = name + "_skeleton",
        srcs = [":" + obj],
        outs = [skel],
        # Generated code is not ours to lint: clang-tidy's analyzer reports a
        # false leak in bpftool's error path (freed by a libbpf call).
        cmd = ("BPFTOOL=$$(command -v bpftool || echo /usr/sbin/bpftool); " +
               "{ echo '// NOLINTBEGIN'; " +
               "$$BPFTOOL gen skeleton $(location :" + obj + ") name " + skeleton_name + " && " +
               "echo '// NOLINTEND'; } > $@"),
        message = "bpftool gen skeleton " + obj,
        testonly = testonly,
    )
    native.filegroup(
        name = name + "_obj",
        srcs = [":" + obj],
        testonly = testonly,
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        hdrs = [":" + skel],
        deps = ["@system_libbpf//:libbpf"],
        testonly = testonly,
        visibility = visibility,
    )
