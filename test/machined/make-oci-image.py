#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make-oci-image.py SPEC.json OUT: an OCI image layout directory OUT (or, with
# "format": "docker-save", a docker save tar archive OUT) made from directories of this
# machine, for test-berth-importd-oci.sh and tools/bench-oci.sh: no image comes from the
# internet. SPEC:
#   {"tag": "v1", "format": "oci" | "docker-save",
#    "images": [{"arch": "amd64", "layers": ["DIR", ...], "config": {"Entrypoint": [...], ...}}]}
# A layer is a directory tarred as it is (numeric owners; files named .wh.NAME or
# .wh..wh..opq are whiteouts), gzip-compressed in OCI layouts; "DIR:SUB,SUB..." takes
# only those subdirectories of DIR (a big tree split into layers). Several images make an
# index of platform manifests.

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def walk(directory, subs):
    if not subs:
        yield from os.walk(directory)
        return
    for sub in subs:
        top = os.path.join(directory, sub)
        yield os.path.dirname(top), [], [os.path.basename(top)] if not os.path.isdir(top) or os.path.islink(top) else []
        if os.path.isdir(top) and not os.path.islink(top):
            yield os.path.dirname(top), [os.path.basename(top)], []
            yield from os.walk(top)


def layer_tar(spec):
    directory, _, only = spec.partition(":")
    subs = [s for s in only.split(",") if s]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for root, dirs, files in walk(directory, subs):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                path = os.path.join(root, name)
                arc = os.path.relpath(path, directory)
                info = t.gettarinfo(path, arcname=arc)
                info.uname = info.gname = ""
                if info.isreg():
                    with open(path, "rb") as f:
                        t.addfile(info, f)
                else:
                    t.addfile(info)
    return buf.getvalue()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Layout:
    def __init__(self, out):
        self.out = out
        os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)

    def blob(self, data):
        d = sha(data)
        with open(os.path.join(self.out, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return {"digest": d, "size": len(data)}


def oci_image(layout, image):
    layers, diff_ids = [], []
    for d in image["layers"]:
        raw = layer_tar(d)
        diff_ids.append(sha(raw))
        desc = layout.blob(gzip.compress(raw, compresslevel=6, mtime=0))
        desc["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
        layers.append(desc)
    config = {"architecture": image["arch"], "os": "linux", "config": image.get("config", {}),
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cdesc = layout.blob(json.dumps(config).encode())
    cdesc["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cdesc, "layers": layers}
    mdesc = layout.blob(json.dumps(manifest).encode())
    mdesc["mediaType"] = manifest["mediaType"]
    mdesc["platform"] = {"architecture": image["arch"], "os": "linux"}
    return mdesc


def make_oci(spec, out):
    layout = Layout(out)
    descs = [oci_image(layout, i) for i in spec["images"]]
    if len(descs) == 1:
        top = descs[0]
    else:
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs}
        top = layout.blob(json.dumps(index).encode())
        top["mediaType"] = index["mediaType"]
    top = dict(top)
    top.pop("platform", None)
    top["annotations"] = {"org.opencontainers.image.ref.name": spec.get("tag", "latest")}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [top]}, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def make_docker_save(spec, out):
    image = spec["images"][0]
    files, names, diff_ids = {}, [], []
    for k, d in enumerate(image["layers"]):
        raw = layer_tar(d)
        diff_ids.append(sha(raw))
        names.append("layer%d/layer.tar" % k)
        files[names[-1]] = raw
    config = json.dumps({"architecture": image["arch"], "os": "linux", "config": image.get("config", {}),
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cname = sha(config)[7:] + ".json"
    files[cname] = config
    files["manifest.json"] = json.dumps([{"Config": cname, "RepoTags": ["test/image:" + spec.get("tag", "latest")],
                                          "Layers": names}]).encode()
    with tarfile.open(out, "w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    if spec.get("format", "oci") == "docker-save":
        make_docker_save(spec, sys.argv[2])
    else:
        make_oci(spec, sys.argv[2])


if __name__ == "__main__":
    main()
