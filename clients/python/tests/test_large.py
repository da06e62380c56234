"""A 200 MB push and its verified download in constant memory: the Python process's peak
resident memory, measured with resource.getrusage in a fresh interpreter, stays far below the
file's size."""
from __future__ import annotations

import hashlib
import json
import os
import unittest
from typing import Dict, Optional

from support import OnLocalStore, OnTeamServer, run_python, temp_dir, unique

SIZE = 200 * 1024 * 1024
PEAK_LIMIT = 64 * 1024 * 1024

SCRIPT = r"""
import json, os, resource, sys, time
import modelreg
source, target = sys.argv[-2], sys.argv[-1]
with modelreg.connect() as reg:
    began = time.monotonic()
    version = reg.create_model("big").push(source, comment="200 MB")
    pushed = time.monotonic() - began
    began = time.monotonic()
    result = version.download(target)
    downloaded = time.monotonic() - began
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"push_s": pushed, "download_s": downloaded, "peak_rss": peak, "bytes": result["bytes"], "sha256": version.files[0]["sha256"]}))
"""


class LargeFileBehaviour:
    def child_env(self, project: str) -> Dict[str, Optional[str]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_200mb_push_and_download_in_constant_memory(self) -> None:
        work = temp_dir(self)
        source = os.path.join(work, "weights.bin")
        digest = hashlib.sha256()
        block = os.urandom(1024 * 1024)
        with open(source, "wb") as handle:
            for i in range(SIZE // len(block)):
                chunk = i.to_bytes(8, "big") + block[8:]
                digest.update(chunk)
                handle.write(chunk)
        target = os.path.join(work, "restored")
        done = run_python(SCRIPT.replace("sys.argv[-2], sys.argv[-1]", f"{source!r}, {target!r}"), self.child_env(unique("big")), timeout=600)
        self.assertEqual(done.returncode, 0, done.stderr)
        report = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"\n    {self.backend}: 200 MB push {report['push_s']:.2f} s, download {report['download_s']:.2f} s, "
            f"peak RSS of the Python process {report['peak_rss'] / 1e6:.1f} MB",
            flush=True,
        )
        self.assertEqual(report["sha256"], digest.hexdigest())
        self.assertEqual(report["bytes"], SIZE)
        self.assertEqual(os.path.getsize(os.path.join(target, "weights.bin")), SIZE)
        check = hashlib.sha256()
        with open(os.path.join(target, "weights.bin"), "rb") as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                check.update(chunk)
        self.assertEqual(check.hexdigest(), digest.hexdigest())
        self.assertLess(report["peak_rss"], PEAK_LIMIT)


class LargeOnTeamServer(LargeFileBehaviour, OnTeamServer, unittest.TestCase):
    def child_env(self, project: str) -> Dict[str, Optional[str]]:
        return {"MODELREG_URL": self.server.url, "MODELREG_TOKEN": self.server.admin_token, "MODELREG_PROJECT": project}


class LargeOnLocalStore(LargeFileBehaviour, OnLocalStore, unittest.TestCase):
    def child_env(self, project: str) -> Dict[str, Optional[str]]:
        return {"MODELREG_PROJECT": project}


if __name__ == "__main__":
    unittest.main()
