#!/usr/bin/env bash
# Issue 12's GPU checks in one go (a CUDA machine, run from the repository root): the CUDA tests,
# the fused DP kernel against its targets, and bench_train's full-size figures. Each step prints
# its own numbers; nothing is typed in. The synthetic full data set is generated here.
# Needs NVVM for the fused kernel: a CUDA toolkit, or `pip install -e '.[cuda]'` beforehand;
# without it the kernel rows say so and training uses the torch wavefront.
set -u
PY=${PY:-python}
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
$PY -c "from ftcl.dp import cuda_kernels; print('fused DP kernel usable:', cuda_kernels.usable())"
$PY -m pytest -q -rs tests/dp/test_dp_gpu_kernel.py tests/data/test_data_device_batches.py \
    tests/dp/test_dp.py -k "cuda or gpu or simulated"
$PY benchmarks/bench_dp.py --kernel-only
$PY benchmarks/bench_train.py --methods acmnet ftcl ftcl-ccdtw ftcl-dropdtw wtalc wtalc-ftcl "$@"
