"""The classic builder: stages of a Dockerfile, one image per instruction, with the cache.

Every instruction yields an intermediate image whose parent is the previous step's
(``images -a`` shows them): RUN, COPY, ADD and WORKDIR commit a step container's layer,
the other instructions only change the config and record an ``empty_layer`` history entry.
The output is the classic builder's, streamed as it happens through ``progress``.
"""

from __future__ import annotations

import codecs
import copy
import hashlib
import json
import posixpath
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EngineError, NotFound
from ..oci import instructions
from ..oci import reference as refs
from ..oci.digest import chain_ids, short
from ..oci.imageconfig import host_arch
from ..runtime.spec import DEFAULT_PATH
from ..services.engine import Engine
from ..store.layers import Layer
from . import fscopy, semantics
from .args import BuildArgs, StageArgs
from .cache import BuildCache, step_key
from .context import BuildContext, Ignore
from .parse import Instruction, Stage, parse, parse_trigger
from .runner import StepRunner, script_path
from .semantics import StageState
from .shell import Lexer

BUILDKIT_ONLY = ("the --{} option requires BuildKit. LayerLab builds with Docker's classic "
                 "builder, which has no --{}")


@dataclass
class BuildOptions:
    context: Path
    dockerfile: str  # the Dockerfile's text
    dockerfile_name: str = "Dockerfile"
    ignore: Ignore = field(default_factory=lambda: Ignore([]))
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Progress:
    """A piece of the classic output as it happens. ``text`` is what Docker prints (lines
    end in a newline; RUN output comes as it is read); ``step`` is the record of the step
    it belongs to, updated as the step goes, so a front-end can keep a live step list."""

    kind: str  # "step" (Step N/M), "output" (a RUN's output), "note", "done" (---> image)
    text: str
    step: dict[str, Any] | None


@dataclass
class BuildResult:
    image_id: str
    tags: list[str]
    steps: list[dict[str, Any]]


