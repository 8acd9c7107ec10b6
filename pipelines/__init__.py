"""Data in, SavedModel out: one module per task (corpora, tf.data, recipes)."""
