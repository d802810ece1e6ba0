"""LayerLab's Jupyter kernel, "LayerLab (Docker)": cells of docker commands, rich outputs.

See docs/kernel.md; `python -m layerlab.kernel.install` installs the kernelspec.
"""
