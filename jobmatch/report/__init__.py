"""Tables and figures from the ``results.json`` and ``lineage.json`` files that runs write."""
