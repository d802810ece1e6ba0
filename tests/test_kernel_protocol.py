"""The kernel speaks Jupyter's protocol: jupyter_kernel_test's conformance checks."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path

import jupyter_kernel_test
from conftest import needs_root
from kernelkit import kernel_environment


@needs_root
class LayerLabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "layerlab"
    language_name = "docker"
    file_extension = ".sh"

    code_hello_world = "docker run --rm busybox echo hello, world"
    code_stderr = "docker run --rm busybox sh -c 'echo oops >&2'"
    code_generate_error = "docker history no-such-image"
    code_page_something = "docker run?"
    completion_samples = [  # noqa: RUF012 - jupyter_kernel_test's interface
        {"text": "docker ru", "matches": {"run"}},
        {"text": "docker run --rm busyb", "matches": {"busybox:latest", "busybox"}},
        {"text": "docker images --tr", "matches": {"--tree"}},
    ]
    complete_code_samples = [  # noqa: RUF012
        "docker ps", "docker run --rm busybox echo hi", "docker exec -i web sh <<EOF\nls\nEOF"]
    incomplete_code_samples = [  # noqa: RUF012
        "docker run \\", "docker run busybox sh -c 'echo", "docker exec -i web sh <<EOF\nls"]
    invalid_code_samples = ["ls -l", "docker ps | grep web"]  # noqa: RUF012
    code_inspect_sample = "docker run"
    code_display_data = [  # noqa: RUF012
        {"code": "docker images", "mime": "text/html"},
        {"code": "docker images --tree", "mime": "image/svg+xml"},
        {"code": "docker history busybox", "mime": "text/html"},
    ]

    @classmethod
    def setUpClass(cls) -> None:
        cls._env = ExitStack()
        tmp = Path(cls._env.enter_context(tempfile.TemporaryDirectory(prefix="ll-ktest-")))
        cls._env.enter_context(kernel_environment(tmp))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            super().tearDownClass()
        finally:
            cls._env.close()

    def test_inspect_shows_usage(self) -> None:
        self.flush_channels()
        self.kc.inspect("docker commit -m x web", 10)
        reply = self.kc.get_shell_msg(timeout=10)
        text = reply["content"]["data"]["text/plain"]
        assert text.startswith("usage: docker commit") and "--message" in text
