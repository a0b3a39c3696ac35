"""onnxruntime's or OpenVINO's side of the suite (run by suite.py in a subprocess; prints one
RESULT line): inference only, on the ONNX files suite_torch.py --export wrote.

onnxruntime: all graph optimisations, sequential execution, intra_op_num_threads = --threads.
OpenVINO: the CPU plugin in float32 with INFERENCE_NUM_THREADS = --threads and one stream, the model
reshaped to each batch size's static shape before compiling (its recommended fast path; every
shape is compiled once, during the warm-up calls, not while timed).
"""

from __future__ import annotations

import os

import numpy as np
from common import emit, measure_suite, suite_args, suite_networks


def ort_builder(folder: str, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1

    def build_infer(net):
        path = os.path.join(folder, f"{net.name}.onnx")
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        return lambda x: sess.run(None, {"x": x})[0]

    return build_infer, ort.__version__


def openvino_builder(folder: str, threads: int):
    import openvino as ov

    core = ov.Core()
    # f32 explicitly: on a CPU with AVX512_BF16 or AMX the plugin otherwise computes in bfloat16
    # (seen as ~1e-3 differences in the logits), which is not the float32 work the others do.
    config = {
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32",
    }

    def build_infer(net):
        path = os.path.join(folder, f"{net.name}.onnx")
        requests = {}  # batch size -> infer request of the model compiled for that shape

        def infer(x):
            if len(x) not in requests:
                model = core.read_model(path)
                model.reshape([len(x), *net.input_shape])
                requests[len(x)] = core.compile_model(model, "CPU", config).create_infer_request()
            req = requests[len(x)]
            req.infer({0: x})
            return np.asarray(req.get_output_tensor(0).data)

        return infer

    return build_infer, ov.__version__


def main() -> None:
    ap = suite_args(__doc__)
    ap.add_argument("--engine", choices=["ort", "openvino"], required=True)
    ap.add_argument("--models", required=True, help="folder of <network>.onnx files")
    args = ap.parse_args()
    make = ort_builder if args.engine == "ort" else openvino_builder
    build_infer, version = make(args.models, args.threads)
    res = measure_suite(suite_networks(args.networks), build_infer, lambda net: None, args.min_time)
    emit({"suite": res, "version": version})


if __name__ == "__main__":
    main()
