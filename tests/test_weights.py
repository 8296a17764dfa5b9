"""bertlab.weights: real MiniLM weights load into our encoder and equal transformers' BertModel (≤ 1e-5),
round-trip through save_pretrained, and every malformed checkpoint gives a message naming the problem."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from bertlab import data
from bertlab.model import BertConfig, BertForPreTraining, BertForSequenceClassification, BertModel
from bertlab.sentence_embeddings import sentence_embeddings
from bertlab.tokenizer import SPECIAL_TOKENS, WordPieceTokenizer
from bertlab.weights import bertlab_to_hf, hf_to_bertlab, load_pretrained, minilm_path, save_pretrained


@pytest.fixture(scope="module")
def minilm():
    return load_pretrained(minilm_path())


@pytest.fixture(scope="module")
def reference():
    from transformers import BertModel as HFBertModel

    return HFBertModel.from_pretrained(str(minilm_path()), attn_implementation="eager").eval()


def test_parity_with_transformers_on_24_sentences_in_a_padded_batch(minilm, reference):
    model, tok = minilm
    sentences = data.load_sentiment("test")[0][:20] + ["Hi.", "北京 😀 emoji", "", "The [MASK] sat on the mat."]
    batch = tok.encode_batch(sentences, max_length=64)
    assert (batch["attention_mask"] == 0).any()  # the batch is padded
    with torch.no_grad():
        ours = model(**batch, output_attentions=True)
        theirs = reference(**batch, output_attentions=True)
    real = batch["attention_mask"].bool()
    # padded *query* rows are never used downstream; compare every real position, every layer and head
    assert (ours.last_hidden_state - theirs.last_hidden_state)[real].abs().max() <= 1e-5
    assert (ours.pooler_output - theirs.pooler_output).abs().max() <= 1e-5
    assert len(ours.attentions) == len(theirs.attentions) == 6
    for a, b in zip(ours.attentions, theirs.attentions):
        assert ((a - b).abs() * real[:, None, :, None]).max() <= 1e-5


def test_sentence_embeddings_equal_sentence_transformers(minilm):
    from sentence_transformers import SentenceTransformer

    model, tok = minilm
    sentences = ["A man is playing a guitar.", "Someone plays an instrument.", "The market fell."]
    st = SentenceTransformer(str(minilm_path()), device="cpu")
    assert (torch.tensor(st.encode(sentences)) - sentence_embeddings(model, tok, sentences)).abs().max() < 1e-5


def test_name_mapping_round_trips_for_every_tensor():
    model = BertForPreTraining(BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                                          intermediate_size=16, max_position_embeddings=16))
    for name in model.state_dict():
        if name != "mlm.word_embeddings.weight":
            hf = bertlab_to_hf(name)
            assert hf_to_bertlab(hf) == name.removeprefix("bert."), name


def _tiny_folder(tmp_path, cls=BertForPreTraining, **kw):
    torch.manual_seed(0)
    vocab = list(SPECIAL_TOKENS) + [f"w{i}" for i in range(25)]
    cfg = BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
                     max_position_embeddings=16)
    model = cls(cfg, **kw).eval()
    return model, save_pretrained(model, WordPieceTokenizer(vocab), tmp_path / "ckpt")


def test_save_then_load_gives_identical_outputs_and_transformers_loads_it(tmp_path):
    from transformers import BertForPreTraining as HFPre

    model, folder = _tiny_folder(tmp_path)
    ids = torch.randint(5, 30, (2, 7))
    loaded, tok = load_pretrained(folder, model_class=BertForPreTraining)
    with torch.no_grad():
        a, b = model(ids), loaded(ids)
        hf = HFPre.from_pretrained(str(folder)).eval()(ids)
    assert torch.equal(a.prediction_logits, b.prediction_logits) and len(tok) == 30
    assert (a.prediction_logits - hf.prediction_logits).abs().max() < 1e-5
    assert (a.seq_relationship_logits - hf.seq_relationship_logits).abs().max() < 1e-5


def test_fine_tuned_classifier_saves_and_loads_back_predicting_the_same(tmp_path):
    model, folder = _tiny_folder(tmp_path, cls=BertForSequenceClassification, num_labels=3, pooling="mean")
    loaded, _ = load_pretrained(folder, model_class=BertForSequenceClassification)
    ids = torch.randint(5, 30, (4, 6))
    assert loaded.num_labels == 3 and loaded.pooling == "mean"
    assert torch.equal(model(ids).logits, loaded(ids).logits)


def test_new_classifier_on_pretrained_encoder_is_reported_as_a_new_head(minilm):
    model, _ = load_pretrained(minilm_path(), model_class=BertForSequenceClassification, num_labels=2)
    assert model.load_report["new_heads"] == ["classifier.weight", "classifier.bias"]


def test_missing_tensor_is_named(tmp_path):
    _, folder = _tiny_folder(tmp_path)
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "model.safetensors"))
    del tensors["bert.encoder.layer.1.attention.self.key.weight"]
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match=r"missing tensors \(1\): bert.encoder.layer.1.attention.key.weight"):
        load_pretrained(folder, model_class=BertForPreTraining)


def test_misshaped_and_unexpected_tensors_are_named(tmp_path):
    _, folder = _tiny_folder(tmp_path)
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "model.safetensors"))
    tensors["bert.pooler.dense.weight"] = torch.zeros(8, 9)
    tensors["bert.encoder.layer.0.mystery.weight"] = torch.zeros(2)
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match=r"(?s)mis-shaped.*pooler.dense.weight: checkpoint \(8, 9\).*unexpected.*mystery"):
        load_pretrained(folder, model_class=BertForPreTraining)


def test_truncated_safetensors_file_is_reported(tmp_path):
    _, folder = _tiny_folder(tmp_path)
    raw = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        load_pretrained(folder)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda p: p.write_text("{not json"), "not valid JSON"),
        (lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "hidden_size": 9})), "not divisible"),
        (lambda p: p.unlink(), "config.json not found"),
    ],
)
def test_bad_config_file_is_reported_with_its_path(tmp_path, edit, match):
    _, folder = _tiny_folder(tmp_path)
    edit(folder / "config.json")
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        load_pretrained(folder)


def test_vocab_size_mismatch_and_missing_folder_are_reported(tmp_path):
    _, folder = _tiny_folder(tmp_path)
    with open(folder / "vocab.txt", "a") as f:
        f.write("extra\n")
    with pytest.raises(ValueError, match="vocab.txt has 31 tokens"):
        load_pretrained(folder)
    shutil.rmtree(folder)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_pretrained(folder)


def test_plain_encoder_loads_from_a_pretraining_checkpoint_ignoring_the_heads(tmp_path):
    _, folder = _tiny_folder(tmp_path)
    model, _ = load_pretrained(folder, model_class=BertModel)
    assert any(n.startswith("cls.") for n in model.load_report["ignored"])
