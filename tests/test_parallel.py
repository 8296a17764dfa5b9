"""Scaling out (chapter 10): every scheme run on 2 gloo CPU processes over loopback equals one process, and the
pieces behind the chapter (Megatron partial sums, the GPipe timeline, the cost model, the launcher) do what
they claim. The four schemes share one launch (process start-up costs seconds)."""

from __future__ import annotations

import pytest
import torch

from bertlab.model import BertConfig, BertForPreTraining, BertLayer, count_parameters, key_mask
from bertlab.parallel import cost_model, data_parallel, equivalence, launch, pipeline, tensor_parallel
from bertlab.parallel.workload import build_model, make_workload, max_abs_diff

TOL = equivalence.TOLERANCE  # 1e-5, the benchmark's contract


@pytest.fixture(scope="module")
def workload():
    return make_workload(steps=2, batch_size=8, max_len=48, documents=6)


@pytest.fixture(scope="module")
def runs(workload):
    """One launch of 2 processes: hello, DDP, FSDP, tensor, pipeline."""
    return equivalence.run_schemes(workload, microbatches=(2, 1), repeats=1, hello=True, timeout=240)


@pytest.fixture(scope="module")
def one_process(workload):
    return data_parallel.train_one_process(workload)


@pytest.fixture(scope="module")
def diffs(workload, runs, one_process):
    return equivalence.differences(workload, runs, one_process)


# ---- the launch itself ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_two_processes_join_one_group_and_all_reduce_sums_their_values(runs):
    hello = runs["hello"]
    assert [h["rank"] for h in hello] == [0, 1] and {h["world"] for h in hello} == {2}
    assert hello[0]["pid"] != hello[1]["pid"]  # two real processes
    assert [h["before"] for h in hello] == [1.0, 2.0] and [h["after"] for h in hello] == [3.0, 3.0]
    assert {h["backend"] for h in hello} == {"gloo"}


@pytest.mark.slow
def test_a_failing_worker_is_reported_with_its_rank_and_error():
    with pytest.raises(launch.LaunchError, match=r"worker rank \d of 2 failed(.|\n)*KeyError: 'workload'"):
        launch.launch({"tensor": {}}, timeout=120)


def test_unknown_jobs_and_platforms_without_gloo_get_a_clear_message(monkeypatch):
    with pytest.raises(ValueError, match="unknown job"):
        launch.launch({"nope": {}})
    monkeypatch.setattr(torch.distributed, "is_available", lambda: False)
    with pytest.raises(launch.LaunchError, match="no torch.distributed"):
        launch.launch({"hello": {}})


def test_worker_environment_stays_on_loopback():
    env = launch.worker_env(rank=1, world_size=2, port=29999)
    assert env["MASTER_ADDR"] == "127.0.0.1" and env["RANK"] == "1" and env["WORLD_SIZE"] == "2"


# ---- each scheme equals one process ------------------------------------------------------------------

@pytest.mark.slow
def test_ddp_on_two_processes_takes_the_same_steps_as_one_process_on_the_global_batch(workload, runs, diffs):
    assert diffs["ddp"] <= TOL, diffs
    rank0 = runs["ddp"][0]
    assert max_abs_diff(rank0["losses"], runs["ddp"][1]["losses"]) == 0  # every rank logs the same global loss
    assert rank0["losses"][-1] < rank0["losses"][0]  # and the steps really trained
    # bytes all-reduced per step = parameters × 4 (fp32), counted in DDP's communication hook
    assert rank0["bytes_per_step"] == rank0["parameters"] * 4 == data_parallel.allreduce_bytes(build_model(workload))


@pytest.mark.slow
def test_fsdp_equals_one_process_and_holds_half_of_everything_per_rank(workload, runs, diffs):
    assert diffs["fsdp"] <= TOL, diffs
    for rank in range(2):
        ddp, fsdp = runs["ddp"][rank]["memory"], runs["fsdp"][rank]["memory"]
        assert fsdp["params"] == ddp["params"] / 2 and fsdp["grads"] == ddp["grads"] / 2
        # Adam's two moments are sharded; its 4-byte step counter (one per parameter tensor) is not
        tensors = len(list(build_model(workload).parameters()))
        assert fsdp["optimizer"] - ddp["optimizer"] / 2 == 4 * tensors / 2


