"""Gradio demos, one module per task, combined into one tabbed app (see the README).

The demo tabs arrive with the demos issue; this package exists so the layout is in place.
"""
