"""Static checks that stand in for platform behaviour the embedded stack cannot reproduce.

Each module names the behaviour of a real Supabase project it guards against, and why the embedded
stack cannot simply load it.
"""
