"""``Model.info``: what a loaded model is and where it runs, readable at a glance."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class ModelInfo:
    """Facts about a loaded model. Its repr is a small aligned table."""

    name: str
    path: str
    architecture: str
    description: str
    n_embd: int
    n_ctx_train: int
    n_ctx: int
    pooling: str
    classifier_labels: list[str] = field(default_factory=list)
    vocab_size: int = 0
    file_size: int = 0
    quantization: str = ""
    n_params: int = 0
    #: The precision asked for ("exact" or "fast"), and what it became: "fast (bf16 copy)",
    #: "exact (f32 copy)", "fast = exact (f32 copy): this CPU has no bf16 dot product"...
    #: Empty for a server, whose weights are its own business.
    precision: str = ""
    precision_used: str = ""
    #: The ggml backend the model runs on ("CPU", "CUDA", "Metal", "Vulkan"), its devices,
    #: and the layers llama.cpp actually put on a GPU (None where unknown, as for a server).
    backend: str = "CPU"
    devices: list[str] = field(default_factory=list)
    n_gpu_layers: int | None = None
    n_threads: int = 0
    n_contexts: int = 1
    flash_attn: str = "auto"
    n_ubatch: int = 0
    fingerprint: str = ""
    #: The query and document prompts in use (see embed_nb.prompts), "-" when none.
    prompts: str = "-"
    #: What it embeds: ("text",), with "image" and/or "audio" when a projector is loaded
    #: (its path in ``projector``).
    modalities: tuple[str, ...] = ("text",)
    projector: str = ""

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __repr__(self) -> str:
        rows = {
            "name": self.name,
            "path": self.path,
            "architecture": f"{self.architecture} ({self.description})",
            "embedding size": self.n_embd,
            "context": f"{self.n_ctx} (trained {self.n_ctx_train})",
            "pooling": self.pooling,
            "classifier labels": ", ".join(self.classifier_labels) or "-",
            "vocab size": self.vocab_size,
            "parameters": f"{self.n_params / 1e6:.1f} M",
            "file size": f"{self.file_size / 2**20:.1f} MiB",
            "quantization": self.quantization,
            "precision": self.precision_used or self.precision or "-",
            "backend": self.backend
            + (f" on {', '.join(self.devices)}" if self.devices else "")
            + (f", {self.n_gpu_layers} GPU layers" if self.n_gpu_layers is not None else ""),
            "threads": f"{self.n_threads} ({self.n_contexts} context(s))",
            "flash attention": self.flash_attn,
            "micro-batch": self.n_ubatch,
            "fingerprint": self.fingerprint,
            "prompts": self.prompts,
            "inputs": ", ".join(self.modalities)
            + (f" (projector {self.projector})" if self.projector else ""),
        }
        width = max(map(len, rows))
        return "\n".join(f"{key:<{width}}  {value}" for key, value in rows.items())


def file_type_name(value: str | None) -> str:
    """``general.file_type`` (a llama_ftype number) as a name such as ``MOSTLY_F16``."""
    if value is None:
        return "unknown"
    try:
        from gguf import LlamaFileType

        return LlamaFileType(int(value)).name.removeprefix("MOSTLY_")
    except (ValueError, ImportError):
        return value
