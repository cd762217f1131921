"""Batch generation of emotional speech datasets (``emosynth batch RECIPE --out DIR``).

:func:`load_recipe` reads and checks a YAML recipe, :func:`plan_items` expands it into clips and
:func:`run_batch` makes (or finishes making) them on local processes or a Ray cluster.
"""

from .plan import BatchItem, plan_items
from .recipe import OutputSpec, QualityGate, Recipe, load_recipe, parse_recipe
from .run import ENGINES, METADATA_COLUMNS, BatchResult, run_batch

__all__ = ["BatchItem", "BatchResult", "ENGINES", "METADATA_COLUMNS", "OutputSpec", "QualityGate", "Recipe",
           "load_recipe", "parse_recipe", "plan_items", "run_batch"]