@pytest.mark.slow
def test_tensor_parallel_by_hand_and_with_parallelize_module_equal_the_unsplit_model(runs, diffs):
    assert diffs["tensor"] <= TOL, diffs
    rank0 = runs["tensor"][0]
    b, t, h = rank0["activation_shape"]
    assert rank0["manual_allreduce_calls"] == 2  # one per block: attention, FFN
    assert rank0["manual_allreduce_bytes"] == 2 * b * t * h * 4


@pytest.mark.slow
def test_pipeline_with_gpipe_gives_the_global_batch_gradients_and_a_timeline(runs, diffs):
    assert diffs["pipeline"] <= TOL, diffs
    stages = runs["pipeline"]
    assert [s["layers"] for s in stages] == [2, 2]
    assert len(stages[1]["losses"]) == 2  # one loss per micro-batch, on the last stage
    for m in (2, 1):
        events = stages[0]["timelines"][m][0] + stages[1]["timelines"][m][0]
        assert sorted((e[0], e[1], e[2]) for e in events) == sorted(
            (s, k, i) for s in range(2) for k in "FB" for i in range(m))
        assert 0 < pipeline.measured_bubble(events) < 1


@pytest.mark.slow
def test_the_equivalence_line_has_the_benchmark_format(diffs):
    line = equivalence.equivalence_line(diffs)
    assert line.startswith("parallel equivalence: DDP ") and ", FSDP " in line and ", tensor " in line
    assert ", pipeline " in line


# ---- the pieces, in one process ------------------------------------------------------------------------

def test_megatron_partial_outputs_sum_to_the_unsplit_attention_and_ffn():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=4,
                        intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    layer = BertLayer(config).eval()
    for p in layer.parameters():  # non-zero biases, so a bias added twice would show
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(2, 5, 16)
    mask = key_mask(torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]))
    with torch.no_grad():
        for world in (1, 2, 4):
            att = sum(tensor_parallel.attention_partial(x, layer.attention, mask, r, world) for r in range(world))
            assert torch.allclose(att, layer.attention(x, mask)[0], atol=1e-5)
            assert torch.allclose(tensor_parallel.tensor_parallel_ffn(x, layer.ffn, world), layer.ffn(x), atol=1e-5)


def test_ideal_gpipe_timeline_has_the_formula_bubble_and_unequal_stages_make_it_worse():
    for p, m in [(2, 1), (2, 4), (4, 8), (3, 5)]:
        events = pipeline.gpipe_timeline(p, m)
        assert pipeline.measured_bubble(events) == pytest.approx(pipeline.bubble_fraction(p, m))
        assert len(events) == 2 * p * m
    lopsided = pipeline.gpipe_timeline(2, 4, forward=[1.0, 2.0], backward=[2.0, 4.0])
    assert pipeline.measured_bubble(lopsided) > pipeline.bubble_fraction(2, 4)
    forward, backward = pipeline.stage_times(lopsided)
    assert forward == [1.0, 2.0] and backward == [2.0, 4.0]


def test_cost_model_counts_the_parameters_of_the_course_model_and_of_bert_base(workload):
    tiny = cost_model.ModelShape.from_config(workload["config"])
    assert tiny.parameters() == count_parameters(build_model(workload))
    base = BertForPreTraining(BertConfig())
    assert cost_model.BERT_BASE.parameters() == count_parameters(base)
    encoder_and_pooler = count_parameters(base.bert)
    assert encoder_and_pooler == 109_482_240  # "BERT-base, 110 M parameters"


@pytest.mark.slow
def test_cost_model_predicts_the_measured_bytes_per_rank(workload, runs):
    tiny = cost_model.ModelShape.from_config(workload["config"])
    for scheme in ("ddp", "fsdp"):
        predicted = cost_model.model_state_bytes(tiny, scheme, 2, "fp32")
        measured = runs[scheme][0]["memory"]
        assert measured["params"] == predicted["params"] and measured["grads"] == predicted["grads"]
        assert 0 <= measured["optimizer"] - predicted["optimizer"] < 1000  # + Adam's 4-byte step counters
    assert runs["tensor"][0]["param_bytes"] == cost_model.model_state_bytes(tiny, "tensor", 2, "fp32")["params"]
    assert runs["ddp"][0]["bytes_per_step"] == cost_model.communication_bytes(tiny, "ddp", 2, 1, 1, "fp32")
