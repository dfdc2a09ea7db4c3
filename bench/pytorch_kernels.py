#!/usr/bin/env python3
"""PyTorch's time for single kernels, the per-kernel anchor of `npm run bench -- --vs-pytorch`.

Reads from stdin the JSON that bench/vs-pytorch.ts writes: kernel calls as tfjs names them
(Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter, BatchMatMul with their tfjs shapes and
attributes, traced from xp's models by bench/kernel-shapes.ts), the thread count and the
rounds. Runs each as PyTorch's training does: convolutions NCHW through
aten.convolution / aten.convolution_backward (oneDNN), products through torch.matmul on the
transposed views (the system BLAS). Prints one JSON object: the fastest ms of each call.

    /usr/bin/python3 bench/pytorch_kernels.py < calls.json
"""
import json
import os
import sys
import time

# Before torch loads: OpenMP's default spin-waiting stalls on a shared 2-vCPU machine
# (docs/performance.md), and xp's native kernels run with the same policy.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from pytorch_unet import limit_openblas_threads, loaded_libraries  # noqa: E402


def nchw(shape):
    n, h, w, c = shape
    return torch.randn(n, c, h, w)


def conv_geometry(call):
    """Stride, symmetric padding and dilation of a tfjs conv with a 'same' or 'valid' pad."""
    attrs = call["attrs"]
    strides = attrs["strides"]
    stride = [strides, strides] if isinstance(strides, int) else strides
    dilations = attrs.get("dilations", 1)
    dilation = [dilations, dilations] if isinstance(dilations, int) else dilations
    if attrs["pad"] == "valid":
        return stride, [0, 0], dilation
    if attrs["pad"] != "same" or stride != [1, 1]:
        raise ValueError(f"{call['kernel']}: only stride-1 'same' or 'valid' convs are compared, got {attrs}")
    kernel = call["filterShape"]
    padding = [dilation[i] * (kernel[i] - 1) // 2 for i in range(2)]
    if any(dilation[i] * (kernel[i] - 1) % 2 for i in range(2)):
        raise ValueError(f"{call['kernel']}: asymmetric 'same' padding has no PyTorch counterpart")
    return stride, padding, dilation


def make_call(call):
    """A function running the call once, its tensors made up front."""
    kernel, inputs = call["kernel"], call["inputs"]
    if kernel == "BatchMatMul":
        a, b = torch.randn(*inputs["a"]), torch.randn(*inputs["b"])
        a = a.transpose(-1, -2) if call["attrs"].get("transposeA") else a
        b = b.transpose(-1, -2) if call["attrs"].get("transposeB") else b
        return lambda: torch.matmul(a, b)
    filter_shape = inputs.get("filter") or call["attrs"]["filterShape"]
    call["filterShape"] = filter_shape
    stride, padding, dilation = conv_geometry(call)
    kh, kw, cin, cout = filter_shape
    weight = torch.randn(cout, cin, kh, kw)
    if kernel == "Conv2D":
        x = nchw(inputs["x"])
        return lambda: torch.ops.aten.convolution(x, weight, None, stride, padding, dilation, False, [0, 0], 1)
    if kernel == "Conv2DBackpropInput":
        dy = nchw(inputs["dy"])
        x = nchw(call["attrs"]["inputShape"])
        mask = [True, False, False]
    else:
        x, dy = nchw(inputs["x"]), nchw(inputs["dy"])
        mask = [False, True, False]
    return lambda: torch.ops.aten.convolution_backward(dy, x, weight, None, stride, padding, dilation, False, [0, 0], 1, mask)


def fastest_ms(fn, rounds):
    fn()  # oneDNN builds its primitive on the first call
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main():
    request = json.load(sys.stdin)
    threads = request["threads"]
    torch.set_num_threads(threads)
    limit_openblas_threads(threads)
    with torch.no_grad():
        ms = [fastest_ms(make_call(call), request["rounds"]) for call in request["calls"]]
    print(json.dumps({"torch": torch.__version__, "threads": threads, "blas": loaded_libraries("libblas"), "ms": ms}))


if __name__ == "__main__":
    main()
