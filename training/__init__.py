"""Everything that turns data into weights: data readers, augmentation, train / evaluate CLIs.

This package may import TensorFlow (tf.data); the `zoo` library never imports it.
"""
