"""External values: an HTTP JSON endpoint (`inputs.http`), a constant, a CSV replay.

Inputs know no rules and no engine: they return canonical numbers with their time. This
module does not import `inputs.http` (and so httpx): the replay does not need it.
"""

from evse_rules.inputs.base import Input, InputError, Reading
from evse_rules.inputs.constant import ConstantInput

__all__ = ["ConstantInput", "Input", "InputError", "Reading"]
