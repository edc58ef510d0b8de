"""Gradients for the loss tests on whichever backend runs them."""

import keras
import numpy as np


def value_and_grad(fn, x):
    """``fn(x)`` and its gradient on the active backend (TensorFlow, JAX or PyTorch)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.value_and_grad(fn)(x)
    if backend == "torch":
        import torch

        x = torch.tensor(np.asarray(x), requires_grad=True)
        value = fn(x)
        value.backward()
        return value.detach().cpu().numpy(), x.grad.cpu().numpy()
    import tensorflow as tf

    x = tf.Variable(x)
    with tf.GradientTape() as tape:
        value = fn(x)
    return value, tape.gradient(value, x)
