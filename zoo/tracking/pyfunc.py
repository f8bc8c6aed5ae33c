"""Legacy import path: models registered before the pyfunc moved to `zoo.registry` run
`from zoo.tracking.pyfunc import ZooTextModel` from their stored code file."""

from zoo.registry.pyfunc import ZooTextModel

__all__ = ["ZooTextModel"]
