"""A warm CLI: ``layerlab`` hands its command to a resident, preloaded process.

Python takes ~20 ms to start here, and importing what ``run`` needs (the command layer,
the services, the runtime: some 100 modules, many of them dataclasses) ~200 ms more, while
a Go binary like Docker's CLI starts in a few. So, as Mercurial's ``chg`` does for ``hg``,
the first ``layerlab`` command of a user starts a **CLI server** that imports all of it
once, and every later command connects to it and has it ``fork`` a child that runs the
command — the same ``cli.main`` — with the caller's stdin/stdout/stderr (passed by
``SCM_RIGHTS``), argv, environment, working directory and umask::

    layerlab (client) ──connect, request + fds 0,1,2──► server ──fork──► child: cli.main
        ▲   signals ─────────────────────────────────────────────────────────► │
        └──────── the child's pid, then its wait status (sent by the server) ──┘

The client waits for the child's wait status and exits the same way (a code, or the same
signal), forwarding the signals a terminal sends meanwhile (ctrl-c, SIGTERM, SIGWINCH,
ctrl-z); if the client dies, the server kills the child, as if it had been the command.

What a command inherits from its process and cannot be handed over — the user and groups,
capabilities, ``no_new_privs``, seccomp, namespaces, cgroup, resource limits, the
interpreter and the engine's code — is the server's **identity**: clients that differ in
any of them reach a different server (the socket's name is a hash of it, and the server
checks it), so a command never runs with anything its caller lacks. A server serves only
its own uid (``SO_PEERCRED``), lives in a private directory, and exits after
``IDLE_SECONDS`` without commands. ``LAYERLAB_CLI_SERVER=0`` runs every command in the
calling process, as does any failure to reach a server.
"""
