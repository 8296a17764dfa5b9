"""Scaling BERT out (chapter 10): the four ways to spread training over several processes, run for real on
2 CPU processes with PyTorch's own engines and compared with one process.

- ``workload``       — the model (a tiny BERT) and the masked KJV batches every scheme trains on
- ``data_parallel``  — DistributedDataParallel: replicas, gradient all-reduce (average), bytes per step
- ``sharded``        — ZeRO / FSDP2 ``fully_shard``: parameters, gradients, optimizer state split per rank
- ``tensor_parallel``— Megatron-LM: column- then row-parallel linears, attention split by heads, one
                       all-reduce per block; and the same with ``parallelize_module``
- ``pipeline``       — GPipe with ``torch.distributed.pipelining``: stages, micro-batches, timeline, bubble
- ``cost_model``     — BERT-base/large at scale, on paper: memory, communication and time per step
- ``equivalence``    — every scheme against one process (the chapter's and the benchmark's comparison)
- ``launch`` / ``worker`` — start N gloo processes from a notebook and collect their results
"""
