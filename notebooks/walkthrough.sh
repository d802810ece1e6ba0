#!/usr/bin/env bash
# The seed article, in the terminal: images are read-only layers, a container adds one
# read-write layer, commit turns it into a new read-only layer. Run as root.
# (The notebook tutorial replaces this once the LayerLab kernel lands.)
set -euo pipefail
ll=${LAYERLAB:-layerlab}
step() { printf '\n\033[1m$ docker %s\033[0m\n' "$*"; $ll "$@"; }

step pull busybox
step images
step inspect --format '{{json .RootFS.Layers}}' busybox       # S1: read-only layers
step create --name seed busybox sh -c 'echo hello > /greeting; rm /etc/group'
step ps -a                                                        # S5: created, nothing runs
step start -a seed                                                # S6: the process space
step diff seed                                                    # S4: A / C / D in the RW layer
step inspect --format '{{json .GraphDriver}}' seed                # S2: lower/upper/merged
step commit -m 'add greeting' seed seed-image:1                   # S15: RW → new read-only layer
step history seed-image:1                                         # S21: newest first
step images --tree                                                # S9: shared layers
step run --rm seed-image:1 cat /greeting                          # S7: create + start
step rm seed                                                      # S13
step rmi seed-image:1                                             # S14
