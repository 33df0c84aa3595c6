"""mlc.frontend.from_fx: torch.fx graphs of the course's models against torch itself.

PyTorch is too large a download for CI, so the tests that need it are marked
``torch`` and skip (visibly, with the reason) where it is not installed; run
them with ``pip install -e '.[test,torch]' && pytest -m torch tests/frontend``.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import mlc
from mlc.frontend import FrontendError, UnsupportedOpError, from_fx

HAVE_TORCH = importlib.util.find_spec("torch") is not None


def torch_test(fn):
    """Marked ``torch``; skipped, with the reason shown, where PyTorch is not installed."""
    skip = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed (pip install -e '.[torch]')")
    return pytest.mark.torch(skip(fn))


def run(graph_module, *inputs):
    mod = from_fx(graph_module, [(x.shape, x.dtype.name) for x in inputs])
    got = mlc.build(mod, "llvm")["main"](*inputs)
    return mod, got


def compare(model, *inputs, rtol=1e-4, atol=1e-5):
    import torch
    model.eval()
    gm = torch.fx.symbolic_trace(model)
    with torch.no_grad():
        expected = model(*(torch.from_numpy(x) for x in inputs))
    mod, got = run(gm, *inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e.numpy(), rtol=rtol, atol=atol)
    return mod


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


@torch_test
@pytest.mark.parametrize("batch", [1, 5])
def test_course_mlp(batch):
    import torch

    class MLP(torch.nn.Module):  # the course's model: Linear, ReLU, flatten
        def __init__(self):
            super().__init__()
            self.linear0 = torch.nn.Linear(784, 128)
            self.relu = torch.nn.ReLU()
            self.linear1 = torch.nn.Linear(128, 10)

        def forward(self, x):
            return self.linear1(self.relu(self.linear0(torch.flatten(x, 1))))

    mod = compare(MLP(), rand(batch, 1, 28, 28))
    assert mod["main"].ops() == ["reshape", "nn.dense", "add", "nn.relu", "nn.dense", "add"]


@torch_test
def test_functional_mlp_with_matmul_and_add():
    import torch

    class Functional(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w0 = torch.nn.Parameter(torch.randn(4, 16))
            self.b0 = torch.nn.Parameter(torch.randn(16))
            self.w1 = torch.nn.Parameter(torch.randn(16, 3))

        def forward(self, x):
            h = torch.relu(torch.matmul(x, self.w0) + self.b0)
            return h @ self.w1 * 0.5 - 1.0

    compare(Functional(), rand(7, 4))


@torch_test
def test_small_cnn():
    import torch

    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 4, 3, stride=2, padding="valid", groups=2), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(4 * 1 * 1, 10), torch.nn.Softmax(dim=-1))
    mod = compare(model, rand(2, 1, 8, 8))
    assert "nn.conv2d" in mod["main"].ops() and "nn.max_pool2d" in mod["main"].ops()


@torch_test
def test_transformer_block():
    import torch
    import torch.nn.functional as F

    class Block(torch.nn.Module):
        def __init__(self, d=8):
            super().__init__()
            self.q, self.k, self.v = (torch.nn.Linear(d, d) for _ in range(3))
            self.proj = torch.nn.Linear(2 * d, d)
            self.norm0, self.norm1 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d, eps=1e-3)
            self.mlp0, self.act, self.mlp1 = torch.nn.Linear(d, 2 * d), torch.nn.GELU(), torch.nn.Linear(2 * d, d)
            self.drop = torch.nn.Dropout(0.1)

        def forward(self, x):
            q, k, v = self.q(x), self.k(x), self.v(x)
            scores = torch.matmul(q, k.transpose(-2, -1)) / 8 ** 0.5
            ctx = F.softmax(scores, dim=-1) @ v
            h = self.norm0(self.drop(self.proj(torch.cat([ctx, x], dim=-1))) + x)
            m = self.mlp1(F.gelu(self.mlp0(h), approximate="tanh") + self.act(self.mlp0(h)))
            out = self.norm1(m + h)
            return out.reshape(x.shape[0], -1).view(x.size(0), 4, 8).permute(0, 2, 1).contiguous()

    compare(Block(), rand(2, 4, 8))


@torch_test
def test_batch_norm_dropout_layer_norm_and_activations_in_eval_mode():
    import torch

    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU6(), torch.nn.Dropout(0.5),
        torch.nn.Conv2d(4, 4, 1), torch.nn.BatchNorm2d(4, affine=False), torch.nn.SiLU(),
        torch.nn.LeakyReLU(0.2), torch.nn.ELU(), torch.nn.Hardswish(), torch.nn.Hardsigmoid(),
        torch.nn.Flatten(), torch.nn.LayerNorm(4 * 5 * 5), torch.nn.Softplus(beta=2.0), torch.nn.Mish(),
        torch.nn.Hardtanh(-0.5, 0.5), torch.nn.LogSoftmax(dim=-1))
    for m in model:  # running statistics that are not the defaults
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    compare(model, rand(2, 3, 5, 5) * 3)


@torch_test
def test_embedding_bag_of_words():
    import torch

    class Bag(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(11, 6)
            self.out = torch.nn.Linear(6, 3)

        def forward(self, tokens):
            return self.out(torch.nn.functional.silu(self.emb(tokens)))

    model = Bag().eval()
    tokens = np.random.default_rng(0).integers(0, 11, (2, 5)).astype("int64")
    compare(model, tokens)


@torch_test
def test_an_unsupported_module_names_the_node():
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LSTM(4, 4))
    with pytest.raises(UnsupportedOpError, match=r"fx node '\w+' \(call_module 1\): module LSTM is not "
                                                  r"supported; supported: modules Linear, ReLU"):
        from_fx(torch.fx.symbolic_trace(model), [((2, 4), "float32")])


@torch_test
def test_input_info_must_match_the_placeholders():
    import torch

    gm = torch.fx.symbolic_trace(torch.nn.ReLU())
    with pytest.raises(FrontendError, match=r"the graph has 1 input\(s\) \['input\w*'\] but input_info gives 2"):
        from_fx(gm, [((2,), "float32"), ((2,), "float32")])
    assert from_fx(gm, [((2, 3), torch.float32)])["main"].inputs[0].type.dtype == "float32"


@pytest.mark.skipif(HAVE_TORCH, reason="checks the message given where PyTorch is missing")
def test_without_torch_from_fx_says_how_to_install_it():
    with pytest.raises(FrontendError, match=r"from_fx needs PyTorch; install it with `pip install torch`"):
        from_fx(object(), [((2,), "float32")])


def test_import_mlc_frontend_does_not_import_torch():
    code = "import sys, mlc; mlc.frontend.from_fx; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@torch_test
@pytest.mark.parametrize("batch_first,need_weights,average,masks,shapes", [
    (False, True, True, "none", "self"),
    (True, True, False, "float", "self"),
    (True, False, True, "bool", "cross"),
    (False, True, True, "padding", "kvdim"),
    (False, True, False, "none", "unbatched"),
])
def test_multihead_attention_matches_torch(batch_first, need_weights, average, masks, shapes):
    import torch

    e, heads, n, length, source = 8, 2, 3, 5, 4
    kdim = vdim = 6 if shapes == "kvdim" else None

    class Attention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = torch.nn.MultiheadAttention(e, heads, batch_first=batch_first, kdim=kdim, vdim=vdim)
            self.norm = torch.nn.LayerNorm(e)

        def forward(self, q, kv, mask):
            kwargs = {"need_weights": need_weights, "average_attn_weights": average}
            if masks == "padding":
                kwargs["key_padding_mask"] = mask
            elif masks != "none":
                kwargs["attn_mask"] = mask
            out, weights = self.attn(q, kv, kv, **kwargs)
            return (self.norm(out + q), weights) if need_weights else self.norm(out + q)

    torch.manual_seed(0)
    model = Attention()
    with torch.no_grad():  # biases that are not zeros
        model.attn.in_proj_bias.uniform_(-1, 1) if model.attn.in_proj_bias is not None else None
        model.attn.out_proj.bias.uniform_(-1, 1)
    s = length if shapes in ("self", "unbatched") else source
    kv_dim = kdim or e
    if shapes == "unbatched":
        q, kv = rand(length, e), rand(s, kv_dim, seed=1)
    elif batch_first:
        q, kv = rand(n, length, e), rand(n, s, kv_dim, seed=1)
    else:
        q, kv = rand(length, n, e), rand(s, n, kv_dim, seed=1)
    if shapes == "self":
        kv = q
    rng = np.random.default_rng(2)
    if masks == "float":
        mask = rng.standard_normal((length, s)).astype("float32")
    elif masks == "bool":
        mask = rng.random((n * heads, length, s)) < 0.3
        mask[..., 0] = False  # every query attends to something (else NaN rows, in torch too)
    elif masks == "padding":
        mask = np.zeros((n, s), bool)
        mask[0, -1] = mask[2, 1] = True
    else:
        mask = np.zeros(1, "float32")  # unused
    mod = compare(model, q, kv, mask, rtol=1e-4, atol=1e-5)
    assert "nn.softmax" in mod["main"].ops()


@torch_test
def test_multihead_attention_in_training_mode_is_refused():
    import torch

    class Attention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = torch.nn.MultiheadAttention(4, 2, dropout=0.1)

        def forward(self, x):
            return self.attn(x, x, x)[0]

    with pytest.raises(mlc.MLCError, match="MultiheadAttention in training mode"):
        from_fx(torch.fx.symbolic_trace(Attention().train()), [((3, 1, 4), "float32")])


@torch_test
def test_a_dynamic_batch_imports_once_and_runs_every_batch_size_with_torch_tensors():
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.GELU(), torch.nn.LayerNorm(8),
                                torch.nn.Linear(8, 3), torch.nn.Softmax(dim=-1)).eval()
    lib = mlc.build(from_fx(torch.fx.symbolic_trace(model), [(("N", 6), torch.float32)]), "llvm")
    for batch in (1, 7, 64):
        x = torch.randn(batch, 6)
        with torch.no_grad():
            expected = model(x).numpy()
        np.testing.assert_allclose(lib["main"](x), expected, rtol=1e-5, atol=1e-6)  # a torch.Tensor, by DLPack
