"""A functional model that takes only some input sizes, says so on every call, and can pad.

U-Net, FCN and SegNet are built for ``(None, None, C)`` inputs, but their strides (or, for
U-Net without padding, the paper's tiling arithmetic) allow only some heights and widths. The
`zoo.layers.checks.InputSizeCheck` layer after the input raises a ``ValueError`` naming the
nearest valid sizes whenever the size is known as it is called. That is not always the case
on TensorFlow: Keras traces ``predict`` once per input shape and, from the second shape on,
with the sizes relaxed to ``None`` (``tf.function(reduce_retracing=True)``), so a 500x500
image after a 512x512 one ran through a U-Net and came back 496x496, silently. This class
closes that hole:

- ``predict``, ``evaluate``, ``fit`` and the ``*_on_batch`` methods check the sizes of the
  arrays (or of a ``tf.data.Dataset``'s element spec) before anything runs;
- a size that only shows when the graph runs (a dataset of varying sizes) fails the layer's
  in-graph assertion, which is raised here as the same ``ValueError``;
- ``predict(x, pad=True)`` pads each image to the nearest valid size (mirroring the border,
  as the U-Net paper's overlap-tile strategy does) and crops the output back, so the map has
  the input's height and width, whatever they are.

segmentation_models_pytorch raises the same error from ``check_input_shape``; its users pad by
hand. The class is registered for ``.keras`` files, so a reloaded model keeps all of this.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from typing import Any

import keras
import numpy as np

from zoo.layers.checks import SIZE_ERROR_MARK, InputSizeCheck

PAD_MODES = ("reflect", "symmetric", "edge", "constant")
_FIT_ARGS = inspect.signature(keras.Model.fit).parameters
_EVALUATE_ARGS = inspect.signature(keras.Model.evaluate).parameters


def _first_input(data: Any) -> Any:
    """The image part of what Keras accepts as ``x``: an array, a tuple ``(x, y)``, a dict."""
    if isinstance(data, dict):
        return next(iter(data.values()), None)
    if isinstance(data, (tuple, list)) and data:
        return _first_input(data[0])
    return data


def _known_shape(data: Any) -> tuple | None:
    """The batch shape of ``x`` when it is known without running anything, else None."""
    element_spec = getattr(data, "element_spec", None)  # a tf.data.Dataset
    if element_spec is not None:
        spec = _first_input(element_spec)
        shape = getattr(spec, "shape", None)
        return None if shape is None or shape.rank is None else tuple(shape)
    data = _first_input(data)
    shape = getattr(data, "shape", None)
    if shape is None or isinstance(data, (str, bytes)):
        return None
    try:
        return tuple(None if s is None else int(s) for s in shape)
    except TypeError:
        return None


@keras.saving.register_keras_serializable(package="zoo")
class SizeCheckedModel(keras.Model):
    """A functional ``keras.Model`` whose first `InputSizeCheck` layer guards every call.

    Build it as a functional model: ``SizeCheckedModel(inputs, outputs, name=...)``.

    Example:
        >>> model = zoo.build("unet", filters=4, depth=2)           # sides divisible by 4
        >>> model.predict(np.zeros((1, 30, 30, 1)))                 # doctest: +SKIP
        ValueError: unet: input height must be divisible by 4. Received an image of 30x30; ...
        >>> model.predict(np.zeros((1, 30, 30, 1)), pad=True).shape  # doctest: +SKIP
        (1, 30, 30, 2)
    """

    @property
    def size_check(self) -> InputSizeCheck:
        """The model's `InputSizeCheck` layer (the first one, right after the input)."""
        for layer in self._flatten_layers(include_self=False, recursive=True):
            if isinstance(layer, InputSizeCheck):
                return layer
        raise ValueError(f"{self.name} has no InputSizeCheck layer; build size-checked models "
                         f"with zoo.models.common.dense_input.")

    def check_input_size(self, data: Any) -> None:
        """Raises the size ``ValueError`` for ``x`` (arrays or a dataset) when its sizes are
        known before running; a no-op otherwise (the graph then checks)."""
        shape = _known_shape(data)
        if shape is not None and len(shape) == 4:
            self.size_check.check(shape)
            channels = self.input_shape[-1] if isinstance(self.input_shape, tuple) else None
            if isinstance(channels, int) and shape[-1] is not None and shape[-1] != channels:
                raise ValueError(f"{self.name} takes images with {channels} channel"
                                 f"{'s' if channels != 1 else ''}. Received a batch of shape "
                                 f"{shape} ({shape[-1]} channels).")

    def _guarded(self, data: Any) -> Any:
        """``x`` checked before it runs: its known sizes at once; sizes that show only per
        batch as each batch is made, outside the model: a generator's or a ``PyDataset``'s in
        Python, a ``tf.data.Dataset``'s (TensorFlow) by an assertion in its pipeline (one in
        the model's graph would vanish under XLA, which drops assertions)."""
        self.check_input_size(data)
        shape = _known_shape(data)
        if shape is not None and len(shape) == 4 and None not in shape[1:3]:
            return data
        check = self.size_check
        if getattr(data, "element_spec", None) is not None:
            if keras.backend.backend() != "tensorflow":
                return data  # JAX and PyTorch call the layer with every batch's real sizes
            return data.map(lambda *batch: _assert_batch(check, batch))
        if isinstance(data, keras.utils.PyDataset):
            return _CheckedPyDataset(data, check)
        if inspect.isgenerator(data):
            return (_check_batch(check, batch) for batch in data)
        return data

    @contextlib.contextmanager
    def _graph_size_errors(self):
        """Turns a failed in-graph size assertion (TensorFlow) into the layer's ValueError,
        and leaves the model usable after any error (see `_restore_purged`)."""
        snapshot = [v.value for v in self.variables] if keras.backend.backend() == "jax" \
            else None
        try:
            yield
        except Exception as error:  # tf.errors.InvalidArgumentError; no TF import on JAX
            if snapshot is not None:
                self._restore_purged(snapshot)
            text = str(error)
            if SIZE_ERROR_MARK not in text:
                raise
            numbers = re.findall(r"\[(\d+)\]", text.split(SIZE_ERROR_MARK, 1)[1])
            height, width = (int(numbers[0]), int(numbers[1])) if len(numbers) >= 2 \
                else (None, None)
            message = self.size_check.message(height, width) or (
                f"{self.name}: an input size failed the model's size check ({text[:200]}).")
            raise ValueError(message) from None

    def _restore_purged(self, snapshot: list) -> None:
        """JAX only: Keras' JAX ``predict`` and ``evaluate`` move the variables' values into
        their loop state ("purge" them) and put them back only when the loop ends, so an error
        raised by a batch (a size that shows only then, a corrupt batch) left every variable
        empty, and the next call failed with "'NoneType' object is not callable". The loop's
        last state goes back, as Keras does when the loop ends; where no batch ran, the values
        from before the call (not yet donated to a compiled step: the error came first)."""
        if getattr(self, "_jax_state", None) and not getattr(self, "_jax_state_synced", True):
            self.jax_state_sync()
        self._jax_state = None
        for variable, value in zip(self.variables, snapshot):
            if getattr(variable, "_value", 0) is None and not value.is_deleted():
                variable.assign(value)

    # --- the Keras entry points, checked -----------------------------------------------------

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None,
                pad: bool | str = False):
        """``keras.Model.predict``, with the size checked first, and optional padding.

        Args:
            x, batch_size, verbose, steps, callbacks: as ``keras.Model.predict``.
            pad: ``False`` (default): an invalid size raises a ``ValueError`` naming the
                nearest valid sizes. ``True`` (or a NumPy pad mode: ``"reflect"``, the
                default for True, ``"symmetric"``, ``"edge"``, ``"constant"``): pad each
                image to the nearest size the network takes and whose output covers the
                image, predict, and crop the output back to the input's height and width.
                ``x`` must then be an array ``(batch, height, width, channels)``.

        Returns:
            As ``keras.Model.predict``; with ``pad``, maps of the input's height and width.
        """
        if pad:
            return self._predict_padded(x, pad, batch_size=batch_size, verbose=verbose,
                                        steps=steps, callbacks=callbacks)
        x = self._guarded(x)
        with self._graph_size_errors():
            return super().predict(x, batch_size=batch_size, verbose=verbose, steps=steps,
                                   callbacks=callbacks)

    def evaluate(self, *args, **kwargs):
        """``keras.Model.evaluate``, with the size of ``x`` checked first."""
        args, kwargs = _replace(args, kwargs, "x", _EVALUATE_ARGS, self._guarded)
        with self._graph_size_errors():
            return super().evaluate(*args, **kwargs)

    def fit(self, *args, **kwargs):
        """``keras.Model.fit``, with the sizes of ``x`` and ``validation_data`` checked first."""
        args, kwargs = _replace(args, kwargs, "x", _FIT_ARGS, self._guarded)
        args, kwargs = _replace(args, kwargs, "validation_data", _FIT_ARGS, self._guarded)
        with self._graph_size_errors():
            return super().fit(*args, **kwargs)

    def predict_on_batch(self, x):
        self.check_input_size(x)
        with self._graph_size_errors():
            return super().predict_on_batch(x)

    def test_on_batch(self, x, *args, **kwargs):
        self.check_input_size(x)
        with self._graph_size_errors():
            return super().test_on_batch(x, *args, **kwargs)

    def train_on_batch(self, x, *args, **kwargs):
        self.check_input_size(x)
        with self._graph_size_errors():
            return super().train_on_batch(x, *args, **kwargs)

    # --- padding -----------------------------------------------------------------------------

    def _predict_padded(self, x, pad, **predict_args):
        mode = "reflect" if pad is True else pad
        if mode not in PAD_MODES:
            raise ValueError(f"`pad` must be True, False or one of {PAD_MODES}. "
                             f"Received: pad={pad!r}")
        if getattr(x, "element_spec", None) is not None or not hasattr(x, "shape") \
                and not isinstance(x, (list, tuple)):
            raise ValueError(f"predict(x, pad=...) needs x as an array (batch, height, width, "
                             f"channels); pad the images of a dataset in its pipeline. "
                             f"Received: {type(x).__name__}")
        if isinstance(x, (list, tuple)) and len({np.shape(image) for image in x}) > 1:
            raise ValueError("predict(x, pad=...) takes one array whose images share a size; "
                             "for images of different sizes, call it once per image. Received "
                             f"images of shapes {sorted({np.shape(i) for i in x})[:4]}.")
        x = np.asarray(keras.ops.convert_to_numpy(x) if not isinstance(x, np.ndarray) else x)
        if x.ndim != 4:
            raise ValueError(f"predict(x, pad=...) needs x of shape (batch, height, width, "
                             f"channels). Received: shape={x.shape}")
        check = self.size_check
        sides = x.shape[1:3]
        padded = [check.padded_size(side) for side in sides]
        outputs = [check.output_size(side) for side in padded]
        # the output is centred on the padded input (offset: half of what it loses), so the
        # image starts `offset + (output - side) // 2` pixels into the padded one
        offsets = [(p - o) // 2 for p, o in zip(padded, outputs)]
        before = [off + (o - side) // 2 for off, o, side in zip(offsets, outputs, sides)]
        widths = [(0, 0)] + [(b, p - side - b) for b, p, side in zip(before, padded, sides)] \
            + [(0, 0)]
        extra = {"constant_values": 0} if mode == "constant" else {}
        result = self.predict(np.pad(x, widths, mode=mode, **extra), **predict_args)
        if not isinstance(result, np.ndarray) or result.ndim != 4 \
                or tuple(result.shape[1:3]) != tuple(outputs):
            raise ValueError(f"{self.name}: pad=True needs one output map the size of its "
                             f"input; this model returned "
                             f"{getattr(result, 'shape', type(result).__name__)}.")
        top, left = ((o - side) // 2 for o, side in zip(outputs, sides))
        return result[:, top:top + sides[0], left:left + sides[1]]


def _replace(args: tuple, kwargs: dict, name: str, parameters, change) -> tuple[tuple, dict]:
    """``(args, kwargs)`` of a call ``method(*args, **kwargs)`` with argument ``name`` changed
    by ``change`` (a bound Keras method: ``parameters`` without ``self``)."""
    if name in kwargs:
        return args, {**kwargs, name: change(kwargs[name])}
    index = [p for p in parameters if p != "self"].index(name)
    if index < len(args):
        return (*args[:index], change(args[index]), *args[index + 1:]), kwargs
    return args, kwargs


def _check_batch(check: InputSizeCheck, batch: Any) -> Any:
    """Checks one batch's image sizes in Python; returns the batch unchanged."""
    shape = _known_shape(batch)
    if shape is not None and len(shape) == 4:
        check.check(shape)
    return batch


def _assert_batch(check: InputSizeCheck, batch: tuple) -> Any:
    """A ``tf.data`` map function: the images of a batch (``x`` or ``(x, y, ...)``) pass
    through the layer's in-graph assertion."""
    images, rest = batch[0], batch[1:]
    if getattr(images, "shape", None) is not None and len(images.shape) == 4:
        images = check._graph_check(images)
    return (images, *rest) if rest else images


class _CheckedPyDataset(keras.utils.PyDataset):
    """A ``PyDataset`` whose batches have their image sizes checked as they are made."""

    def __init__(self, inner: keras.utils.PyDataset, check: InputSizeCheck):
        super().__init__(workers=inner.workers, use_multiprocessing=inner.use_multiprocessing,
                         max_queue_size=inner.max_queue_size)
        self.inner, self.check = inner, check

    @property
    def num_batches(self):
        return self.inner.num_batches

    def __getitem__(self, index):
        return _check_batch(self.check, self.inner[index])

    def on_epoch_begin(self):
        self.inner.on_epoch_begin()

    def on_epoch_end(self):
        self.inner.on_epoch_end()
