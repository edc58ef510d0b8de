"""The old name of `zoo.embeddings` (embedding and verification helpers), kept as an alias.

``zoo.metric`` beside ``zoo.metrics`` (scores) read as a typo, so the module was renamed; this
file makes ``import zoo.metric`` and ``from zoo.metric import verify`` keep working: the name
is bound to the very same module object, so there is one `verify`, one `embed`, and patching
either name patches both.
"""

import sys
import warnings

from zoo import embeddings

warnings.warn("zoo.metric is now zoo.embeddings; the old name is an alias and may be removed "
              "in a later release.", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = embeddings
