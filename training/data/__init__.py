"""Readers for real dataset formats; each returns NumPy arrays or a tf.data pipeline."""
