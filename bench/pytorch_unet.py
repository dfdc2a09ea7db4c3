#!/usr/bin/env python3
"""Training throughput of xp's UNets in PyTorch: the anchor of `npm run bench -- --vs-pytorch`.

Builds the paper's UNet (experiments/mnist-standard.yaml, 28,327,297 parameters) or the
quick-start one (experiments/quickstart.yaml, 185,553), block for block as xp builds them
(components/blocks/*.ts, framework/nn/*.ts), exits non-zero if its parameter count differs
from xp's, then times DDPM training steps: per-example timesteps, x_t from the paper's linear
schedule, the experiment's loss (MSE on the predicted noise for the paper; on v, weighted by
min-SNR-5, for the quick start), Adam. Prints one JSON object on stdout (progress on
stderr) for bench/vs-pytorch.ts.

Run with Debian's PyTorch, which installs for the system Python, not for a pyenv or venv one:
apt-get install -y python3-torch libopenblas0-pthread. Debian's torch runs its matrix products
(attention, linear layers) on whichever libblas.so.3 the system selects, and without OpenBLAS
that is the reference BLAS, several times slower; the JSON names the one used.

    /usr/bin/python3 bench/pytorch_unet.py --model paper --batch 8 --warmup 1 --steps 2

On an NVIDIA GPU (the reference for xp's webgpu backend), in strict FP32 unless --tf32:

    python3 bench/pytorch_unet.py --model paper --batch 64 --device cuda --warmup 2 --steps 5
"""
import argparse
import ctypes
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

# The schedule of both experiments: 512 steps, beta linear from 1e-4 to 0.02.
SCHEDULE_STEPS = 512
BETA_START, BETA_END = 1e-4, 0.02
IMAGE_SHAPE = (1, 28, 28)  # MNIST, channels first as PyTorch lays images out

# Each model as its experiment file's stages describe it: the start DoubleConv's channels,
# each Down's output channels and whether a SelfAttention follows it, the bottleneck's
# channels and number of DoubleConvs (the quick start's single DoubleConv is a bottleneck of
# depth 1), and the same for each Up; attention heads, Adam's learning rate, and xp's
# parameter count (`xp summary`).
MODELS = {
    "paper": {
        "time_dim": 512,
        "start": 64,
        "downs": [(128, True), (256, True)],
        "bottom": (512, 3),
        "ups": [(256, True), (128, True)],
        "heads": 4,
        "lr": 2e-4,
        "prediction": "epsilon",
        "min_snr_gamma": None,
        "parameters": 28_327_297,
    },
    "quickstart": {
        "time_dim": 64,
        "start": 8,
        "downs": [(16, False), (64, True)],
        "bottom": (32, 1),
        "ups": [(16, False), (8, False)],
        "heads": 4,
        "lr": 1.01e-3,
        "prediction": "v",
        "min_snr_gamma": 5,
        "parameters": 185_553,
    },
}


class DoubleConv(nn.Module):
    """conv3x3 in->mid, GroupNorm(1), GELU, conv3x3 mid->out, GroupNorm(1); optionally GELU(x + that).

    No conv bias: a GroupNorm follows each conv (xp's framework/nn/double-conv.ts).
    """

    def __init__(self, in_channels, mid_channels, out_channels, residual=False):
        super().__init__()
        self.residual = residual
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, 3, padding=1, bias=False),
            nn.GroupNorm(1, mid_channels),
            nn.GELU(),  # exact (erf), as xp's gelu
            nn.Conv2d(mid_channels, out_channels, 3, padding=1, bias=False),
            nn.GroupNorm(1, out_channels),
        )

    def forward(self, x):
        y = self.convs(x)
        return F.gelu(x + y) if self.residual else y


class EmbeddingHead(nn.Module):
    """SiLU, Linear(time_dim -> C), added to every position of a C-channel feature map."""

    def __init__(self, time_dim, channels):
        super().__init__()
        self.project = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, channels))

    def forward(self, x, emb):
        return x + self.project(emb)[:, :, None, None]


class Down(nn.Module):
    """Max-pool 2, DoubleConv(in, in, in), DoubleConv(in, out, out), plus the embedding head."""

    def __init__(self, in_channels, out_channels, time_dim):
        super().__init__()
        self.body = nn.Sequential(
            nn.MaxPool2d(2),
            DoubleConv(in_channels, in_channels, in_channels),
            DoubleConv(in_channels, out_channels, out_channels),
        )
        self.head = EmbeddingHead(time_dim, out_channels)

    def forward(self, x, emb):
        return self.head(self.body(x), emb)


