#!/usr/bin/env bash
# Runs the fuzzers for a bounded time (issue 17): the atheris harness of each file reader
# (fuzz_readers.py: idx, cifar, model, onnx, safetensors; FUZZ_SECONDS each) and the mutation fuzzer over the ops
# (fuzz_ops.py: FUZZ_OP_CASES cases, in batches per subprocess). With an ASan+UBSan build of
# pocketcnn._core (arg 1: the .so), they run against it, the sanitizer runtimes preloaded.
#   bash tests/fuzz/run.sh [path/to/_core*.so]
# Prints each fuzzer's counts; exits non-zero on any crash, hang (timeout) or escaped exception.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-30}
cases=${FUZZ_OP_CASES:-3000}
work=$(mktemp -d /tmp/pocketcnn-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
python=${PYTHON:-python3}

if [ -n "${1:-}" ]; then
  # The installed package's Python files beside the sanitized extension, first on sys.path.
  pkg=$("$python" -c 'import os, pocketcnn; print(os.path.dirname(pocketcnn.__file__))')
  mkdir -p "$work/site/pocketcnn"
  cp -r "$pkg"/. "$work/site/pocketcnn/"
  rm -f "$work/site/pocketcnn"/_core*.so
  cp "$1" "$work/site/pocketcnn/"
  export PYTHONPATH="$work/site${PYTHONPATH:+:$PYTHONPATH}"
  libs="$(g++ -print-file-name=libasan.so):$(g++ -print-file-name=libubsan.so)"
  # Leaks: CPython's own allocations at exit are not ours. Allocations above 8 GiB (within the
  # limits, beyond this machine) fail as MemoryError instead of aborting.
  export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=8192
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  export LD_PRELOAD="$libs"
  "$python" -c 'import pocketcnn._core as c; print("fuzzing against", c.__file__)'
fi

status=0
for target in idx cifar model onnx safetensors; do
  mkdir -p "$work/corpus-$target"
  # New inputs go to the first (scratch) directory; the committed seeds stay as they are.
  if (cd "$work" && "$python" "$here/fuzz_readers.py" "$target" "$work/corpus-$target" \
      "$here/corpus/$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
      -print_final_stats=1 >"$work/$target.log" 2>&1); then
    result="crashes 0 hangs 0 escapes 0"
  else
    result="FAILED (crash, timeout or escaped exception; log below)"
    status=1
    tail -60 "$work/$target.log"
  fi
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/$target.log")
  echo "fuzz_readers $target: cases ${runs:-?} $result"
done
"$python" "$here/fuzz_ops.py" --cases "$cases" --batch 500 --timeout 30 --seed "${FUZZ_SEED:-1}" ||
  status=1
exit $status
