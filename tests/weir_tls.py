"""Certificates for TLS tests, made with the openssl command into a folder of
the test's own: a CA, a second CA nobody trusts, and leaf certificates with
chosen subject alternative names, serials and validity.
"""
import os
import shutil
import subprocess

import weir_testing as wt

CA_CONFIG = """[ca]
default_ca = weir_test
[weir_test]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial.txt
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
"""


def openssl(*args, cwd=None):
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=30)
    if done.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), done.stderr))
    return done.stdout


class Certs:
    """A folder of PEM files; each leaf is <name>.crt and <name>.key."""

    def __init__(self):
        self.dir = wt.tmpdir("certs-")
        for ca in ("ca", "wrong-ca"):
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", self.path(ca + ".key"), "-out", self.path(ca + ".crt"),
                    "-days", "3", "-subj", "/CN=weir test " + ca)
            folder = self.path(ca + ".db")
            os.mkdir(folder)
            open(os.path.join(folder, "index.txt"), "w").close()
            with open(os.path.join(folder, "serial.txt"), "w") as f:
                f.write("01\n")
            with open(os.path.join(folder, "ca.cnf"), "w") as f:
                f.write(CA_CONFIG.format(dir=folder))

    def path(self, name):
        return os.path.join(self.dir, name)

    def leaf(self, name, cn, sans=(), serial=None, ca="ca", start=None, end=None):
        """Issues <name>.crt/.key; `sans` like "DNS:node-a"; start/end as
        YYYYMMDDHHMMSSZ (default: now until tomorrow)."""
        key, csr = self.path(name + ".key"), self.path(name + ".csr")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n")
            if sans:
                f.write("subjectAltName=%s\n" % ",".join(sans))
        folder = self.path(ca + ".db")
        if serial is not None:
            with open(os.path.join(folder, "serial.txt"), "w") as f:
                f.write("%04X\n" % serial)
        args = ["ca", "-batch", "-notext", "-config", os.path.join(folder, "ca.cnf"),
                "-cert", self.path(ca + ".crt"), "-keyfile", self.path(ca + ".key"),
                "-in", csr, "-out", self.path(name + ".crt"), "-extfile", ext]
        args += ["-startdate", start] if start else []
        args += ["-enddate", end] if end else ["-days", "1"]
        openssl(*args)
        return self.path(name + ".crt"), key

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def install(self, name, cert_path, key_path):
        """Replaces cert_path and key_path with <name>'s files, each by an
        atomic rename (as a Kubernetes Secret update swaps its files)."""
        for src, dst in ((self.path(name + ".crt"), cert_path),
                         (self.path(name + ".key"), key_path)):
            tmp = dst + ".new"
            shutil.copyfile(src, tmp)
            os.rename(tmp, dst)


def serial_of(port, ca=None, host="127.0.0.1"):
    """The serial (hex, as openssl prints it) of the certificate a TLS server
    on `port` presents now."""
    shown = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % (host, port),
                            "-showcerts"], input="", capture_output=True, text=True,
                           errors="replace", timeout=20)
    pem = shown.stdout
    start = pem.find("-----BEGIN CERTIFICATE-----")
    end = pem.find("-----END CERTIFICATE-----")
    if start < 0 or end < 0:
        return None
    out = subprocess.run(["openssl", "x509", "-noout", "-serial"],
                         input=pem[start:end + len("-----END CERTIFICATE-----")] + "\n",
                         capture_output=True, text=True, timeout=20).stdout
    return out.strip().split("=", 1)[1] if "=" in out else None


def handshake(port, *args, host="127.0.0.1"):
    """openssl s_client with extra args; returns (exit code, output)."""
    done = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % (host, port), *args],
                          input="", capture_output=True, text=True, errors="replace", timeout=20)
    return done.returncode, done.stdout + done.stderr