class BuildError(EngineError):
    """A failed build. Docker prefixes ``Error response from daemon:`` only to errors
    raised before the build printed anything; a failing RUN exits with its own code."""

    def __init__(self, message: str, exit_code: int = 1, daemon: bool = True,
                 steps: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code or 1
        self.daemon = daemon
        self.steps = steps or []


def build(engine: Engine, opts: BuildOptions, progress: Callable[[Progress], None],
          ) -> BuildResult:
    builder = Builder(engine, opts, progress)
    try:
        with engine.store.journal.intent("build") as intent:
            builder.runner.intent = intent
            return builder.run()
    except BuildError as e:
        e.daemon = e.daemon and not builder.started
        e.steps = builder.steps
        raise
    except EngineError as e:
        raise BuildError(str(e), e.exit_code, not builder.started, builder.steps) from None


class Builder:
    """One build: the stages in order, each step through the cache or the step runner,
    the output and the step records as it goes."""

    def __init__(self, engine: Engine, opts: BuildOptions,
                 progress: Callable[[Progress], None]) -> None:
        self.engine = engine
        self.opts = opts
        self.progress = progress
        self.runner = StepRunner(engine)
        self.cache = None if opts.no_cache else BuildCache(engine)
        self.context = BuildContext(opts.context, opts.ignore)
        self.args = BuildArgs(opts.build_args)
        self.lex = Lexer()
        self.steps: list[dict[str, Any]] = []
        self.started = False
        self.total = 0
        self.rec: dict[str, Any] = {}
        self.t0 = 0.0
        # the stage being built
        self.parent = ""  # the image the next step builds on ("" before any, FROM scratch)
        self.parent_config: dict[str, Any] = {}
        self.state = StageState({})
        self.scope: StageArgs = self.args.stage()
        self.stage_names: dict[str, int] = {}
        self.stage_images: list[str] = []

    # -- output ---------------------------------------------------------------------------
    def emit(self, kind: str, text: str) -> None:
        self.started = True
        self.progress(Progress(kind, text, self.rec or None))

    def line(self, text: str, kind: str = "note") -> None:
        self.emit(kind, text + "\n")

    def begin(self, ins: Instruction, stage: Stage | None) -> None:
        index = len([s for s in self.steps if not s.get("trigger")]) + 1
        self.rec = {"index": index, "total": self.total,
                    "stage": (stage.name or str(stage.index)) if stage else "",
                    "instruction": ins.text, "image": "", "layer": "", "chain_id": "", "size": 0,
                    "cached": False, "container": "", "duration": 0.0}
        self.steps.append(self.rec)
        self.t0 = time.monotonic()
        self.line(f"Step {index}/{self.total} : {ins.text}", "step")

    def finish(self, show: bool = True) -> None:
        self.rec["image"] = self.parent
        self.rec["duration"] = round(time.monotonic() - self.t0, 3)
        if show:
            self.line(f" ---> {short(self.parent)}", "done")

    # -- the build ------------------------------------------------------------------------
    def run(self) -> BuildResult:
        tags = list(dict.fromkeys(str(refs.parse(t)) for t in self.opts.tags))
        df = parse(self.opts.dockerfile, self.opts.dockerfile_name)
        self.lex = Lexer(df.escape)
        stages = df.stages
        if self.opts.target:
            found = [s for s in stages if s.name == self.opts.target.lower()]
            if not found:
                raise BuildError(f"failed to reach build target {self.opts.target} in "
                                 "Dockerfile")
            stages = stages[: found[0].index + 1]
        for key, value in self.opts.labels.items():
            stages[-1].instructions.append(Instruction(
                "LABEL", [self._literal(key), self._literal(value)], [], False,
                f'LABEL "{key}"="{value}"', 0))
        self.total = df.steps(len(stages))
        for ins in df.meta_args:
            self.begin(ins, None)
            for name, default in self._arg_pairs(ins, self.args.meta_env()):
                self.args.declare_meta(name, default)
            self.finish(show=False)
        for stage in stages:
            self.stage(stage)
        image_id = self.stage_images[-1]
        if not image_id:
            raise BuildError("No image was generated. Is your Dockerfile empty?")
        unused = self.args.unused()
        if unused:
            self.line(f"[Warning] One or more build-args [{' '.join(unused)}] were not "
                      "consumed")
        self.rec = {}
        for tag in tags:
            if self.engine.images.refs().get(tag) != image_id:
                self.engine.images.tag(image_id, tag)
        return BuildResult(image_id, tags, self.steps)

    def _literal(self, text: str) -> str:
        """``text`` quoted for the lexer, so ``--label`` values are taken as they are."""
        esc = self.lex.escape
        return "".join(esc + ch if ch in ("$", '"', "'", esc) else ch for ch in text)

    def stage(self, stage: Stage) -> None:
        self.begin(stage.source, stage)
        self.parent, self.parent_config = self.base_image(stage)
        config = copy.deepcopy(self.parent_config.get("config") or {})
        if not any(e.startswith("PATH=") for e in config.get("Env") or []):
            config["Env"] = [*(config.get("Env") or []), f"PATH={DEFAULT_PATH}"]
        triggers = config.pop("OnBuild", None) or []
        self.state = StageState(config)
        self.scope = self.args.stage()
        if triggers:
            plural = "s" if len(triggers) > 1 else ""
            self.line(f"# Executing {len(triggers)} build trigger{plural}")
            from_rec = self.rec
            for expression in triggers:
                self.rec = {**from_rec, "instruction": expression, "trigger": True}
                self.steps.append(self.rec)
                self.dispatch(parse_trigger(expression, stage.source.line), stage)
                self.rec["image"] = self.parent
            self.rec = from_rec
        self.finish()
        for ins in stage.instructions:
            self.begin(ins, stage)
            self.dispatch(ins, stage)
            self.finish()
        if stage.name:
            self.stage_names[stage.name] = stage.index
        self.stage_images.append(self.parent)

    def base_image(self, stage: Stage) -> tuple[str, dict[str, Any]]:
        name = self.lex.word(stage.base, self.args.meta_env())
        if stage.platform:
            platform = self.lex.word(stage.platform, self.args.meta_env())
            if platform != f"linux/{host_arch()}":
                self.line(f"[Warning] FROM --platform={platform} is ignored: LayerLab builds "
                          f"for this host's platform, linux/{host_arch()}")
        if name == "scratch":
            return "", {}
        if name.lower() in self.stage_names:
            image_id = self.stage_images[self.stage_names[name.lower()]]
            return image_id, self.engine.images.get(image_id).config if image_id else {}
        return self.image_ref(name)

    def image_ref(self, name: str) -> tuple[str, dict[str, Any]]:
        """A FROM or COPY --from image: local, else pulled as ``run`` does."""
        try:
            img = self.engine.images.get(name)
        except NotFound:
            from ..transfer import registry

            refs.parse(name)
            registry.pull(self.engine, name, self.line)
            img = self.engine.images.get(name)
        return img.id, img.config

    # -- one instruction ------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """What ``$VAR`` means in this step: the stage's ARGs, ENV winning over them."""
        image_env = self.state.env()
        return self.scope.env(image_env) | image_env

    def dispatch(self, ins: Instruction, stage: Stage) -> None:
        k = ins.keyword
        if k == "RUN":
            self.run_step(ins)
        elif k in ("COPY", "ADD"):
            self.copy_step(ins, stage)
        elif k == "WORKDIR":
            self.workdir_step(ins)
        elif k == "ARG":
            parts = []
            for name, default in self._arg_pairs(ins, self.env()):
                self.scope.declare(name, default)
                parts.append(name if default is None else f"{name}={default}")
            self.metadata_step(semantics.nop(self.state.shell, "ARG " + " ".join(parts)))
        else:
            self.metadata_step(semantics.apply(self.state, ins, self.lex, self.env(), self.line))

    def _arg_pairs(self, ins: Instruction, env: dict[str, str]) -> list[tuple[str, str | None]]:
        out = []
        for raw in ins.args:
            key, sep, value = raw.partition("=")
            name = self.lex.word(key, env)
            if not name:
                raise BuildError(f"dockerfile parse error on line {ins.line}: ARG names can "
                                 "not be blank")
            out.append((name, self.lex.word(value, env) if sep else None))
        return out

    def _key(self, created_by: str, extra: str = "") -> str:
        return step_key(created_by, self.state.config, self.state.author + extra)

    def cached(self, key: str) -> bool:
        """Take the step from the cache if an earlier build made it on this parent."""
        hit = self.cache.find(self.parent, key) if self.cache else None
        if hit is None:
            return False
        self.line(" ---> Using cache")
        self.parent_config = self.engine.images.get(hit).config
        self.parent = hit
        self.rec["cached"] = True
        if not self.parent_config["history"][-1].get("empty_layer"):
            diff_ids = self.parent_config["rootfs"]["diff_ids"]
            layer = self.engine.store.layers.find(chain_ids(diff_ids)[-1])
            self._layer(layer)
        return True

    def _layer(self, layer: Layer | None) -> None:
        if layer is not None:
            self.rec["layer"], self.rec["size"] = layer.diff_id, layer.size
            self.rec["chain_id"] = layer.chain_id

    def commit_image(self, created_by: str, layer: Layer | None, key: str) -> None:
        image_id, config = self.runner.image(
            self.parent, self.parent_config, copy.deepcopy(self.state.config), created_by,
            layer, self.state.author, key)
        if self.cache:
            self.cache.add(self.parent, key, image_id)
        self.parent, self.parent_config = image_id, config
        self._layer(layer)

    def metadata_step(self, created_by: str) -> None:
        key = self._key(created_by)
        if not self.cached(key):
            self.commit_image(created_by, None, key)

    def run_step(self, ins: Instruction) -> None:
        flags = ins.flag_values({"mount": None, "network": None, "security": None})
        for name in ("mount", "security"):
            if flags[name] is not None:
                raise BuildError(BUILDKIT_ONLY.format(name, name))
        if flags["network"] not in (None, "none", "default"):
            raise BuildError(f"RUN --network={flags['network']}: LayerLab's build steps run "
                             "without a network (use none or default)")
        shell = self.state.shell
        script = None
        if ins.heredocs and not ins.json:
            shown = [*shell, ins.args[0] + "\n" + "".join(
                h.content + h.name + "\n" for h in ins.heredocs)]
            argv = shown
            h = ins.heredocs[0]
            if len(ins.heredocs) == 1 and re.fullmatch(
                    r"<<-?([\"']?)" + re.escape(h.name) + r"\1", ins.args[0].strip()):
                argv = [*shell, h.text]  # the whole command is the heredoc: run it
                if h.text.startswith("#!"):
                    argv, script = [script_path(h.name)], h.text
        else:
            argv = shown = semantics.command(ins, shell)
        image_env = self.state.env()
        created_by = " ".join([*self.scope.history_prefix(image_env), *shown])
        key = self._key(created_by)
        if self.cached(key):
            return
        decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        c, code = self.runner.run(
            self.parent, argv, [f"{k}={v}" for k, v in self.scope.env(image_env).items()],
            script, started=self._step_container,
            output=lambda chunk: self.emit("output", decoder.decode(chunk)))
        self.rec["container"] = c.ID
        if code != 0:
            raise BuildError(f"The command '{' '.join(shown)}' returned a non-zero code: "
                             f"{code}", code, daemon=False)
        layer = self.runner.commit(c)
        self.commit_image(created_by, layer, key)
        self.runner.remove(c)
        self.line(f"Removing intermediate container {short(c.ID)}")

    def _step_container(self, cid: str) -> None:
        """The RUN step's container started: a front-end's step list can name it now."""
        self.rec["container"] = cid
        self.line(f" ---> Running in {short(cid)}")

    def workdir_step(self, ins: Instruction) -> None:
        path = instructions.set_workdir(self.state.config, self.lex.word(ins.args[0], self.env()))
        created_by = semantics.nop1(self.state.shell, "WORKDIR " + path)
        key = self._key(created_by)
        if self.cached(key):
            return
        layer = self.runner.change(self.parent, [*self.state.shell, "#(nop) WORKDIR " + path],
                                   lambda root: fscopy.ensure_dir(root, path, (0, 0)))
        self.commit_image(created_by, layer, key)

    def copy_step(self, ins: Instruction, stage: Stage) -> None:
        what = ins.keyword
        known: dict[str, str | None] = {"chown": "", "chmod": "", "link": None}
        known |= {"from": ""} if what == "COPY" else {"checksum": "", "keep-git-dir": None}
        flags = ins.flag_values(known)
        env = self.env()
        chown = self.lex.word(flags["chown"] or "", env)
        chmod_text = self.lex.word(flags["chmod"] or "", env)
        chmod = fscopy.parse_chmod(chmod_text)
        dest = self.lex.word(ins.args[-1], env)
        if not dest:
            raise BuildError(f"{what} failed: the destination is empty")
        target = dest if dest.startswith("/") else posixpath.join(
            "/", self.state.config.get("WorkingDir") or "/", dest) + (
            "/" if dest.endswith("/") and dest != "/" else "")
        comment_flags = (f"--chown={chown}" if chown else "") + (
            f"--chmod={chmod_text} " if chmod_text else "")

        def step(tree: BuildContext, walker: fscopy.Walker, key: str) -> None:
            """The copy itself; ``key`` is "" when the sources' hashes make the key."""
            sources = self.sources(ins, tree, walker, env)
            hashes = [fscopy.source_hash(s) for s in sources]
            shown = hashes[0][0] if len(hashes) == 1 else "multi:" + hashlib.sha256(
                ",".join(h for h, _ in hashes).encode()).hexdigest()
            text = f"{what} {comment_flags}{shown} in {dest} "
            created_by = semantics.nop1(self.state.shell, text)
            if not key:
                key = self._key(created_by, json.dumps([m for _, m in hashes]) + chown)
                if self.cached(key):
                    return

            def modify(root: str) -> None:
                owner = fscopy.resolve_owner(root, chown)
                fscopy.copy_sources(root, sources, target, owner, chmod, what)

            layer = self.runner.change(self.parent, [*self.state.shell, "#(nop) " + text],
                                       modify)
            self.commit_image(created_by, layer, key)

        source_ref = self.lex.word(flags.get("from") or "", env)
        if not source_ref:
            step(self.context, self.context.walk, "")
            return
        # From an image (which never changes) the key needs no hashing: a hit mounts nothing
        image_id = self.from_image(source_ref, stage)
        key = self._key(json.dumps([what, image_id, [self.lex.word(a, env) for a in ins.args],
                                    chown, chmod_text]))
        if self.cached(key):
            return
        with self.runner.image_root(image_id) as root:
            tree = BuildContext(Path(root), Ignore([]), scoped=True,
                                where=f"stage or image {source_ref}")
            step(tree, fscopy.walk_tree, key)

    def from_image(self, ref: str, stage: Stage) -> str:
        """``COPY --from``: an earlier stage by name or index, else an image."""
        low = ref.lower()
        if low in self.stage_names:
            return self.stage_images[self.stage_names[low]]
        if low == stage.name:
            raise BuildError(f"circular dependency detected on stage: {ref}")
        if ref.isdigit():
            if int(ref) >= stage.index:
                raise BuildError(f"invalid from flag value {ref}: refers to a stage that is "
                                 f"not before this one (stage {stage.index})")
            return self.stage_images[int(ref)]
        try:
            return self.image_ref(ref)[0]
        except EngineError as e:
            known = ", ".join(self.stage_names) or "none"
            raise BuildError(f"invalid from flag value {ref}: no build stage of that name "
                             f"before this one (stages so far: {known}), and no such image: "
                             f"{e}") from None

    def sources(self, ins: Instruction, tree: BuildContext, walker: fscopy.Walker,
                env: dict[str, str]) -> list[fscopy.Source]:
        heredocs = {h.name: h for h in ins.heredocs}
        out = []
        for raw in ins.args[:-1]:
            name = re.sub(r"^<<-?([\"']?)(.*)\1$", r"\2", raw)
            if raw.startswith("<<") and name in heredocs:
                h = heredocs[name]
                data = self.lex.heredoc(h.text, env) if h.expand else h.text
                out.append(fscopy.Source(name, data=data.encode()))
                continue
            src = self.lex.word(raw, env)
            if ins.keyword == "ADD" and re.match(r"^(https?|git)://|^git@", src):
                raise BuildError(f"ADD failed: cannot fetch {src}: LayerLab builds offline "
                                 "(no network in build steps); download the file into the "
                                 "build context and COPY it instead")
            for entry in tree.lookup(src, ins.keyword):
                out.append(fscopy.Source(
                    posixpath.basename(entry.rel) or posixpath.basename(src.rstrip("/")),
                    entry, walker,
                    archive=ins.keyword == "ADD" and not entry.is_dir
                    and fscopy.is_archive(entry.host)))
        return out
