"""``python -m layerlab.kernel -f CONNECTION_FILE``: what the kernelspec launches."""

from ipykernel.kernelapp import IPKernelApp

from .kernel import LayerLabKernel

if __name__ == "__main__":
    IPKernelApp.launch_instance(kernel_class=LayerLabKernel)
