#!/usr/bin/env bash
# mypy over the installed package names (layerlab.engine, layerlab.kernel): the source dirs
# are engine/ and kernel/, so a link tree under build/ gives mypy the package layout.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck/layerlab
mkdir -p "$tree"
ln -sfn ../../../engine "$tree/engine"
ln -sfn ../../../kernel "$tree/kernel"
cd build/typecheck
exec ../../.venv/bin/mypy --config-file ../../pyproject.toml -p layerlab.engine -p layerlab.kernel
