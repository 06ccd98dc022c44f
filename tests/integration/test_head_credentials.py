"""Metadata's `credentials` key through CloudAPI: kept on the instance,
left out of what `triton instance get` and `metadata list` show unless
the caller asks (`--credentials`, ?credentials=true), as CloudAPI does."""
import json

from test_head_agent import converged
from test_head_api import triton_bin  # noqa: F401  (fixture)


def test_credentials_are_shown_only_on_request(workdir, triton_bin):  # noqa: F811
    with converged(workdir) as (dc, node):
        dc.triton(triton_bin, "instance", "create", "-w", "-n", "db0",
                  "-m", "credentials=root:s3cret", "-m", "note=hi",
                  dc.image_name, "bb-128M")
        inst = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                    "db0").stdout)
        assert inst["metadata"] == {"note": "hi"}
        assert node.vm(inst["id"])["customer_metadata"] == {
            "note": "hi", "credentials": "root:s3cret"}
        shown = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                     "--credentials", "db0").stdout)
        assert shown["metadata"] == {"note": "hi",
                                     "credentials": "root:s3cret"}
        listed = json.loads(dc.triton(triton_bin, "instance", "list", "-j",
                                      "-o", "name").stdout.splitlines()[0])
        assert "credentials" not in json.dumps(listed)
        assert json.loads(dc.triton(triton_bin, "instance", "metadata",
                                    "list", "-j", "db0").stdout) == \
            {"note": "hi"}
        # Named on its own, the key is the caller's to read.
        assert dc.triton(triton_bin, "instance", "metadata", "get", "db0",
                         "credentials").stdout == "root:s3cret\n"
