"""See inside a model: one forward pass traced (`trace_translation`, `trace_gpt`,
`trace_bert`) and written as one offline HTML page (`write_page`).

    from tf_transformer.explain import trace_gpt, write_page
    write_page(trace_gpt(generator, "To be, or not"), "explain.html")
"""

from tf_transformer.explain.bert import trace_bert
from tf_transformer.explain.gpt import trace_gpt
from tf_transformer.explain.page import render, write_page
from tf_transformer.explain.translation import trace_translation

__all__ = ["render", "trace_bert", "trace_gpt", "trace_translation", "write_page"]
