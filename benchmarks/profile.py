"""Where the time goes: runs a function under `tf.profiler` and sums the traced TensorFlow
op executions by op type (from the profile's XPlane, read with the protobuf TensorFlow
ships, so no TensorBoard plugin is needed)."""

import collections
import glob
import os
import tempfile
import time

# ops that only contain other ops: their time is their children's
CONTAINERS = {"While", "StatefulPartitionedCall", "PartitionedCall", "If", "StatelessWhile"}
PARTS = ("self_attention", "cross_attention", "feed_forward", "ffn", "final_layer", "embedding")


def op_times(fn, repeats=3):
    """`fn()` run `repeats` times under the profiler: the wall seconds, and the traced op
    executions as `(op type, model part, seconds)`."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    fn()  # traced and warmed up outside the profile
    logdir = tempfile.mkdtemp(prefix="tf-profile-")
    tf.profiler.experimental.start(logdir)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    wall = time.perf_counter() - start
    tf.profiler.experimental.stop()
    runs = []
    for path in glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as handle:
            space.ParseFromString(handle.read())
        for plane in space.planes:
            for line in plane.lines:
                if not line.name.startswith("tf_Compute"):  # the executor's threads
                    continue
                for event in line.events:
                    name = plane.event_metadata[event.metadata_id].name
                    if "::" in name or ":" not in name:
                        continue
                    path_name, op_type = name.rsplit(":", 1)
                    op_type = op_type.removeprefix("_Mkl")  # oneDNN's kernels
                    if op_type in CONTAINERS:
                        continue
                    part = next((p for p in PARTS if p in path_name), "other")
                    runs.append((op_type, part, event.duration_ps / 1e12))
    return wall, runs


def report(fn, repeats=3, top=5):
    """Where `fn()`'s time goes: op runs a call, microseconds an op run, and the shares of
    op time by model part and by op type."""
    wall, runs = op_times(fn, repeats)
    busy = sum(seconds for *_, seconds in runs)
    by_part, by_type = collections.Counter(), collections.Counter()
    for op_type, part, seconds in runs:
        by_part[part] += seconds
        by_type[op_type] += seconds

    def shares(counter):
        return ", ".join(f"{k} {100 * v / busy:.0f}%" for k, v in counter.most_common(top))

    return (
        f"{len(runs) / repeats:,.0f} op runs a call, {1e6 * busy / max(len(runs), 1):.0f} us "
        f"an op run; op time by part: {shares(by_part)}; by op type: {shares(by_type)}"
    )
