"""Deployment: train a small model, export it, and serve it without mlc's compiler.

1. Train the course's MLP (4 -> 16 -> 3) on Fisher's Iris data in NumPy
   (examples/mlp_end_to_end.py), then jit its inference, the trained weights
   captured as constants: ``probs = predict(x)``.
2. Export the compiled function: ``iris.so`` (a shared library needing only the C
   library, libm and pthreads), ``iris.h`` (its C prototype, shapes and dtypes in
   comments) and the metadata the loader checks.
3. Serve it from a plain C program, compiled with the system's cc against the header.
4. Serve it from a fresh Python process that has NumPy and the loader only: it
   loads ``mlc/runtime/loader.py`` by path, and llvmlite cannot even be imported.
5. Check both against the in-process function, bit for bit.

    python examples/deploy.py [--out DIR] [--steps 400]
"""
from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

import mlc
from mlc.runtime import loader

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from mlp_end_to_end import load_iris, mlp, split, train  # noqa: E402

C_PROGRAM = r"""
#include <stdio.h>
#include "iris.h"

int main(void) {
    static float x[%(rows)d * 4], probs[%(rows)d * 3];
    FILE *f = fopen("features.bin", "rb");
    if (!f || fread(x, sizeof x, 1, f) != 1) return 2;
    fclose(f);
    mlc_iris_main(x, probs);                 /* one call: both layers and the softmax */
    FILE *o = fopen("probs_c.bin", "wb");
    fwrite(probs, sizeof probs, 1, o);
    fclose(o);
    for (int i = 0; i < 3; i++)
        printf("flower %%d: class %%d\n", i, probs[3 * i + 1] > probs[3 * i] ?
               (probs[3 * i + 2] > probs[3 * i + 1] ? 2 : 1) : (probs[3 * i + 2] > probs[3 * i] ? 2 : 0));
    return 0;
}
"""

PYTHON_SERVER = """
import importlib.util, sys
import numpy as np
sys.modules["llvmlite"] = None          # this process has no compiler
spec = importlib.util.spec_from_file_location("loader", %(loader)r)
loader = importlib.util.module_from_spec(spec)
spec.loader.exec_module(loader)
model = loader.load("iris.so")
probs = model(np.fromfile("features.bin", dtype="float32").reshape(-1, 4))
probs.tofile("probs_py.bin")
print("python: mlc imported:", any(m.split(".")[0] == "mlc" for m in sys.modules))
"""


def softmax_predict(w1, b1, w2, b2):
    """The inference function, weights captured: what gets exported."""
    def predict(x):
        logits = mlp(x, w1, b1, w2, b2)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return predict


def main(out: str | None = None, steps: int = 400, verbose: bool = True) -> dict:
    out_dir = pathlib.Path(out or tempfile.mkdtemp(prefix="mlc-deploy-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    x, y, _ = load_iris()
    x_train, y_train, x_test, y_test = split(x, y)
    params = train(x_train, y_train, steps=steps)
    predict = mlc.jit(softmax_predict(*params))
    features = np.ascontiguousarray(x_test, dtype="float32")
    compiled = predict.trace(features).lower().compile()
    library = compiled.export(out_dir / "iris.so")
    expected = compiled(features)
    if verbose:
        print(f"exported {library} ({library.stat().st_size} bytes) and {out_dir / 'iris.h'}:")
        print(textwrap.indent([l for l in (out_dir / "iris.h").read_text().splitlines()
                               if "mlc_iris_main" in l][0], "    "))
    features.tofile(out_dir / "features.bin")

    source = out_dir / "serve.c"
    source.write_text(C_PROGRAM % {"rows": len(features)})
    cc = "cc"
    subprocess.run([cc, "-O2", "-o", "serve", "serve.c", "iris.so", "-Wl,-rpath,$ORIGIN"], cwd=out_dir, check=True)
    served = subprocess.run(["./serve"], cwd=out_dir, check=True, capture_output=True, text=True).stdout
    from_c = np.fromfile(out_dir / "probs_c.bin", dtype="float32").reshape(expected.shape)

    python = subprocess.run([sys.executable, "-c", PYTHON_SERVER % {"loader": loader.__file__}], cwd=out_dir,
                            check=True, capture_output=True, text=True).stdout
    from_python = np.fromfile(out_dir / "probs_py.bin", dtype="float32").reshape(expected.shape)

    result = {"accuracy": float((expected.argmax(axis=1) == y_test).mean()),
              "c_matches": bool(np.array_equal(from_c, expected)),
              "python_matches": bool(np.array_equal(from_python, expected)),
              "python_imported_mlc": "True" in python, "out": out_dir}
    if verbose:
        print(served.strip())
        print(python.strip())
        print(f"test accuracy {result['accuracy']:.3f}; C program bit-identical: {result['c_matches']}; "
              f"compiler-free Python bit-identical: {result['python_matches']}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="folder for iris.so, iris.h and the C program")
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    main(args.out, args.steps)