class Up(nn.Module):
    """Bilinear x2 (align corners), concat [skip, x], DoubleConv(in, in, in, residual),
    DoubleConv(in, in/2, out), plus the embedding head; in = skip channels + x channels."""

    def __init__(self, in_channels, out_channels, time_dim):
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.body = nn.Sequential(
            DoubleConv(in_channels, in_channels, in_channels, residual=True),
            DoubleConv(in_channels, in_channels // 2, out_channels),
        )
        self.head = EmbeddingHead(time_dim, out_channels)

    def forward(self, x, skip, emb):
        return self.head(self.body(torch.cat([skip, self.upsample(x)], dim=1)), emb)


class SelfAttention(nn.Module):
    """The paper's attention over the H*W positions: ff = LayerNorm, Linear, GELU, Linear (one
    ff, used twice); a = MHA(ff(x)) + x; out = ff(a) + a."""

    def __init__(self, channels, heads):
        super().__init__()
        self.ff = nn.Sequential(
            nn.LayerNorm(channels),
            nn.Linear(channels, channels),
            nn.GELU(),
            nn.Linear(channels, channels),
        )
        self.mha = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x):
        n, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # [n, h*w, c]
        queries = self.ff(tokens)
        # xp computes no attention weights to return, so neither does this.
        attended = self.mha(queries, queries, queries, need_weights=False)[0] + tokens
        out = self.ff(attended) + attended
        return out.transpose(1, 2).reshape(n, c, h, w)


def bottleneck(in_channels, out_channels, depth):
    """DoubleConv(in, out, out), then depth-1 DoubleConv(out, out, out) (xp's BottomConv)."""
    layers = [DoubleConv(in_channels, out_channels, out_channels)]
    layers += [DoubleConv(out_channels, out_channels, out_channels) for _ in range(depth - 1)]
    return nn.Sequential(*layers)


def attention_or_identity(wanted, channels, heads):
    return SelfAttention(channels, heads) if wanted else nn.Identity()


def timestep_embedding(t, dim):
    """[sin(t*f_0) .. sin(t*f_{d/2-1}), cos(t*f_0) .. cos(t*f_{d/2-1})], f_i = 10000^(-2i/d)."""
    frequencies = 10000 ** (-torch.arange(0, dim, 2, dtype=torch.float32, device=t.device) / dim)
    angles = t.float()[:, None] * frequencies[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class UNet(nn.Module):
    """Start DoubleConv, Downs (each keeping its input as a skip), bottleneck, Ups (each taking
    the skip at the resolution it climbs back to), conv1x1 with bias to the image channels."""

    def __init__(self, spec):
        super().__init__()
        self.time_dim = spec["time_dim"]
        heads = spec["heads"]
        channels = spec["start"]
        self.start = DoubleConv(IMAGE_SHAPE[0], channels, channels)
        skip_channels = []
        self.downs, self.down_attention = nn.ModuleList(), nn.ModuleList()
        for out, attention in spec["downs"]:
            skip_channels.append(channels)
            self.downs.append(Down(channels, out, self.time_dim))
            self.down_attention.append(attention_or_identity(attention, out, heads))
            channels = out
        bottom_channels, depth = spec["bottom"]
        self.bottom = bottleneck(channels, bottom_channels, depth)
        channels = bottom_channels
        self.ups, self.up_attention = nn.ModuleList(), nn.ModuleList()
        for out, attention in spec["ups"]:
            self.ups.append(Up(skip_channels.pop() + channels, out, self.time_dim))
            self.up_attention.append(attention_or_identity(attention, out, heads))
            channels = out
        self.out = nn.Conv2d(channels, IMAGE_SHAPE[0], 1)

    def forward(self, x, t):
        emb = timestep_embedding(t, self.time_dim)
        x = self.start(x)
        skips = []
        for down, attention in zip(self.downs, self.down_attention):
            skips.append(x)
            x = attention(down(x, emb))
        x = self.bottom(x)
        for up, attention in zip(self.ups, self.up_attention):
            x = attention(up(x, skips.pop(), emb))
        return self.out(x)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class TrainingStep:
    """One DDPM training step on random images: the compute of an MNIST batch, without the data.

    The experiment's objective (components/objectives/noise-prediction.ts): the model predicts
    the noise (the paper) or v = sqrt(alpha_bar)·noise − sqrt(1 − alpha_bar)·x0 (the quick start),
    and with min-SNR-gamma each example's mean squared error is weighted by min(SNR, gamma)/(SNR + 1)
    for v, min(SNR, gamma)/SNR for the noise (framework/diffusion/prediction.ts).
    """

    def __init__(self, model, spec, batch, device):
        self.model = model.to(device)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=spec["lr"])
        self.prediction = spec["prediction"]
        self.min_snr_gamma = spec["min_snr_gamma"]
        self.batch = batch
        self.device = torch.device(device)
        betas = torch.linspace(BETA_START, BETA_END, SCHEDULE_STEPS)
        self.alpha_bar = torch.cumprod(1 - betas, dim=0).to(device)

    def __call__(self):
        x0 = torch.randn(self.batch, *IMAGE_SHAPE, device=self.device)
        t = torch.randint(1, SCHEDULE_STEPS, (self.batch,), device=self.device)  # one per example, 1..511
        noise = torch.randn_like(x0)
        alpha_bar = self.alpha_bar[t][:, None, None, None]
        xt = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
        target = noise if self.prediction == "epsilon" else alpha_bar.sqrt() * noise - (1 - alpha_bar).sqrt() * x0
        squared = (self.model(xt, t) - target) ** 2
        if self.min_snr_gamma is None:
            loss = squared.mean()
        else:
            snr = self.alpha_bar[t] / (1 - self.alpha_bar[t])
            clipped = snr.clamp(max=self.min_snr_gamma)
            weight = clipped / (snr + 1) if self.prediction == "v" else clipped / snr
            loss = (squared.mean(dim=(1, 2, 3)) * weight).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()  # a GPU step ends when its kernels do, not when they are queued


