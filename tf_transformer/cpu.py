"""What the CPU has and what oneDNN may use of it, read without importing TensorFlow (the
CLI decides from it what to set before TensorFlow starts)."""

import os

# oneDNN's CPU ISA levels (ONEDNN_MAX_CPU_ISA), lowest first; bfloat16 is native from
# AVX512_CORE_BF16 (Cooper Lake, Zen 4) and with AMX (Sapphire Rapids) upwards.
ONEDNN_ISAS = (
    "SSE41",
    "AVX",
    "AVX2",
    "AVX2_VNNI",
    "AVX2_VNNI_2",
    "AVX512_CORE",
    "AVX512_CORE_VNNI",
    "AVX512_CORE_BF16",
    "AVX10_1_512",
    "AVX512_CORE_FP16",
    "AVX10_1_512_AMX",
    "AVX512_CORE_AMX",
    "AVX10_1_512_AMX_FP16",
    "AVX512_CORE_AMX_FP16",
)
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(path: str = "/proc/cpuinfo") -> set:
    """The CPU's feature flags as Linux reports them (empty where it does not)."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def onednn_cap(environ=None):
    """oneDNN's ISA cap (`ONEDNN_MAX_CPU_ISA`, or the older `DNNL_MAX_CPU_ISA`), upper-cased,
    or None when oneDNN may use everything the CPU has."""
    environ = os.environ if environ is None else environ
    cap = (environ.get("ONEDNN_MAX_CPU_ISA") or environ.get("DNNL_MAX_CPU_ISA") or "").upper()
    return None if cap in ("", "ALL", "DEFAULT") else cap


def below_bfloat16(cap) -> bool:
    """Whether a oneDNN ISA cap (`onednn_cap`) forbids its bfloat16 instructions."""
    return cap is not None and (
        cap not in ONEDNN_ISAS or ONEDNN_ISAS.index(cap) < ONEDNN_ISAS.index("AVX512_CORE_BF16")
    )


def capped_below_bfloat16(flags=None, environ=None) -> bool:
    """Whether oneDNN is capped below bfloat16 (`ONEDNN_MAX_CPU_ISA`, e.g. AVX2) on a CPU
    that has it. TensorFlow's graph rewrites decide from the CPU's own flags and hand
    bfloat16 ops to oneDNN, which the cap then forbids: the process aborts ("could not
    create a primitive descriptor for the matmul primitive")."""
    flags = cpu_flags() if flags is None else set(flags)
    has_bf16 = any(flag in flags for flag in BF16_CPU_FLAGS)
    return has_bf16 and below_bfloat16(onednn_cap(environ))


def bfloat16_without_onednn(environ=None, flags=None) -> bool:
    """Before TensorFlow is imported by a process that will compute in bfloat16: where
    `capped_below_bfloat16`, turns oneDNN's graph rewrites off (`TF_ENABLE_ONEDNN_OPTS=0`,
    unless set already), so that bfloat16 runs on TensorFlow's own kernels as it does on a
    CPU without bfloat16. Returns whether it did."""
    environ = os.environ if environ is None else environ
    if "TF_ENABLE_ONEDNN_OPTS" in environ or not capped_below_bfloat16(flags, environ):
        return False
    environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    return True
