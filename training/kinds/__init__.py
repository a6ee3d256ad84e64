"""Run kinds: one module per kind declares everything about it (see base.KindSpec);
:mod:`training.kinds.registry` maps a kind's name to its spec."""
