#!/usr/bin/python3
"""Packs a root filesystem folder into an OCI image layout, without docker.

    oci-layout.py --rootfs DIR --out LAYOUT --tag TAG [--user U] [--cmd ARG]...
                  [--env K=V]... [--label K=V]... [--epoch SECONDS]

The image has one layer: the folder as a tar (PAX, sorted, numeric owners,
modification times clamped to --epoch), gzip-compressed without a timestamp,
so the same folder and flags give the same digests. The layout (oci-layout,
index.json, blobs/sha256/) is what `umoci`, `skopeo copy oci:LAYOUT:TAG ...`
and `podman load` read. Runs with Debian's /usr/bin/python3, standard
library only.
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import tarfile
import tempfile

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"

# Filled by the container runtime at run time; their contents never belong
# in an image (the folders themselves are kept, empty).
RUNTIME_FOLDERS = ("dev", "proc", "sys", "run", "tmp")


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class HashingWriter(io.RawIOBase):
    """A write-only stream that hashes and counts what passes through."""

    def __init__(self, sink):
        self.sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self):
        return True

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        self.sink.write(data)
        return len(data)


def layer_members(rootfs):
    """Yields (path on disk, name in the tar) in a stable order."""
    for folder, dirs, files in os.walk(rootfs):
        dirs.sort()
        rel_folder = os.path.relpath(folder, rootfs)
        if rel_folder in RUNTIME_FOLDERS:
            # The folder itself was listed by its parent; its contents are not.
            dirs[:] = []
            continue
        # os.walk does not descend into symlinked folders; they are entries.
        for name in sorted(dirs + files):
            path = os.path.join(folder, name)
            arcname = os.path.normpath(os.path.join(rel_folder, name))
            yield path, arcname


def write_layer(rootfs, epoch, out):
    """Writes the gzipped tar of rootfs to out; returns (diff_id, digest, size)."""
    compressed = HashingWriter(out)
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, compresslevel=6) as gz:
        uncompressed = HashingWriter(gz)
        with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            seen_inodes = {}
            for path, arcname in layer_members(rootfs):
                st = os.lstat(path)
                info = tarfile.TarInfo(arcname)
                info.mode = stat.S_IMODE(st.st_mode)
                info.uid, info.gid = st.st_uid, st.st_gid
                info.uname = info.gname = ""
                info.mtime = min(int(st.st_mtime), epoch)
                key = (st.st_dev, st.st_ino)
                if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and key in seen_inodes:
                    info.type = tarfile.LNKTYPE
                    info.linkname = seen_inodes[key]
                    tar.addfile(info)
                    continue
                if stat.S_ISREG(st.st_mode):
                    if st.st_nlink > 1:
                        seen_inodes[key] = arcname
                    info.size = st.st_size
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                elif stat.S_ISDIR(st.st_mode):
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif stat.S_ISLNK(st.st_mode):
                    info.type = tarfile.SYMTYPE
                    info.linkname = os.readlink(path)
                    tar.addfile(info)
                elif stat.S_ISFIFO(st.st_mode):
                    info.type = tarfile.FIFOTYPE
                    tar.addfile(info)
                else:
                    # Device nodes and sockets: the runtime provides /dev.
                    print(f"oci-layout.py: skipping special file /{arcname}", file=sys.stderr)
        # PAX archives end with two zero blocks; tarfile wrote them on close.
    return "sha256:" + uncompressed.sha.hexdigest(), "sha256:" + compressed.sha.hexdigest(), compressed.size


def put_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def parse_pairs(pairs, flag):
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"oci-layout.py: {flag} {pair!r}: want KEY=VALUE")
        out[key] = value
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rootfs", required=True, help="root filesystem folder")
    p.add_argument("--out", required=True, help="OCI layout folder to create (replaced)")
    p.add_argument("--tag", required=True, help="reference name, e.g. 0.1.0")
    p.add_argument("--user", default="", help="default user, e.g. 65532:65532")
    p.add_argument("--entrypoint", action="append", default=[], help="one entrypoint word (repeat)")
    p.add_argument("--cmd", action="append", default=[], help="one command word (repeat)")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeat)")
    p.add_argument("--label", action="append", default=[], help="KEY=VALUE (repeat)")
    p.add_argument("--workdir", default="/")
    p.add_argument("--architecture", default="amd64")
    p.add_argument("--epoch", type=int,
                   default=int(os.environ.get("SOURCE_DATE_EPOCH", "0")),
                   help="creation time and newest file time (default $SOURCE_DATE_EPOCH or 0)")
    args = p.parse_args()

    if not os.path.isdir(args.rootfs):
        raise SystemExit(f"oci-layout.py: --rootfs {args.rootfs}: not a folder")
    labels = parse_pairs(args.label, "--label")
    env = [f"{k}={v}" for k, v in parse_pairs(args.env, "--env").items()]
    created = datetime.datetime.fromtimestamp(args.epoch, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")

    parent = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".oci-layout.", dir=parent)
    try:
        os.makedirs(os.path.join(work, "blobs", "sha256"))
        tmp_layer = os.path.join(work, "layer.tmp")
        with open(tmp_layer, "wb") as f:
            diff_id, layer_digest, layer_size = write_layer(args.rootfs, args.epoch, f)
        os.rename(tmp_layer, os.path.join(work, "blobs", "sha256", layer_digest.split(":")[1]))

        config = {
            "created": created,
            "architecture": args.architecture,
            "os": "linux",
            "config": {
                "Env": env,
                "WorkingDir": args.workdir,
                "Labels": labels,
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": created, "created_by": "deploy/image/oci-layout.py"}],
        }
        if args.user:
            config["config"]["User"] = args.user
        if args.entrypoint:
            config["config"]["Entrypoint"] = args.entrypoint
        if args.cmd:
            config["config"]["Cmd"] = args.cmd
        config_digest, config_size = put_blob(work, canonical_json(config))

        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": LAYER_TYPE, "digest": layer_digest, "size": layer_size}],
            "annotations": {k: v for k, v in labels.items() if k.startswith("org.opencontainers.")},
        }
        manifest_digest, manifest_size = put_blob(work, canonical_json(manifest))

        index = {
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [{
                "mediaType": MANIFEST_TYPE,
                "digest": manifest_digest,
                "size": manifest_size,
                "platform": {"architecture": args.architecture, "os": "linux"},
                "annotations": {"org.opencontainers.image.ref.name": args.tag},
            }],
        }
        with open(os.path.join(work, "index.json"), "wb") as f:
            f.write(canonical_json(index))
        with open(os.path.join(work, "oci-layout"), "wb") as f:
            f.write(canonical_json({"imageLayoutVersion": "1.0.0"}))

        os.chmod(work, 0o755)
        if os.path.lexists(args.out):
            shutil.rmtree(args.out)
        os.rename(work, args.out)
        work = None
    finally:
        if work:
            shutil.rmtree(work, ignore_errors=True)

    print(f"{args.out}:{args.tag} manifest {manifest_digest} layer {layer_digest} "
          f"({layer_size / 1048576:.1f} MiB compressed)")


if __name__ == "__main__":
    main()
