"""Gradients for the loss tests on whichever backend runs them."""

import keras


def value_and_grad(fn, x):
    """``fn(x)`` and its gradient on the active backend (TensorFlow or JAX)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.value_and_grad(fn)(x)
    import tensorflow as tf

    x = tf.Variable(x)
    with tf.GradientTape() as tape:
        value = fn(x)
    return value, tape.gradient(value, x)
