#!/usr/bin/env python3
"""sbom.py BINARY VERSION: a CycloneDX 1.5 SBOM (JSON, on stdout) of a Go
binary, from the module graph the binary itself records (`go version -m
-json`): the main module and every dependency with its version, its
go.sum hash and a package URL. Deterministic: no timestamps, no random
serial number (the serial is derived from the binary's SHA-256)."""
import hashlib
import json
import subprocess
import sys
import uuid


def main():
    binary, version = sys.argv[1], sys.argv[2]
    info = json.loads(subprocess.run(["go", "version", "-m", "-json", binary], check=True, capture_output=True, text=True).stdout)
    digest = hashlib.sha256(open(binary, "rb").read()).hexdigest()

    def component(mod, kind):
        path, ver = mod["Path"], mod.get("Version", "")
        if mod.get("Replace"):
            path, ver = mod["Replace"]["Path"], mod["Replace"].get("Version", ver)
        c = {"type": kind, "bom-ref": f"pkg:golang/{path}@{ver}", "name": path, "version": ver,
             "purl": f"pkg:golang/{path}@{ver}"}
        if mod.get("Sum"):
            c["hashes"] = [{"alg": "SHA-256", "content": __import__("base64").b64decode(mod["Sum"][3:]).hex()}]
        return c

    main_mod = dict(info["Main"], Version=version)
    deps = sorted((component(d, "library") for d in info.get("Deps", [])), key=lambda c: c["name"])
    settings = {s["Key"]: s["Value"] for s in info.get("Settings", [])}
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:" + str(uuid.UUID(digest[:32])),
        "version": 1,
        "metadata": {
            "component": dict(component(main_mod, "application"),
                              hashes=[{"alg": "SHA-256", "content": digest}],
                              properties=[{"name": "go:" + k, "value": v} for k, v in sorted(settings.items())]
                              + [{"name": "go:version", "value": info.get("GoVersion", "")}]),
        },
        "components": deps,
        "dependencies": [{"ref": f"pkg:golang/{main_mod['Path']}@{version}", "dependsOn": [c["bom-ref"] for c in deps]}],
    }
    json.dump(bom, sys.stdout, indent=2, sort_keys=False)
    print()


if __name__ == "__main__":
    main()
