"""deploy/: the OCI image packer, the Containerfile's runtime packages, the
systemd units and the image build script.

- oci-layout.py packs a small root filesystem made here into an OCI layout
  that is reproducible (same digests twice), internally consistent (every
  digest and size, the config's diff_id) and readable by umoci, an
  independent implementation, which unpacks it to the same files.
- The Containerfile installs exactly the Debian packages that hold the
  libraries the built binaries link (deploy/image/runtime-packages).
- The systemd units pass `systemd-analyze verify` with no warning, give
  the collector exactly CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON and queryd
  none, and `systemd-analyze security` rates them.
(The full image build needs Debian's archive and minutes; it is run by
hand: deploy/image/build.)
"""

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

IMAGE = "deploy/image"
SYSTEMD = "deploy/systemd"
BINARIES = ["collector/weir-collector", "queryd/weir-queryd"]


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class OciLayoutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        root = cls.rootfs = os.path.join(cls.tmp, "rootfs")
        for d in ("usr/bin", "etc", "var/lib/weir", "dev", "proc", "tmp/junk"):
            os.makedirs(os.path.join(root, d))
        with open(os.path.join(root, "usr/bin/weir-queryd"), "w") as f:
            f.write("#!/bin/sh\necho queryd\n")
        os.chmod(os.path.join(root, "usr/bin/weir-queryd"), 0o755)
        with open(os.path.join(root, "etc/passwd"), "w") as f:
            f.write("root:x:0:0::/root:/bin/sh\nweir:x:65532:65532::/var/lib/weir:/usr/sbin/nologin\n")
        os.link(os.path.join(root, "etc/passwd"), os.path.join(root, "etc/passwd.hardlink"))
        os.symlink("usr/bin", os.path.join(root, "bin"))
        with open(os.path.join(root, "dev/not-in-image"), "w") as f:
            f.write("x")
        with open(os.path.join(root, "tmp/junk/file"), "w") as f:
            f.write("x")
        os.chmod(os.path.join(root, "var/lib/weir"), 0o750)
        cls.is_root = os.geteuid() == 0
        # Root inside Bazel's sandbox may have only its own ID mapped.
        try:
            os.chown(os.path.join(root, "var/lib/weir"), 65532, 65532)
            cls.chowned = True
        except OSError:
            cls.chowned = False
        # A file newer than the epoch: its time in the layer is clamped.
        os.utime(os.path.join(root, "etc/passwd"), (2_000_000_000, 2_000_000_000))
        cls.layouts = []
        for n in range(2):
            out = os.path.join(cls.tmp, f"layout{n}")
            p = run(f"{IMAGE}/oci-layout.py", "--rootfs", root, "--out", out, "--tag", "1.2.3",
                    "--user", "65532:65532", "--cmd", "/usr/bin/weir-queryd",
                    "--env", "PATH=/usr/bin:/bin", "--label", "org.opencontainers.image.title=weir",
                    "--epoch", "1700000000")
            if p.returncode != 0:
                raise AssertionError(p.stderr)
            cls.layouts.append(out)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def blob(self, layout, digest):
        algo, hexdigest = digest.split(":")
        self.assertEqual(algo, "sha256")
        path = os.path.join(layout, "blobs", "sha256", hexdigest)
        self.assertEqual(sha256_file(path), hexdigest, f"blob {digest} does not hash to its name")
        return path

    def test_reproducible(self):
        a, b = (load_json(os.path.join(l, "index.json")) for l in self.layouts)
        self.assertEqual(a, b)
        self.assertEqual(sorted(os.listdir(os.path.join(self.layouts[0], "blobs/sha256"))),
                         sorted(os.listdir(os.path.join(self.layouts[1], "blobs/sha256"))))

    def test_layout_is_consistent(self):
        layout = self.layouts[0]
        self.assertEqual(load_json(os.path.join(layout, "oci-layout")), {"imageLayoutVersion": "1.0.0"})
        index = load_json(os.path.join(layout, "index.json"))
        self.assertEqual(index["schemaVersion"], 2)
        (desc,) = index["manifests"]
        self.assertEqual(desc["annotations"]["org.opencontainers.image.ref.name"], "1.2.3")
        self.assertEqual(desc["mediaType"], "application/vnd.oci.image.manifest.v1+json")
        manifest_path = self.blob(layout, desc["digest"])
        self.assertEqual(os.path.getsize(manifest_path), desc["size"])
        manifest = load_json(manifest_path)
        config_path = self.blob(layout, manifest["config"]["digest"])
        self.assertEqual(os.path.getsize(config_path), manifest["config"]["size"])
        config = load_json(config_path)
        self.assertEqual(config["config"]["User"], "65532:65532")
        self.assertEqual(config["config"]["Cmd"], ["/usr/bin/weir-queryd"])
        self.assertEqual(config["created"], "2023-11-14T22:13:20Z")
        (layer,) = manifest["layers"]
        self.assertEqual(layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip")
        layer_path = self.blob(layout, layer["digest"])
        self.assertEqual(os.path.getsize(layer_path), layer["size"])
        with gzip.open(layer_path, "rb") as f:
            diff_id = "sha256:" + hashlib.sha256(f.read()).hexdigest()
        self.assertEqual(config["rootfs"]["diff_ids"], [diff_id])

        with tarfile.open(layer_path) as tar:
            members = {m.name: m for m in tar.getmembers()}
            names = [m.name for m in tar.getmembers()]
        self.assertIn("dev", names)
        self.assertIn("tmp", names)
        self.assertNotIn("dev/not-in-image", names, "runtime folders are packed empty")
        self.assertNotIn("tmp/junk", names)
        for name in names:  # every parent comes before its children
            parent = os.path.dirname(name)
            if parent:
                self.assertLess(names.index(parent), names.index(name), name)
        self.assertTrue(members["bin"].issym())
        self.assertEqual(members["bin"].linkname, "usr/bin")
        linked = [members["etc/passwd"], members["etc/passwd.hardlink"]]
        self.assertEqual(sum(m.islnk() for m in linked), 1, "the hard link is packed once")
        self.assertEqual(members["etc/passwd"].mtime, 1700000000, "times are clamped to the epoch")
        self.assertEqual(members["usr/bin/weir-queryd"].mode, 0o755)
        self.assertEqual(members["var/lib/weir"].mode, 0o750)
        if self.chowned:
            self.assertEqual((members["var/lib/weir"].uid, members["var/lib/weir"].gid), (65532, 65532))
        self.assertTrue(all(m.uname == "" and m.gname == "" for m in members.values()))

    def test_umoci_unpacks_it(self):
        bundle = os.path.join(self.tmp, "bundle")
        cmd = ["umoci", "unpack", "--image", f"{self.layouts[0]}:1.2.3", bundle]
        if not self.is_root:
            cmd.insert(2, "--rootless")
        p = run(*cmd)
        self.assertEqual(p.returncode, 0, p.stderr)
        rootfs = os.path.join(bundle, "rootfs")
        with open(os.path.join(rootfs, "usr/bin/weir-queryd")) as f:
            self.assertEqual(f.read(), "#!/bin/sh\necho queryd\n")
        self.assertTrue(os.path.islink(os.path.join(rootfs, "bin")))
        self.assertFalse(os.path.exists(os.path.join(rootfs, "dev/not-in-image")))
        spec = load_json(os.path.join(bundle, "config.json"))
        self.assertEqual(spec["process"]["args"], ["/usr/bin/weir-queryd"])
        self.assertEqual(spec["process"]["user"]["uid"], 65532)


class ContainerfileTest(unittest.TestCase):
    def test_runtime_packages_match_the_binaries(self):
        for b in BINARIES:
            self.assertTrue(os.access(b, os.X_OK), b)
        p = run(f"{IMAGE}/runtime-packages", *BINARIES)
        self.assertEqual(p.returncode, 0, p.stderr)
        needed = set(p.stdout.split())
        self.assertIn("librocksdb7.8", needed)
        with open(f"{IMAGE}/Containerfile") as f:
            text = f.read()
        m = re.search(r"install -y --no-install-recommends \\\n(.*?)\n \&\& rm -rf", text, re.S)
        self.assertIsNotNone(m, "the runtime apt-get install line")
        listed = set(m.group(1).replace("\\", " ").split())
        self.assertEqual(listed, needed,
                         "deploy/image/Containerfile's runtime packages differ from what the binaries link "
                         "(deploy/image/runtime-packages prints the right list)")

    def test_containerfile_runs_unprivileged(self):
        with open(f"{IMAGE}/Containerfile") as f:
            text = f.read()
        self.assertRegex(text, r"(?m)^USER 65532:65532$")
        self.assertRegex(text, r"(?m)^FROM debian:bookworm-slim$")
        self.assertIn("COPY --from=build /out/weir-collector /out/weir-queryd /usr/bin/", text)

    def test_build_script(self):
        self.assertEqual(run("bash", "-n", f"{IMAGE}/build").returncode, 0)
        p = run(f"{IMAGE}/build", "--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("debootstrap", p.stdout)
        p = run(f"{IMAGE}/build", "--bogus")
        self.assertEqual(p.returncode, 2)


def unit_settings(path):
    settings = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")):
                key, _, value = line.partition("=")
                settings.setdefault(key, []).append(value)
    return settings


class SystemdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A root with the system's own units (for the default dependencies),
        # ours, and stand-ins for the binaries the units start.
        cls.root = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        os.makedirs(os.path.join(cls.root, "usr/lib/systemd"))
        shutil.copytree("/usr/lib/systemd/system", os.path.join(cls.root, "usr/lib/systemd/system"),
                        symlinks=True)
        os.makedirs(os.path.join(cls.root, "etc/systemd/system"))
        os.makedirs(os.path.join(cls.root, "usr/bin"))
        for unit in ("weir-queryd.service", "weir-collector.service"):
            shutil.copy(os.path.join(SYSTEMD, unit), os.path.join(cls.root, "etc/systemd/system", unit))
        for b in ("weir-queryd", "weir-collector"):
            path = os.path.join(cls.root, "usr/bin", b)
            with open(path, "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(path, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_verify(self):
        p = run("systemd-analyze", "verify", f"--root={self.root}",
                "weir-queryd.service", "weir-collector.service")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.strip(), "", "systemd-analyze verify warned")

    def test_security_exposure(self):
        for unit, limit in (("weir-queryd.service", 2.0), ("weir-collector.service", 5.0)):
            p = run("systemd-analyze", "security", "--offline=true", f"--root={self.root}", unit)
            m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout + p.stderr)
            self.assertIsNotNone(m, p.stdout + p.stderr)
            self.assertLessEqual(float(m.group(1)), limit, f"{unit} exposure")

    def test_collector_has_exactly_three_capabilities(self):
        s = unit_settings(os.path.join(SYSTEMD, "weir-collector.service"))
        caps = {"CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"}
        self.assertEqual(set(" ".join(s["CapabilityBoundingSet"]).split()), caps)
        self.assertEqual(set(" ".join(s["AmbientCapabilities"]).split()), caps)
        self.assertEqual(s["NoNewPrivileges"], ["yes"])
        self.assertIn("--keep-attached", s["ExecStart"][0])

    def test_queryd_has_no_privilege(self):
        s = unit_settings(os.path.join(SYSTEMD, "weir-queryd.service"))
        self.assertEqual(s["DynamicUser"], ["yes"])
        self.assertEqual(s["CapabilityBoundingSet"], [""])
        self.assertEqual(s["AmbientCapabilities"], [""])
        self.assertEqual(s["StateDirectory"], ["weir"])
        self.assertNotIn("--allow-root", s["ExecStart"][0])


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
