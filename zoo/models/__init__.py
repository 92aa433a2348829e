"""The model library: Keras layers and model builders, in-graph tokenizers, training objectives, decoding and
Hugging Face checkpoint converters, by domain (``text``, ``vision``, ``clustering``, ``hf``).

Recipes compose it with the framework (the rest of ``zoo``). It never imports the export, serving, registry or
command-line modules (tests/test_import_rules.py): a piece here is usable in any Keras program.
"""
