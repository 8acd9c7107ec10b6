"""The non-Transformer baselines of `bench_real_pairs_entities`, trained in the same run:
for MRPC the majority class and a bag of words, for CoNLL-2003 a bidirectional LSTM over
words and characters; `spec` is the task's corpus."""

import time

import keras


def scores(report):
    """The figures a benchmark table shows of a report: entity F1, precision, recall and F1
    per type, or accuracy and the positive class's F1."""
    if "entities" in report:
        entities = report["entities"]
        per_type = {kind: figures["f1"] for kind, figures in entities["per_type"].items()}
        return {key: entities[key] for key in ("f1", "precision", "recall")} | {
            "per_type": per_type
        }
    return {"accuracy": report["accuracy"], "f1": report["positive_f1"]}


def run_mrpc_baselines(spec):
    """The majority class and a bag of words of the two sentences (multi-hot of each and of
    their shared words, one sigmoid unit), as keras.io's text-classification baseline."""
    import numpy as np
    import tensorflow as tf

    from pipelines.corpora import load_corpus
    from pipelines.finetuning_reports import classification_report

    corpus = load_corpus(spec)
    truth = [label for _, label in corpus.validation]
    majority = max(corpus.labels, key=[label for _, label in corpus.train].count)
    results = {"majority": scores(_quiet(classification_report, truth, [majority] * len(truth)))}

    keras.utils.set_random_seed(0)
    vectorize = keras.layers.TextVectorization(max_tokens=20000, output_mode="multi_hot")
    vectorize.adapt(tf.constant(corpus.texts("train")))

    def features(examples):
        a = vectorize(tf.constant([first for (first, _), _ in examples]))
        b = vectorize(tf.constant([second for (_, second), _ in examples]))
        return tf.concat([a, b, a * b], axis=1).numpy()

    labels = np.array([int(label) for _, label in corpus.train], "float32")
    model = keras.Sequential([keras.Input((3 * vectorize.vocabulary_size(),))])
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    model.fit(features(corpus.train), labels, epochs=20, batch_size=32, verbose=0)
    guesses = model.predict(features(corpus.validation), verbose=0)[:, 0] > 0.5
    predicted = [str(int(g)) for g in guesses]
    results["bag_of_words"] = scores(_quiet(classification_report, truth, predicted))
    return results


def _quiet(report, truth, predicted):
    return report(truth, predicted, ("0", "1"), log=lambda line: None, split="validation")


def run_conll_baseline(spec, epochs=10):
    """A Keras tagger of a bidirectional LSTM over word embeddings (learned from the
    training text) and a character CNN of each word (Ma and Hovy 2016, without the CRF),
    softmax over the tags; batches padded to their own longest sentence."""
    import tensorflow as tf

    from pipelines.corpora import load_corpus
    from pipelines.finetuning_reports import entity_report
    from tf_transformer.serving.entities import best_sequences, iob_transitions

    corpus = load_corpus(spec)
    tags = list(corpus.labels)
    keras.utils.set_random_seed(0)
    words = keras.layers.StringLookup(max_tokens=30000, mask_token="")
    words.adapt(tf.constant([w for tokens, _ in corpus.train for w in tokens]))
    chars = keras.layers.StringLookup(max_tokens=200, mask_token="")
    chars.adapt(tf.constant([c for tokens, _ in corpus.train for w in tokens for c in w]))
    index = {tag: i for i, tag in enumerate(tags)}

    def dataset(examples, shuffle=False):
        tokens = tf.ragged.constant([list(t) for t, _ in examples])
        labels = tf.ragged.constant([[index[t] for t in row] for _, row in examples])
        data = tf.data.Dataset.from_tensor_slices((tokens, labels))
        data = data.shuffle(len(examples), seed=0) if shuffle else data

        def padded(tokens, labels):
            letters = tf.strings.unicode_split(tokens, "UTF-8")[:, :, :20]
            inputs = (words(tokens.to_tensor("")), chars(letters.to_tensor("")))
            real = tf.cast(tf.ones_like(labels).to_tensor(0), "float32")
            return inputs, labels.to_tensor(0), real

        return data.ragged_batch(32).map(padded).prefetch(tf.data.AUTOTUNE)

    word_ids = keras.Input((None,), dtype="int64")
    char_ids = keras.Input((None, None), dtype="int64")
    embedded = keras.layers.Embedding(words.vocabulary_size(), 100)(word_ids)
    letters = keras.layers.Embedding(chars.vocabulary_size(), 30)(char_ids)
    spelled = keras.layers.Conv2D(30, (1, 3), padding="same", activation="tanh")(letters)
    spelled = keras.ops.max(spelled, axis=2)  # over each word's characters
    hidden = keras.layers.Dropout(0.5)(keras.layers.Concatenate()([embedded, spelled]))
    hidden = keras.layers.Bidirectional(keras.layers.LSTM(100, return_sequences=True))(hidden)
    output = keras.layers.Dense(len(tags), activation="softmax")(keras.layers.Dropout(0.5)(hidden))
    model = keras.Model([word_ids, char_ids], output)
    model.compile("adam", "sparse_categorical_crossentropy")

    start = time.perf_counter()
    model.fit(dataset(corpus.train, shuffle=True), epochs=epochs, verbose=2)
    minutes = (time.perf_counter() - start) / 60
    rule = iob_transitions(tags)  # read as our tagger reads: the IOB rule, and without it
    predicted, free = [], []
    for inputs, _, real in dataset(corpus.validation):
        probabilities = model.predict_on_batch(inputs)
        lengths = real.numpy().sum(axis=1).astype(int)
        ragged = tf.RaggedTensor.from_tensor(probabilities, lengths=lengths)
        predicted += [[tags[i] for i in row] for row in best_sequences(ragged, *rule).to_list()]
        alone = ragged.with_flat_values(tf.argmax(ragged.flat_values, axis=-1))
        free += [[tags[i] for i in row] for row in alone.to_list()]
    truth = [list(labels) for _, labels in corpus.validation]
    found = scores({"entities": entity_report(truth, predicted, split="validation")})
    found["f1_no_rule"] = entity_report(truth, free, log=lambda *_: None)["f1"]
    return {"bilstm": found, "minutes": minutes, "epochs": epochs}
