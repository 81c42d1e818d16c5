"""AI annotation: pairwise judges (offline or an OpenAI-compatible LLM), their prompt, parser and answer cache.

Kept light on import: :mod:`jobmatch.annotate.openai_judge` (which imports ``openai``) is loaded only
by those who use it, e.g. through :func:`jobmatch.app.judge_builder.build_judge`.
"""

from jobmatch.data.judgement import Judge, Judgement

__all__ = ["Judge", "Judgement"]
