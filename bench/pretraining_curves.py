"""Pretraining curves on BBC News: masked-LM accuracy and the ELECTRA discriminator's ROC AUC per 50 steps.

Three runs at the electra recipe's encoder size (BERT WordPiece vocabulary, hidden 128, 2 layers, 2 heads;
sequence 64, batch 32, the BBC training-split articles), each with Adam, linear warmup over the first 10%
of the steps to 1e-3 and cosine decay:

- ``mlm``: ``MaskedLM`` on a ``BertBackbone``, output bias started at the targets' prior;
- ``electra_embeddings_only``: ``ElectraPretrainer`` as the recipe configured it before (generator of hidden 32
  sharing only the embeddings, λ = 50, the generator may sample the original back);
- ``electra``: the generator reuses the discriminator's layers, λ = 1, ``disallow_correct``
  its generator's output bias started at the prior (docs/pretraining.md says why).

Figures are the means over each 50-step chunk's training batches. Writes ``bench/results/pretraining_curves.json``
and ``bench/results/electra_pretraining.png``.

    python -m bench.pretraining_curves [STEPS]
"""

from __future__ import annotations

import sys
import time

import keras
import keras_hub

from bench.common import RESULTS_DIR, write_result
from bench.plots import plt
from zoo.data.bbc_news import load_bbc_news
from zoo.hf.bert_checkpoint import minilm_directory
from zoo.text.pretraining import (ElectraPretrainer, MaskedLM, masked_lm_dataset, start_at_target_prior,
                                   warmup_cosine)
from zoo.text.wordpiece import WordpieceTokenizer

SEQUENCE_LENGTH, BATCH_SIZE, HIDDEN, LAYERS, HEADS, PEAK_LEARNING_RATE, CHUNK = 64, 32, 128, 2, 2, 1e-3, 50
ELECTRA_VARIANTS = {
    "electra_embeddings_only": {"generator_layers": LAYERS, "shared_layers": 0, "discriminator_weight": 50.0},
    "electra": {"generator_layers": 0, "shared_layers": LAYERS, "discriminator_weight": 1.0,
                "disallow_correct": True},
}


def pretrainer(name: str, vocabulary_size: int) -> keras.Model:
    sizes = dict(num_layers=LAYERS, num_heads=HEADS, hidden_dim=HIDDEN, intermediate_dim=4 * HIDDEN,
                 max_sequence_length=SEQUENCE_LENGTH)
    if name == "mlm":
        backbone = keras_hub.models.BertBackbone(vocabulary_size, **sizes)
        return MaskedLM(backbone, backbone.token_embedding)
    discriminator = keras_hub.models.ElectraBackbone(vocabulary_size, embedding_dim=HIDDEN, **sizes)
    return ElectraPretrainer(discriminator, generator_hidden_dim=32, **ELECTRA_VARIANTS[name])


def curve(name: str, texts, tokenizer: WordpieceTokenizer, steps: int) -> dict:
    keras.utils.set_random_seed(0)
    model = pretrainer(name, tokenizer.vocabulary_size)
    dataset = masked_lm_dataset(texts, tokenizer, BATCH_SIZE, seed=0)
    if name != "electra_embeddings_only":
        start_at_target_prior(model if name == "mlm" else model.generator, dataset)
    model.compile(keras.optimizers.Adam(warmup_cosine(PEAK_LEARNING_RATE, steps, warmup_steps=steps // 10)))
    started = time.perf_counter()
    history = model.fit(dataset, steps_per_epoch=CHUNK,
                        epochs=steps // CHUNK, verbose=0).history
    return {"seconds": round(time.perf_counter() - started, 1),
            "history": {k: [round(float(v), 4) for v in values] for k, values in history.items()}}


def plot(curves: dict, path) -> None:
    figure, (mlm_axis, auc_axis) = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, run in curves.items():
        steps = [CHUNK * (i + 1) for i in range(len(next(iter(run["history"].values()))))]
        if "mlm_accuracy" in run["history"]:
            mlm_axis.plot(steps, run["history"]["mlm_accuracy"], marker="o", label=name)
        if "replaced_auc" in run["history"]:
            auc_axis.plot(steps, run["history"]["replaced_auc"], marker="o", label=name)
    for axis, label, bottom in ((mlm_axis, "masked-LM accuracy", 0.0), (auc_axis, "discriminator ROC AUC", 0.4)):
        axis.set_ylim(bottom, 1.0)  # the whole range, so a curve that stays near chance looks like it
        axis.set_xlabel("pretraining step")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle("Pretraining on BBC News (training batches, per 50 steps)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(steps: int) -> dict:
    tokenizer = WordpieceTokenizer.from_vocabulary_file(minilm_directory() / "vocab.txt",
                                                        sequence_length=SEQUENCE_LENGTH)
    texts = list(load_bbc_news().train[0])
    curves = {name: curve(name, texts, tokenizer, steps) for name in ("mlm", *ELECTRA_VARIANTS)}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    plot(curves, RESULTS_DIR / "electra_pretraining.png")
    return {"steps": steps, "sequence_length": SEQUENCE_LENGTH, "batch_size": BATCH_SIZE, "hidden_dim": HIDDEN,
            "num_layers": LAYERS, "peak_learning_rate": PEAK_LEARNING_RATE, "curves": curves}


if __name__ == "__main__":
    print(write_result("pretraining_curves", run(int(sys.argv[1]) if len(sys.argv) > 1 else 300)))
