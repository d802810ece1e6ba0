"""Linux primitives the standard library lacks: namespaces, mounts, pivot_root."""