def time_steps(step, warmup, steps):
    """Seconds of each of `steps` timed calls, after `warmup` untimed ones (allocator, oneDNN setup)."""
    for _ in range(warmup):
        step()
    seconds = []
    for i in range(steps):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
        print(f"  step {i + 1}/{steps}: {seconds[-1]:.2f} s", file=sys.stderr)
    return seconds


def profile_step(step, rows):
    """Prints the ops that take the most time in one step, to stderr (--profile)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        step()
    table = profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)
    print(table, file=sys.stderr)


def measure(spec, batch, args):
    step = TrainingStep(UNet(spec), spec, batch, args.device)
    print(f"PyTorch, batch {batch}, on {args.device}, {args.threads} thread(s):", file=sys.stderr)
    seconds = time_steps(step, args.warmup, args.steps)
    if args.profile:
        profile_step(step, args.profile)
    return {
        "batch": batch,
        "stepSeconds": seconds,
        # The median, as xp's medianOfRounds: on a shared machine one slow step should not count.
        "imagesPerSecond": batch / statistics.median(seconds),
    }


def loaded_libraries(prefix):
    """Paths of the shared libraries this process loaded whose names start with `prefix`
    (read from /proc, so Linux only; elsewhere none are found)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps}
    except OSError:
        return []
    return sorted(p for p in paths if p.rsplit("/", 1)[-1].startswith(prefix))


def limit_openblas_threads(threads):
    """torch.set_num_threads does not reach a system OpenBLAS, whose pthreads would otherwise
    take every core: at --threads 1 the matrix products would still run on two."""
    for path in loaded_libraries("libopenblas"):
        ctypes.CDLL(path).openblas_set_num_threads(threads)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), required=True)
    parser.add_argument("--batch", type=int, nargs="+", required=True, help="batch sizes to time")
    parser.add_argument("--threads", type=int, default=2, help="threads of torch and of a system OpenBLAS (default 2)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps (default 3)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default) or cuda")
    parser.add_argument("--tf32", action="store_true",
                        help="on cuda: let convolutions and matrix products use TF32 tensor cores (default: strict FP32)")
    parser.add_argument("--profile", type=int, default=0, metavar="ROWS",
                        help="after timing, profile one step and print its ROWS costliest ops to stderr")
    return parser.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    limit_openblas_threads(args.threads)
    # The system's libblas.so.3, which Debian's torch calls for its matrix products.
    blas = loaded_libraries("libblas")
    if not any("openblas" in path for path in blas):
        print(f"warning: matrix products run on {blas or 'an unknown BLAS'}, not OpenBLAS "
              "(apt-get install -y libopenblas0-pthread)", file=sys.stderr)
    torch.manual_seed(0)
    spec = MODELS[args.model]
    parameters = count_parameters(UNet(spec))
    print(f"{args.model}: {parameters:,} parameters (xp: {spec['parameters']:,})", file=sys.stderr)
    if parameters != spec["parameters"]:
        sys.exit(f"error: the PyTorch {args.model} UNet has {parameters:,} parameters, xp's "
                 f"{spec['parameters']:,}: it no longer mirrors xp's model, so its timings would compare different models")
    print(json.dumps({
        "torch": torch.__version__,
        "model": args.model,
        "parameters": parameters,
        "threads": args.threads,
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "tf32": args.tf32,
        "blas": blas,
        "warmup": args.warmup,
        "steps": args.steps,
        "results": [measure(spec, batch, args) for batch in args.batch],
    }))


if __name__ == "__main__":
    main()
