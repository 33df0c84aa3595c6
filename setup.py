from setuptools import find_packages, setup

setup(
    name="mlc",
    version="0.1.0",
    description="A machine-learning compiler for NumPy-like Python: tensor expressions, "
                "TensorIR schedules, LLVM and CUDA backends",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["mlc", "mlc.*"]),
    python_requires=">=3.11",
    install_requires=["numpy>=2.3", "llvmlite>=0.48"],
    extras_require={
        # ndindex and pytest-json-report: the Array API conformance suite (tests/test_array_api.py);
        # onnx: mlc.frontend.from_onnx's tests; scikit-learn: its bundled digits data set, which the
        # training examples and their tests learn from; lightgbm and matplotlib: mlc.tune's cost model and
        # tuning-curve tests (its Ray test skips, visibly, without the `distributed` extra);
        # cuda-python + the NVRTC wheel: tests/cuda compiles every generated kernel (no GPU needed);
        # cuobjdump + nvdisasm: the SASS of the tensor-core kernels (tests/cuda/test_sass.py);
        # pytest-xdist: ./run test spreads the suite over every core (-n auto)
        "test": ["pytest>=7", "pytest-xdist>=3.5", "hypothesis>=6.151", "scipy>=1.10", "ndindex>=1.8", "pytest-json-report",
                 "onnx>=1.15", "scikit-learn>=1.3", "lightgbm>=4.0", "matplotlib>=3.7", "cuda-python>=12.6,<13",
                 "nvidia-cuda-nvrtc-cu12", "nvidia-cuda-cuobjdump", "nvidia-cuda-nvdisasm"],
        # mlc.tune: the cost model (LightGBM), the progress bar, Database.plot
        "tune": ["lightgbm>=4.0", "tqdm>=4.60", "matplotlib>=3.7"],
        # mlc.tune(..., runner="ray"): measurement on a Ray cluster
        "distributed": ["ray>=2.9"],
        "onnx": ["onnx>=1.15"],
        # mlc.frontend.from_fx; its tests are marked `torch` (too large a download for CI)
        "torch": ["torch>=2.0"],
        "testing": ["hypothesis>=6.80"],
        # CuPy launches the kernels; cuda-python's NVRTC (CUDA 12, as CuPy's) compiles them to cubin
        "cuda": ["cupy-cuda12x", "cuda-python>=12.6,<13", "nvidia-cuda-nvrtc-cu12"],
        # the peers python -m benchmarks compares against (and NumPy's BLAS, named by threadpoolctl)
        "bench": ["numba", "jax[cpu]", "apache-tvm", "threadpoolctl"],
    },
    # mlc.testing's pytest plugin: registers profiles and --mlc-target, activates nothing by itself
    # (the name is the module's, so `-p mlc.testing.pytest_plugin` never loads it twice)
    entry_points={"pytest11": ["mlc.testing.pytest_plugin = mlc.testing.pytest_plugin"]},
)
