"""Export to SavedModel for TensorFlow Serving, and the check that it loads there."""
