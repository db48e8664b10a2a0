"""For tests that run a fit in a fresh process: a script prelude that records which functions numba compiles.

numba's "numba:compile" event fires only when a function is compiled, not when it is loaded from a cache, so
the `compiled` list the prelude fills ("module.qualname" per compile) says what a cold process had to build.
"""

RECORD_COMPILES = r'''
from numba.core import event
compiled = []
class Listener(event.Listener):
    def on_start(self, ev):
        d = ev.data["dispatcher"]
        compiled.append(f"{d.py_func.__module__.rsplit('.', 1)[-1]}.{d.py_func.__qualname__}")
    def on_end(self, ev):
        pass
event.register("numba:compile", Listener())
'''
