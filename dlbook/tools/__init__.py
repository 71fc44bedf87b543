"""Tools that maintain the book (not used by the chapters themselves).

- ``python -m dlbook.tools.setup_cell`` — write the setup cell into every chapter
- ``python -m dlbook.tools.run``        — execute chapters in place, top to bottom
- ``python -m dlbook.tools.benchmark``  — measure each chapter's runtime and peak memory
- ``python -m dlbook.tools.site``       — build the website (warnings are errors)
"""
