"""The stage-2 loss variants, by ``loss_type``: each declares itself once, beside its loss function.

A variant is a name, a pure loss function, its kind, the stage options it rules out or needs and, optionally, a
dataclass of its own options (declared with :func:`jobmatch.utils.option_rules.option`; passed to the loss as
keyword arguments, checked and documented with the stage's)::

    @register_loss("ipo", kind="pairwise", rules_out=("label_smoothing", "soft_labels"))
    def ipo_loss(chosen, rejected, ref_chosen=None, ref_rejected=None, *, beta, temperature, gamma_beta_ratio):
        ...

The two kinds differ in what the loss is given and what it returns (``RankPOModule.rankpo_term`` calls it):

- ``pairwise``: ``loss(chosen, rejected, ref_chosen, ref_rejected, *, beta, temperature, gamma_beta_ratio,
  [label_smoothing]) -> [B]`` per pair; ``label_smoothing`` (a float ε or [B] per-pair ε) is passed only to a
  variant that does not rule it out.
- ``listwise``: ``loss(chosen, rejected, ref_chosen, ref_rejected, *, query_index, chosen_index, rejected_index,
  beta, temperature, gamma_beta_ratio) -> [T]`` per list term (T may be 0); it rules out ``label_smoothing``
  and ``soft_labels`` (per-pair ε), whether declared or not.

``chosen``, ``rejected`` are the [B] policy similarities, ``ref_*`` the [B] reference ones or both None.
A variant is known once the module that registers it is imported: the built-in ones by ``jobmatch.losses``,
any other by naming its module in the stage preset (``stage.loss_module``), which the application imports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from jobmatch.errors import OptionError

LossFn = TypeVar("LossFn", bound=Callable[..., torch.Tensor])

KINDS: tuple[str, ...] = ("pairwise", "listwise")
# The stage options a variant may rule out (they must keep this neutral value) or need (they must not).
NEUTRAL: dict[str, Any] = {"label_smoothing": 0.0, "soft_labels": "none", "reference": "none",
                           "gamma_beta_ratio": 0.0}


@dataclass(frozen=True)
class LossVariant:
    """One ``stage.loss_type``: its loss function, kind (``pairwise`` | ``listwise``) and option constraints."""

    name: str
    loss: Callable[..., torch.Tensor]
    kind: str
    rules_out: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    options: type | None = None

    def option_names(self) -> tuple[str, ...]:
        """The names of the variant's own options (its ``options`` dataclass's fields)."""
        return tuple(f.name for f in dataclasses.fields(self.options)) if self.options is not None else ()

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        """One problem per option of ``options`` (the loss options) that this variant rules out or needs, as
        :class:`~jobmatch.errors.OptionError` templates (``{name}`` stands for an argument)."""
        problems = []
        for key in self.rules_out:
            value = options.get(key, NEUTRAL[key])
            if value != NEUTRAL[key] and not (isinstance(value, int | float) and float(value) == 0):
                takers = [v.name for v in _VARIANTS.values() if key not in v.rules_out]
                fix = f" or {{loss_type}}={takers[0]}" if takers else ""
                problems.append(f"{{{key}}}={value}: applies to the {_listed(takers)} only, but {{loss_type}}="
                                f"{self.name}; set {{{key}}}={_shown(NEUTRAL[key])}{fix}")
        for key in self.needs:
            if options.get(key, NEUTRAL[key]) == NEUTRAL[key]:
                problems.append(f"{{{key}}}={_shown(NEUTRAL[key])}: {{loss_type}}={self.name} needs it; "
                                f"set {{{key}}} to another value")
        return problems


_VARIANTS: dict[str, LossVariant] = {}


def _listed(names: list[str]) -> str:
    """``the sigmoid loss``-style wording: ``sigmoid loss``, ``sigmoid and hinge losses``, ``no loss``."""
    if len(names) <= 1:
        return f"{names[0] if names else 'no'} loss"
    return f"{', '.join(names[:-1])} and {names[-1]} losses"


def _shown(value: Any) -> str:
    return "0" if value == 0 and not isinstance(value, bool) else str(value)


def register_loss(
    name: str, loss: LossFn | None = None, *, kind: str, rules_out: tuple[str, ...] = (), needs: tuple[str, ...] = (),
    options: type | None = None,
) -> Any:
    """Declare the loss variant ``stage.loss_type=name``; without ``loss``, a decorator that registers the function.

    Re-registering a name with a function of the same module and name (a module imported again) replaces it;
    another function under a taken name is an error.

    Raises:
        ValueError: an unknown kind, an option outside :data:`NEUTRAL`, or a name taken by another function.
    """
    if loss is None:
        def decorate(fn: LossFn) -> LossFn:
            register_loss(name, fn, kind=kind, rules_out=rules_out, needs=needs, options=options)
            return fn
        return decorate
    if kind not in KINDS:
        raise ValueError(f"loss variant '{name}': kind='{kind}' is not one of {KINDS}")
    unknown = [key for key in (*rules_out, *needs) if key not in NEUTRAL]
    if unknown:
        raise ValueError(f"loss variant '{name}': options {unknown} are not among {tuple(NEUTRAL)}")
    if kind == "listwise":
        rules_out = (*rules_out, *(key for key in ("label_smoothing", "soft_labels") if key not in rules_out))
    old = _VARIANTS.get(name)
    if old is not None and _origin(old.loss) != _origin(loss):
        raise ValueError(f"loss variant '{name}' is already registered by {_origin(old.loss)}")
    if options is not None and not dataclasses.is_dataclass(options):
        raise ValueError(f"loss variant '{name}': options must be a dataclass of its own options")
    _VARIANTS[name] = LossVariant(name, loss, kind, tuple(rules_out), tuple(needs), options)
    return loss


def _origin(fn: Callable[..., Any]) -> str:
    inner = getattr(fn, "func", fn)  # a functools.partial names its function
    return f"{getattr(inner, '__module__', '?')}.{getattr(inner, '__qualname__', repr(inner))}"


def loss_types() -> tuple[str, ...]:
    """The registered ``stage.loss_type`` names, in registration order."""
    return tuple(_VARIANTS)


def loss_variant(name: str) -> LossVariant:
    """The registered variant ``name``.

    Raises:
        OptionError: ``name`` is not registered (the message lists those that are).
    """
    if name not in _VARIANTS:
        raise OptionError(f"{{loss_type}}={name}: unknown loss type; use one of {', '.join(_VARIANTS)}, or name "
                          "the module that registers it in {loss_module}")
    return _VARIANTS[name]
