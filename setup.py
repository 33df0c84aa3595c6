from setuptools import find_packages, setup

setup(
    name="mlc",
    version="0.1.0",
    description="A machine-learning compiler for NumPy-like Python: tensor expressions, "
                "TensorIR schedules, LLVM and CUDA backends",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["mlc", "mlc.*"]),
    python_requires=">=3.10",
    install_requires=["numpy>=1.26", "llvmlite>=0.44"],
    extras_require={
        # ndindex and pytest-json-report: the Array API conformance suite (tests/test_array_api.py)
        "test": ["pytest>=7", "hypothesis>=6.151", "scipy>=1.10", "ndindex>=1.8", "pytest-json-report"],
        "cuda": ["cupy-cuda12x"],
    },
)
