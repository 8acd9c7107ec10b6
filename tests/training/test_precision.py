import json
import os

import pytest

from pipelines.runs import dtype_policy
from tf_transformer import cli
from tf_transformer.cpu import bfloat16_without_onednn
from tf_transformer.errors import InputError
from tf_transformer.native_logs import is_noise
from tf_transformer.training.precision import choose_precision, cpu_flags, native_bfloat16

AVX2 = {"sse4_2", "avx", "avx2", "fma"}
AVX512 = AVX2 | {"avx512f", "avx512bw", "avx512vl"}
NO_CAP = {}


@pytest.mark.parametrize(
    "flags, policy, reason",
    [
        (AVX2, "float32", "AVX2 but no native bfloat16"),
        (AVX512, "float32", "AVX-512 but no native bfloat16"),
        (AVX512 | {"avx512_bf16"}, "mixed_bfloat16", "natively (avx512_bf16)"),
        (AVX512 | {"amx_bf16", "amx_tile"}, "mixed_bfloat16", "natively (amx_bf16)"),
    ],
)
def test_auto_picks_bfloat16_only_where_the_cpu_has_it(flags, policy, reason):
    chosen, why = choose_precision("auto", flags=flags, accelerators=[], environ=NO_CAP)
    assert chosen == policy
    assert why.startswith("auto: ") and reason in why


def test_auto_honours_onednn_isa_cap():
    flags = AVX512 | {"avx512_bf16", "amx_bf16"}
    capped = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    chosen, why = choose_precision("auto", flags=flags, accelerators=[], environ=capped)
    assert (chosen, "capped at AVX2") == ("float32", why[why.index("capped") :][:14])
    for cap in ("AVX512_CORE_BF16", "avx512_core_amx", "ALL"):
        assert (
            choose_precision(
                "auto", flags=flags, accelerators=[], environ={"DNNL_MAX_CPU_ISA": cap}
            )[0]
            == "mixed_bfloat16"
        )


def test_bfloat16_leaves_onednn_only_where_a_cap_forbids_it_on_a_cpu_that_has_it():
    bf16 = AVX512 | {"avx512_bf16"}
    for flags, environ, expected in [
        (bf16, {"ONEDNN_MAX_CPU_ISA": "AVX2"}, {"TF_ENABLE_ONEDNN_OPTS": "0"}),
        (bf16, {}, {}),  # no cap: oneDNN's bfloat16 kernels run
        (bf16, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}, {}),
        (AVX2, {"ONEDNN_MAX_CPU_ISA": "AVX2"}, {}),  # no bfloat16 to hand to oneDNN
        (bf16, {"ONEDNN_MAX_CPU_ISA": "AVX2", "TF_ENABLE_ONEDNN_OPTS": "1"}, {}),  # yours
    ]:
        before = dict(environ)
        assert bfloat16_without_onednn(environ, flags) == bool(expected)
        assert environ == {**before, **expected}


def test_the_cli_leaves_onednn_before_its_handler_for_a_bfloat16_run(tmp_path, monkeypatch):
    """A command on a run trained in bfloat16 (its config.json says so) sets
    TF_ENABLE_ONEDNN_OPTS=0 under a cap before the handler, which imports TensorFlow."""
    from tf_transformer import cpu
    from tf_transformer.cli import gpt

    seen = []
    monkeypatch.setattr(gpt, "gpt_export_command", lambda args: seen.append(dict(os.environ)))
    monkeypatch.setattr(cpu, "cpu_flags", lambda: AVX512 | {"avx512_bf16"})
    environ = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    monkeypatch.setattr(os, "environ", {**environ, "ONEDNN_MAX_CPU_ISA": "AVX2"})  # a copy
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"precision": {"policy": "float32"}}))
    assert cli.main(["gpt", "export", str(run)]) == 0
    assert "TF_ENABLE_ONEDNN_OPTS" not in seen[-1]  # a float32 run keeps oneDNN
    (run / "config.json").write_text(json.dumps({"precision": {"policy": "mixed_bfloat16"}}))
    assert cli.main(["gpt", "export", str(run)]) == 0
    assert seen[-1]["TF_ENABLE_ONEDNN_OPTS"] == "0"


def test_auto_asks_the_accelerator_first():
    ampere = [("GPU", "NVIDIA A100", True)]
    turing = [("GPU", "Tesla T4", False)]
    assert choose_precision("auto", flags=AVX2, accelerators=ampere)[0] == "mixed_bfloat16"
    chosen, why = choose_precision("auto", flags=AVX512 | {"amx_bf16"}, accelerators=turing)
    assert chosen == "float32" and "Tesla T4" in why


def test_forced_choices_and_errors(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)  # set by the suite under a cap
    for name, policy in [
        ("bf16", "mixed_bfloat16"),
        ("fp16", "mixed_float16"),
        ("float32", "float32"),
    ]:
        assert choose_precision(name, flags=AVX2, accelerators=[]) == (
            policy,
            f"--mixed-precision {name}",
        )
    with pytest.raises(InputError, match="unknown mixed precision 'int8'"):
        choose_precision("int8")


def test_a_forced_bfloat16_says_when_it_runs_without_onednn(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert choose_precision("bf16")[1] == (
        "--mixed-precision bf16 on TensorFlow's own kernels (oneDNN's rewrites off)"
    )


def test_dtype_policy_says_the_choice_once(capsys):
    lines = []
    precision = dtype_policy("float32", log=lines.append)
    assert precision == {"policy": "float32", "reason": "--mixed-precision float32"}
    assert lines == ["precision: float32 (--mixed-precision float32)"]
    json.dumps(precision)  # stored in config.json as it is


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\nbugs\t\t: none\n")
    assert cpu_flags(str(info)) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(str(tmp_path / "missing")) == set()
    assert native_bfloat16(flags=cpu_flags(str(info)), accelerators=[], environ=NO_CAP)[0]


@pytest.mark.parametrize(
    "line, noise",
    [
        (
            "WARNING: All log messages before absl::InitializeLog() is called are written to X",
            True,
        ),
        (
            "I0000 00:00:1795948391.035580    3473 port.cc:153] oneDNN custom operations are on.",
            True,
        ),
        (
            "I0000 00:00:1795948391.035876    3473 cudart_stub.cc:31] Could not find cuda drivers",
            True,
        ),
        (
            "E0000 00:00:1795948396.620085    3473 cuda_platform.cc:52] failed call to cuInit: X",
            True,
        ),
        (
            "normalizer.cc(51) LOG(INFO) precompiled_charsmap is empty. use identity",
            True,
        ),
        ("E0000 00:00:1795948396.620085    3473 op_kernel.cc:1830] OP_REQUIRES failed: bad", False),
        ("W0000 00:00:1795948396.620085    3473 loader.cc:10] out of memory", False),
        ("tf-transformer: error: --epochs must be at least 1, got 0", False),
        ("UserWarning: something a user should see", False),
    ],
)
def test_only_native_noise_is_dropped(line, noise):
    assert is_noise(line) is noise
