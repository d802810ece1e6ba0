"""``docker image explore`` (the layer explorer) on images built with real containers:
per-layer A/M/D with whiteouts and opaque directories, wasted bytes, the JSON export."""

from __future__ import annotations

import json

from conftest import Docker, needs_root

pytestmark = needs_root


def layered(docker: Docker) -> None:
    """waste:1 = busybox + a layer that writes /big, /opt/x/a and /etc/motd + a layer that
    deletes /big (whiteout), replaces /opt/x (opaque), and rewrites /etc/motd bigger."""
    docker("run", "--name", "w1", "busybox", "sh", "-c",
           "dd if=/dev/zero of=/big bs=1k count=64 2>/dev/null; mkdir -p /opt/x; "
           "echo a > /opt/x/a; echo 1 > /etc/motd")
    docker("commit", "w1", "waste:0")
    docker("run", "--name", "w2", "waste:0", "sh", "-c",
           "rm /big; rm -rf /opt/x; mkdir /opt/x; echo b > /opt/x/b; "
           "echo 'a longer motd' > /etc/motd")
    docker("commit", "w2", "waste:1")
    docker("rm", "w1", "w2")


def test_changes_waste_and_json(docker: Docker, driver: str) -> None:
    layered(docker)
    doc = json.loads(docker.out("image", "explore", "--format", "json", "waste:1"))
    base, first, second = doc["Layers"]
    inspect = json.loads(docker.out("inspect", "waste:1"))[0]
    assert [lay["DiffID"] for lay in doc["Layers"]] == inspect["RootFS"]["Layers"]
    assert all(c["Kind"] == "A" for c in base["Changes"])
    kinds = {c["Path"]: (c["Kind"], c["Size"], c.get("Via", "")) for c in first["Changes"]}
    assert kinds["/big"] == ("A", 65536, "") and kinds["/opt/x/a"] == ("A", 2, "")
    assert kinds["/etc/motd"] == ("A", 2, "")  # busybox has no /etc/motd
    kinds = {c["Path"]: (c["Kind"], c["Size"], c.get("Via", "")) for c in second["Changes"]}
    assert kinds["/big"] == ("D", 65536, "whiteout")
    # overlayfs records the replaced directory as opaque (dive would not list /opt/x/a);
    # the vfs driver's diff writes a whiteout per path instead
    assert kinds["/opt/x/a"] == ("D", 2, "opaque" if driver == "overlay" else "whiteout")
    assert kinds["/opt/x/b"] == ("A", 2, "")
    assert kinds["/etc/motd"] == ("M", 14, "")
    # wasted = stored − visible: /big entirely, the older /etc/motd, the hidden /opt/x/a
    assert doc["WastedBytes"] == 65536 + 2 + 2 == doc["StoredBytes"] - doc["VisibleBytes"]
    assert doc["StoredBytes"] == sum(lay["Size"] for lay in doc["Layers"])
    top = doc["Wasteful"][0]
    assert top == {"Path": "/big", "WastedBytes": 65536, "WrittenBy": [2], "DeletedBy": 3}
    motd = next(w for w in doc["Wasteful"] if w["Path"] == "/etc/motd")
    assert motd["WastedBytes"] == 2 and "DeletedBy" not in motd  # the old copy, not the new
    assert round(doc["Efficiency"], 3) == round(doc["VisibleBytes"] / doc["StoredBytes"], 3)


def test_text_and_template(docker: Docker) -> None:
    layered(docker)
    text = docker.out("image", "explore", "waste:1")
    assert text.startswith("Image waste:1 (") and "65.5kB wasted" not in text.splitlines()[2]
    assert "efficiency" in text.splitlines()[0] and "/big" in text and "DELETED IN LAYER" in text
    assert docker.out("image", "explore", "--format", "{{len .Layers}} {{.WastedBytes}}",
                      "waste:1") == "3 65540"
    p = docker("image", "explore", "no-such:1", check=False)
    assert p.returncode == 1 and "No such image: no-such:1" in p.stderr
